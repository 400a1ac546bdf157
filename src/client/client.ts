// The TypeScript client SDK:
//   const hearth = createClient({ url, token });
//   const out = await hearth.function("ns/name").run(input);
//   const task = await hearth.function("ns/name").push(input);
//   for await (const p of task.progress()) …;  await task.result();  await task.cancel();
// Failed tasks throw HearthError carrying the task's exit-code class (`type`, `exitCode`).
import type { IncomingMessage } from "node:http";
import { HttpClient, jsonBody, type HttpResponse } from "./http.ts";
import {
  exitCodeOf,
  isErrorType,
  isTaskErrorType,
  isTerminal,
  parseFunctionRef,
  PICKLE_CONTENT_TYPE,
  type ErrorType,
  type FunctionStats,
  type RetryPolicy,
  type TaskDocument,
  type TaskProgress,
} from "../protocol/index.ts";

export interface ClientOptions {
  /** Gateway URL. Default $HEARTH_URL, then http://127.0.0.1:8080. */
  url?: string;
  /** Caller bearer token. Default $HEARTH_TOKEN. */
  token?: string;
  /** Concurrent connections to the gateway. Default 64. */
  maxSockets?: number;
}

export interface CallOptions {
  /** Give up waiting after this long (the task keeps running; the error carries its id). */
  timeoutMs?: number;
  /** Repeats with the same key return the same task instead of a new one. */
  idempotencyKey?: string;
  /** This task's per-attempt deadline, instead of the Function's timeoutSeconds. */
  timeoutSeconds?: number;
  /** This task's retry policy; fields not given keep the Function's. */
  retries?: Partial<RetryPolicy>;
  signal?: AbortSignal;
}

export type TaskEvent = { type: "progress"; progress: TaskProgress } | { type: "status"; task: TaskDocument } | { type: "done"; task: TaskDocument };

/** Any failure: request errors (BadRequest, NotFound, …) and failed tasks (UserError, Timeout, …). */
export class HearthError extends Error {
  readonly type: ErrorType;
  /** HTTP status, or 0 when the gateway could not be reached. */
  readonly status: number;
  readonly taskId: string | undefined;
  readonly attempt: number | undefined;
  /** The worker's exit code for task failures (1, 2, 65, 75, 124); undefined otherwise. */
  readonly exitCode: number | undefined;

  constructor(init: { type: ErrorType; message: string; status: number; taskId?: string | undefined; attempt?: number | undefined; cause?: unknown }) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = "HearthError";
    this.type = init.type;
    this.status = init.status;
    this.taskId = init.taskId;
    this.attempt = init.attempt;
    this.exitCode = isTaskErrorType(init.type) ? exitCodeOf(init.type) : undefined;
  }
}

function errorFrom(res: HttpResponse, fallbackTaskId?: string): HearthError {
  const body = jsonBody(res);
  const e = typeof body === "object" && body !== null ? (body as Record<string, unknown>)["error"] : undefined;
  if (typeof e === "object" && e !== null) {
    const r = e as Record<string, unknown>;
    const type: ErrorType = isErrorType(r["type"]) ? r["type"] : "Internal";
    return new HearthError({
      type,
      message: typeof r["message"] === "string" ? r["message"] : `HTTP ${res.status}`,
      status: res.status,
      taskId: typeof r["taskId"] === "string" ? r["taskId"] : fallbackTaskId,
      attempt: typeof r["attempt"] === "number" ? r["attempt"] : undefined,
    });
  }
  return new HearthError({ type: res.status === 404 ? "NotFound" : "Internal", message: `HTTP ${res.status}: ${res.body.toString("utf8").slice(0, 200)}`, status: res.status, taskId: fallbackTaskId });
}

function unreachable(err: unknown, url: URL): HearthError {
  if (err instanceof HearthError) return err;
  if (err instanceof Error && err.name === "AbortError") return new HearthError({ type: "Timeout", message: "aborted", status: 0, cause: err });
  return new HearthError({ type: "Unavailable", message: `cannot reach the gateway at ${url.origin}: ${err instanceof Error ? err.message : String(err)}`, status: 0, cause: err });
}

