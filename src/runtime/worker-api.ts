// The worker side of the gateway API (docs/protocol.md, "Worker API"). Workers dial the
// gateway; the gateway never dials them.
import { HttpClient, jsonBody } from "../client/http.ts";
import type { Heartbeat as HeartbeatCore, LeasedTask, ResultAck } from "../protocol/index.ts";
import type { SetupReport } from "./setup-watch.ts";
import type { WorkerTokenProvider } from "./worker-token.ts";

export interface Heartbeat extends HeartbeatCore {
  /** What setup() is doing / took (docs/protocol.md): progress, start, last duration. */
  setup?: SetupReport | undefined;
}

/** A call the gateway answered with a status other than 2xx. */
export class WorkerApiError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

function errorMessage(body: unknown, status: number): string {
  if (typeof body === "object" && body !== null) {
    const e = (body as Record<string, unknown>)["error"];
    if (typeof e === "object" && e !== null && typeof (e as Record<string, unknown>)["message"] === "string") {
      return `${String((e as Record<string, unknown>)["type"])}: ${String((e as Record<string, unknown>)["message"])}`;
    }
  }
  return `HTTP ${status}`;
}

export function parseAcks(v: unknown): ResultAck[] {
  if (!Array.isArray(v)) return [];
  const out: ResultAck[] = [];
  for (const r of v) {
    if (typeof r !== "object" || r === null) continue;
    const { id, status, message } = r as Record<string, unknown>;
    if (typeof id !== "string" || typeof status !== "number") continue;
    out.push(typeof message === "string" ? { id, status, message } : { id, status });
  }
  return out;
}

export function parseTask(v: unknown): LeasedTask | undefined {
  if (typeof v !== "object" || v === null) return undefined;
  const t = v as Record<string, unknown>;
  const { id, attempt, leaseId, timeoutSeconds, deadline } = t;
  if (typeof id !== "string" || typeof attempt !== "number" || typeof leaseId !== "string" || typeof timeoutSeconds !== "number" || typeof deadline !== "number") {
    return undefined;
  }
  const out: LeasedTask = { id, attempt, leaseId, input: t["input"] ?? null, timeoutSeconds, deadline };
  if (typeof t["token"] === "string") out.token = t["token"];
  if (t["fold"] === true) out.fold = true;
  return out;
}

export class WorkerApi {
  private readonly http: HttpClient;
  private readonly token: WorkerTokenProvider;
  private readonly fn: string;
  private readonly workerId: string;

  /** `token`: a fixed token, or a provider that re-reads a rotating token file (worker-token.ts). */
  constructor(gatewayUrl: string, token: string | WorkerTokenProvider | undefined, fn: string, workerId: string) {
    this.http = new HttpClient(gatewayUrl, { maxSockets: 16 });
    this.token = typeof token === "function" ? token : () => token;
    this.fn = fn;
    this.workerId = workerId;
  }

  private send(path: string, body: string, token: string | undefined, signal: AbortSignal | undefined, timeoutMs: number): ReturnType<HttpClient["request"]> {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (token !== undefined && token !== "") headers["authorization"] = `Bearer ${token}`;
    return this.http.request({ method: "POST", path, body, headers, signal, timeoutMs });
  }

  private async post(path: string, body: string, signal?: AbortSignal, timeoutMs = 30_000): Promise<{ status: number; body: unknown }> {
    const token = this.token(false);
    let res = await this.send(path, body, token, signal, timeoutMs);
    if (res.status === 401) {
      // The kubelet may have rotated the token file since it was read: once more with a fresh read.
      const fresh = this.token(true);
      if (fresh !== token) res = await this.send(path, body, fresh, signal, timeoutMs);
    }
    const parsed = jsonBody(res);
    if (res.status >= 300) throw new WorkerApiError(res.status, errorMessage(parsed, res.status));
    return { status: res.status, body: parsed };
  }