/** Seconds for the gateway's `?timeout=`/`?wait=`, capped per request so long waits become several polls. */
function waitParam(ms: number): string {
  return `${Math.max(0, Math.ceil(ms))}ms`;
}

const POLL_MS = 60_000;
const MAP_BATCH = 5000;

export class HearthClient {
  readonly http: HttpClient;

  constructor(opts: ClientOptions = {}) {
    const url = opts.url ?? process.env["HEARTH_URL"] ?? process.env["HEARTH_GATEWAY_URL"] ?? "http://127.0.0.1:8080";
    this.http = new HttpClient(url, { token: opts.token ?? process.env["HEARTH_TOKEN"], maxSockets: opts.maxSockets ?? 64 });
  }

  function(ref: string | { namespace: string; name: string }): RemoteFunction {
    const parsed = typeof ref === "string" ? parseFunctionRef(ref) : ref;
    if (parsed === undefined) throw new HearthError({ type: "BadRequest", message: `function must be "namespace/name", got ${JSON.stringify(ref)}`, status: 0 });
    return new RemoteFunction(this, parsed.namespace, parsed.name);
  }

  task(id: string): TaskHandle {
    return new TaskHandle(this, id);
  }

  /** A Workflow: `run`/`push` like a function; `push` gives a RunHandle with `.step(name)`. */
  workflow(ref: string | { namespace: string; name: string }): RemoteWorkflow {
    const parsed = typeof ref === "string" ? parseFunctionRef(ref) : ref;
    if (parsed === undefined) throw new HearthError({ type: "BadRequest", message: `workflow must be "namespace/name", got ${JSON.stringify(ref)}`, status: 0 });
    return new RemoteWorkflow(this, parsed.namespace, parsed.name);
  }

  /** GETs a caller route that answers JSON (`/v1/stats`, `/v1/setup`); a non-200 answer throws HearthError. */
  async getJson(path: string, opts: { signal?: AbortSignal } = {}): Promise<unknown> {
    const res = await this.call({ method: "GET", path, signal: opts.signal });
    if (res.status !== 200) throw errorFrom(res);
    return jsonBody(res);
  }

  /** Closes idle connections so the process can exit. */
  close(): void {
    this.http.close();
  }

  /** @internal */
  async call(opts: Parameters<HttpClient["request"]>[0]): Promise<HttpResponse> {
    try {
      return await this.http.request(opts);
    } catch (err) {
      throw unreachable(err, this.http.base);
    }
  }
}

export function createClient(opts: ClientOptions = {}): HearthClient {
  return new HearthClient(opts);
}

function encodeInput(input: unknown): { body: string | Buffer; contentType: string } {
  if (input instanceof Uint8Array) return { body: Buffer.from(input), contentType: PICKLE_CONTENT_TYPE };
  const text = JSON.stringify(input === undefined ? null : input);
  return { body: text, contentType: "application/json" };
}

function decodeOutput(res: HttpResponse): unknown {
  const type = res.headers["content-type"] ?? "";
  if (type.startsWith(PICKLE_CONTENT_TYPE)) return res.body;
  return res.body.length === 0 ? null : (JSON.parse(res.body.toString("utf8")) as unknown);
}

export class RemoteFunction {
  readonly namespace: string;
  readonly name: string;
  protected readonly client: HearthClient;

  constructor(client: HearthClient, namespace: string, name: string) {
    this.client = client;
    this.namespace = namespace;
    this.name = name;
  }

  protected path(action: string): string {
    return `/v1/namespaces/${encodeURIComponent(this.namespace)}/functions/${encodeURIComponent(this.name)}${action}`;
  }

  /**
   * Runs the function and returns its output (a Buffer for pickle functions). Blocks until the
   * task finishes however long it takes, unless `timeoutMs` says otherwise; a failed task
   * throws HearthError with the task's class.
   */
  async run(input: unknown, opts: CallOptions = {}): Promise<unknown> {
    const { body, contentType } = encodeInput(input);
    const started = Date.now();
    const first = Math.min(opts.timeoutMs ?? POLL_MS, POLL_MS);
    const headers: Record<string, string> = { "content-type": contentType };
    if (opts.idempotencyKey !== undefined) headers["idempotency-key"] = opts.idempotencyKey;
    const res = await this.client.call({ method: "POST", path: `${this.path(":run")}?timeout=${waitParam(first)}${taskParams(opts, "&")}`, body, headers, signal: opts.signal });
    if (res.status === 200) return decodeOutput(res);
    const err = errorFrom(res, headerOf(res, "hearth-task-id"));
    // 504 from the gateway's cap: the task is still going, so keep waiting on it.
    if (res.status === 504 && err.type === "Timeout" && err.attempt === undefined && err.taskId !== undefined) {
      const left = opts.timeoutMs === undefined ? undefined : opts.timeoutMs - (Date.now() - started);
      if (left === undefined || left > 0) {
        const more: CallOptions = left === undefined ? {} : { timeoutMs: left };
        if (opts.signal !== undefined) more.signal = opts.signal;
        return this.client.task(err.taskId).result(more);
      }
    }
    throw err;
  }

  /** Queues the function and returns a handle at once (the task is durable when this resolves). */
  async push(input: unknown, opts: Omit<CallOptions, "timeoutMs"> = {}): Promise<TaskHandle> {
    const { body, contentType } = encodeInput(input);
    const headers: Record<string, string> = { "content-type": contentType };
    if (opts.idempotencyKey !== undefined) headers["idempotency-key"] = opts.idempotencyKey;
    const res = await this.client.call({ method: "POST", path: `${this.path(":push")}${taskParams(opts, "?")}`, body, headers, signal: opts.signal });
    if (res.status !== 202 && res.status !== 200) throw errorFrom(res);
    const doc = jsonBody(res);
    const id = typeof doc === "object" && doc !== null ? (doc as Record<string, unknown>)["id"] : undefined;
    if (typeof id !== "string") throw new HearthError({ type: "Internal", message: "push answer has no task id", status: res.status });
    return new TaskHandle(this.client, id);
  }

  /**
   * Queues many JSON inputs in one request (`:pushMany`): for fan-out, far cheaper per task
   * than push() in a loop. Handles come back in input order, durable when this resolves.
   */
  async pushMany(inputs: readonly unknown[], opts: { signal?: AbortSignal } = {}): Promise<TaskHandle[]> {
    if (inputs.length === 0) return [];
    const body = JSON.stringify({ inputs: inputs.map((i) => (i === undefined ? null : i)) });
    const res = await this.client.call({ method: "POST", path: this.path(":pushMany"), body, headers: { "content-type": "application/json" }, signal: opts.signal });
    if (res.status !== 202) throw errorFrom(res);
    const doc = jsonBody(res);
    const ids = typeof doc === "object" && doc !== null ? (doc as Record<string, unknown>)["ids"] : undefined;
    if (!Array.isArray(ids) || ids.length !== inputs.length) throw new HearthError({ type: "Internal", message: "pushMany answer has no id list of the right length", status: res.status });
    return ids.map((id) => new TaskHandle(this.client, String(id)));
  }

  /**
   * Runs the function once per item: one batched push (`:pushMany`), then the results in input
   * order as they complete. A failed item throws its HearthError when reached, or is yielded as
   * the error with `returnExceptions: true`.
   */
  async *map(items: Iterable<unknown>, opts: { returnExceptions?: boolean; signal?: AbortSignal } = {}): AsyncGenerator<unknown> {
    const inputs = [...items];
    const handles: TaskHandle[] = [];
    for (let i = 0; i < inputs.length; i += MAP_BATCH) {
      handles.push(...(await this.pushMany(inputs.slice(i, i + MAP_BATCH), opts.signal === undefined ? {} : { signal: opts.signal })));
    }
    const waitOpts = opts.signal === undefined ? {} : { signal: opts.signal };
    // Every result is awaited at once (the connection pool bounds the polls); yielded in order.
    const results = handles.map((h) => h.result(waitOpts).then((value) => ({ ok: true as const, value }), (error: unknown) => ({ ok: false as const, error })));
    for (const r of results) r.catch(() => undefined);
    for (const pending of results) {
      const r = await pending;
      if (r.ok) yield r.value;
      else if (opts.returnExceptions === true) yield r.error;
      else throw r.error;
    }
  }

  async stats(): Promise<FunctionStats> {
    const res = await this.client.call({ method: "GET", path: this.path("/stats") });
    if (res.status !== 200) throw errorFrom(res);
    return jsonBody(res) as FunctionStats;
  }
}