  /** Long-polls for up to `max` tasks; `results` (resultItem() texts) ride along and are answered in `acks`. */
  async lease(max: number, waitMs: number, signal?: AbortSignal, results: readonly string[] = []): Promise<{ tasks: LeasedTask[]; acks: ResultAck[] }> {
    // `fold`: this runtime folds workflow reducer batches (docs/protocol.md).
    const head = `{"function":${JSON.stringify(this.fn)},"workerId":${JSON.stringify(this.workerId)},"max":${max},"waitMs":${waitMs},"ready":true,"fold":true`;
    const body = results.length === 0 ? `${head}}` : `${head},"results":[${results.join(",")}]}`;
    const res = await this.post("/v1/workers/lease", body, signal, waitMs + 30_000);
    const doc = typeof res.body === "object" && res.body !== null ? (res.body as Record<string, unknown>) : {};
    const tasks = doc["tasks"];
    if (!Array.isArray(tasks)) throw new WorkerApiError(res.status, "lease answer has no tasks list");
    const out: LeasedTask[] = [];
    for (const t of tasks) {
      const task = parseTask(t);
      if (task !== undefined) out.push(task);
    }
    return { tasks: out, acks: parseAcks(doc["results"]) };
  }

  /** Returns the ids of tasks the gateway wants cancelled. */
  async heartbeat(hb: Heartbeat): Promise<string[]> {
    return (await this.heartbeatAnswer(hb)).cancel;
  }

  /** The heartbeat with the whole answer: tasks to cancel, and whether the gateway knows this Function's signature. */
  async heartbeatAnswer(hb: Heartbeat): Promise<{ cancel: string[]; signatureKnown: boolean }> {
    const res = await this.post("/v1/workers/heartbeat", JSON.stringify({ function: this.fn, workerId: this.workerId, ...hb }), undefined, 10_000);
    const body = typeof res.body === "object" && res.body !== null ? (res.body as Record<string, unknown>) : {};
    const cancel = body["cancel"];
    return { cancel: Array.isArray(cancel) ? cancel.filter((c): c is string => typeof c === "string") : [], signatureKnown: body["signatureKnown"] === true };
  }

  async progress(taskId: string, leaseId: string, value: number, message: string | undefined): Promise<void> {
    await this.post(`/v1/tasks/${encodeURIComponent(taskId)}/progress`, JSON.stringify({ leaseId, value, message }));
  }

  /** `outputJson` is JSON text already: spliced in, not re-encoded. */
  async complete(taskId: string, leaseId: string, outputJson: string): Promise<void> {
    await this.post(`/v1/tasks/${encodeURIComponent(taskId)}/complete`, `{"leaseId":${JSON.stringify(leaseId)},"output":${outputJson}}`);
  }

  /**
   * Several outcomes in one call. `items` are JSON texts from resultItem(); answers come back
   * per item (200, or 404/409/413 for that item).
   */
  async results(items: readonly string[]): Promise<ResultAck[]> {
    const body = `{"function":${JSON.stringify(this.fn)},"workerId":${JSON.stringify(this.workerId)},"results":[${items.join(",")}]}`;
    const res = await this.post("/v1/workers/results", body);
    const results = typeof res.body === "object" && res.body !== null ? (res.body as Record<string, unknown>)["results"] : undefined;
    if (!Array.isArray(results)) throw new WorkerApiError(res.status, "results answer has no results list");
    return parseAcks(results);
  }

  async fail(taskId: string, leaseId: string, type: string, exitCode: number | undefined, message: string): Promise<void> {
    await this.post(`/v1/tasks/${encodeURIComponent(taskId)}/fail`, JSON.stringify({ leaseId, type, exitCode, message }));
  }

  close(): void {
    this.http.close();
  }
}

/** One item of a results call; `outputJson` is spliced as is. */
export function resultItem(
  taskId: string,
  leaseId: string,
  outcome: { output: string } | { error: { type: string; exitCode: number | undefined; message: string } },
): string {
  const head = `{"id":${JSON.stringify(taskId)},"leaseId":${JSON.stringify(leaseId)},`;
  return "output" in outcome ? `${head}"output":${outcome.output}}` : `${head}"error":${JSON.stringify(outcome.error)}}`;
}