function headerOf(res: HttpResponse, name: string): string | undefined {
  const v = res.headers[name];
  return typeof v === "string" ? v : undefined;
}

export class TaskHandle {
  readonly id: string;
  protected readonly client: HearthClient;

  constructor(client: HearthClient, id: string) {
    this.client = client;
    this.id = id;
  }

  protected path(suffix = ""): string {
    return `/v1/tasks/${encodeURIComponent(this.id)}${suffix}`;
  }

  /** The task document now. */
  async status(opts: { waitMs?: number; signal?: AbortSignal } = {}): Promise<TaskDocument> {
    const query = opts.waitMs === undefined ? "" : `?wait=${waitParam(opts.waitMs)}`;
    const res = await this.client.call({ method: "GET", path: this.path(query), signal: opts.signal });
    if (res.status !== 200) throw errorFrom(res, this.id);
    return jsonBody(res) as TaskDocument;
  }

  /** Waits for the task and returns its output, or throws HearthError with the task's class. */
  async result(opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<unknown> {
    const started = Date.now();
    for (;;) {
      const left = opts.timeoutMs === undefined ? POLL_MS : opts.timeoutMs - (Date.now() - started);
      const status: { waitMs: number; signal?: AbortSignal } = { waitMs: Math.min(POLL_MS, Math.max(0, left)) };
      if (opts.signal !== undefined) status.signal = opts.signal;
      const doc = await this.status(status);
      if (isTerminal(doc.status)) return outcomeOf(doc);
      if (opts.timeoutMs !== undefined && Date.now() - started >= opts.timeoutMs) {
        throw new HearthError({ type: "Timeout", message: `task ${this.id} is still ${doc.status} after ${opts.timeoutMs} ms`, status: 0, taskId: this.id });
      }
    }
  }

  async cancel(): Promise<TaskDocument> {
    const res = await this.client.call({ method: "DELETE", path: this.path() });
    if (res.status !== 200) throw errorFrom(res, this.id);
    return jsonBody(res) as TaskDocument;
  }

  /** Every event of the task (progress, status changes, done) until it finishes. */
  async *events(opts: { signal?: AbortSignal } = {}): AsyncGenerator<TaskEvent> {
    for await (const message of this.sseMessages(opts)) {
      const ev = taskEvent(message);
      if (ev !== undefined) yield ev;
    }
  }

  /** The raw server-sent events of `…/events` (any event name) until the `done` event. */
  protected async *sseMessages(opts: { signal?: AbortSignal }): AsyncGenerator<SseMessage> {
    let res: IncomingMessage;
    try {
      res = await this.client.http.open({ method: "GET", path: this.path("/events"), headers: { accept: "text/event-stream" }, signal: opts.signal });
    } catch (err) {
      throw unreachable(err, this.client.http.base);
    }
    if (res.statusCode !== 200) {
      const chunks: Buffer[] = [];
      for await (const c of res) chunks.push(c as Buffer);
      throw errorFrom({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }, this.id);
    }
    res.setEncoding("utf8");
    let buffer = "";
    try {
      for await (const chunk of res) {
        buffer += chunk as string;
        let end: number;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const message = parseSse(block);
          if (message === undefined) continue;
          yield message;
          if (message.event === "done") return;
        }
      }
    } finally {
      res.destroy();
    }
  }

  /** Progress updates as they happen; ends when the task finishes. */
  async *progress(opts: { signal?: AbortSignal } = {}): AsyncGenerator<TaskProgress> {
    for await (const ev of this.events(opts)) if (ev.type === "progress") yield ev.progress;
  }
}

interface SseMessage {
  event: string;
  data: unknown;
}

function parseSse(block: string): SseMessage | undefined {
  let event = "message";
  const data: string[] = [];
  for (const line of block.split("\n")) {
    if (line.startsWith(":")) continue;
    if (line.startsWith("event:")) event = line.slice(6).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
  }
  if (data.length === 0) return undefined;
  return { event, data: JSON.parse(data.join("\n")) as unknown };
}

function taskEvent({ event, data }: SseMessage): TaskEvent | undefined {
  switch (event) {
    case "progress":
      return { type: "progress", progress: data as TaskProgress };
    case "status":
      return { type: "status", task: data as TaskDocument };
    case "done":
      return { type: "done", task: data as TaskDocument };
    default:
      return undefined;
  }
}

/** The output of a finished task, or the HearthError it failed with. */
export function outcomeOf(doc: TaskDocument): unknown {
  if (doc.status === "succeeded") return doc.outputB64 !== undefined ? Buffer.from(doc.outputB64, "base64") : (doc.output ?? null);
  const error = doc.error ?? { type: doc.status === "cancelled" ? ("Cancelled" as const) : ("UserError" as const), message: `task ${doc.status}` };
  throw new HearthError({ type: error.type, message: error.message, status: 0, taskId: doc.id, attempt: error.attempt });
}

/** One execution of a workflow step (`GET /v1/tasks/{run}/steps/{step}`). */
export interface StepItem {
  path: number[];
  taskId: string;
  kind: "call" | "reduce";
  status: TaskDocument["status"];
  attempts: number;
  cached?: boolean;
  output?: unknown;
  outputB64?: string;
  error?: TaskDocument["error"];
}

/** A step event of a run's SSE stream. */
export interface StepEvent {
  step: string;
  path: number[];
  taskId: string;
  event: "queued" | "started" | "progress" | "finished" | "failed" | "cancelled";
  cached?: boolean;
  progress?: TaskProgress;
  error?: TaskDocument["error"];
}

export class RemoteWorkflow extends RemoteFunction {
  protected override path(action: string): string {
    return `/v1/namespaces/${encodeURIComponent(this.namespace)}/workflows/${encodeURIComponent(this.name)}${action}`;
  }

  override async push(input: unknown, opts: Omit<CallOptions, "timeoutMs"> = {}): Promise<RunHandle> {
    const t = await super.push(input, opts);
    return new RunHandle(this.client, t.id);
  }

  override pushMany(): Promise<TaskHandle[]> {
    return Promise.reject(new HearthError({ type: "BadRequest", message: "pushMany is for functions; push a workflow once per input", status: 0 }));
  }
}

/** A workflow run: a task, plus the outputs of each step and step events. */
export class RunHandle extends TaskHandle {
  /** One page of a step's executions, in item order; `next` is the cursor of the following page. */
  async stepPage(step: string, opts: { limit?: number; after?: string } = {}): Promise<{ items: StepItem[]; next?: string }> {
    const q = new URLSearchParams();
    if (opts.limit !== undefined) q.set("limit", String(opts.limit));
    if (opts.after !== undefined) q.set("after", opts.after);
    const query = q.size === 0 ? "" : `?${q.toString()}`;
    const res = await this.client.call({ method: "GET", path: this.path(`/steps/${encodeURIComponent(step)}${query}`) });
    if (res.status !== 200) throw errorFrom(res, this.id);
    return jsonBody(res) as { items: StepItem[]; next?: string };
  }

  /** Every execution of a step (all pages), in item order. */
  async step(step: string): Promise<StepItem[]> {
    const all: StepItem[] = [];
    let after: string | undefined;
    do {
      const page = await this.stepPage(step, after === undefined ? { limit: 1000 } : { limit: 1000, after });
      all.push(...page.items);
      after = page.next;
    } while (after !== undefined);
    return all;
  }

  /** Step events (queued, started, progress, finished, failed) until the run ends. */
  async *stepEvents(opts: { signal?: AbortSignal } = {}): AsyncGenerator<StepEvent> {
    for await (const ev of this.sseMessages(opts)) if (ev.event === "step") yield ev.data as StepEvent;
  }
}

/** Per-task options as the gateway's query parameters (docs/protocol.md, "Per-task options"). */
function taskParams(opts: Pick<CallOptions, "timeoutSeconds" | "retries">, lead: "?" | "&"): string {
  const q = new URLSearchParams();
  if (opts.timeoutSeconds !== undefined) q.set("timeoutSeconds", String(opts.timeoutSeconds));
  for (const [k, v] of Object.entries(opts.retries ?? {})) if (typeof v === "number") q.set(k, String(v));
  const text = q.toString();
  return text === "" ? "" : `${lead}${text}`;
}
