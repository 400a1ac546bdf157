// The worker side of the gateway's HTTP API (docs/protocol.md "Worker API"): lease, the worker
// channel, heartbeat, results, and the per-task progress/complete/fail/claim. Each method answers
// one route of server.ts's table; the worker's credential is checked (awaited: a
// ServiceAccount token's first review asks the apiserver) before any body is read.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { looksLikeJwt } from "../auth/service-account-token.ts";
import { isExitErrorType, isWorkerState, type ExitErrorType } from "../protocol/index.ts";
import { bearer } from "./auth.ts";
import { renderGrant, renderGrants } from "./grants.ts";
import { HttpError, int, parseJsonObject, queryOf, readBody, statusOf, str } from "./http.ts";
import { pickleOutput } from "./inputs.ts";
import type { FunctionSettings } from "./registry.ts";
import { MAX_MESSAGE, RoutesBase } from "./route-context.ts";
import { parseSetupReport } from "./setup.ts";
import { EngineError, type Task } from "./tasks.ts";
import { httpChannelIo, serveChannel, socketChannelIo, type ChannelDeps } from "./worker-channel.ts";
import { isBoundPod } from "./worker-identities.ts";

export class WorkerRoutes extends RoutesBase {
  /**
   * Before any body is read: the Function the request's worker credential speaks for ("*" when
   * the worker API is open), or 401. Either an HMAC worker token (src/auth/worker-token.ts: dev
   * workers, the operator's finalizer, pods of an older operator) or a warm worker's projected
   * ServiceAccount token (src/gateway/worker-identities.ts: reviewed once per token, then cached).
   */
  private async workerIdentity(req: IncomingMessage): Promise<string> {
    if (this.o.auth.workersOpen) return "*";
    const header = req.headers.authorization;
    const token = bearer(header);
    if (token === undefined) throw new HttpError(401, "Unauthorized", "missing worker token (Authorization: Bearer <token>)");
    if (looksLikeJwt(token)) {
      const identities = this.o.workerIdentities;
      if (identities === undefined) throw new HttpError(401, "Unauthorized", "this gateway does not accept ServiceAccount worker tokens (it runs without the Kubernetes API)");
      return identities.functionOf(token);
    }
    const fn = this.o.auth.workerFunction(header, () => this.o.registry.keys(), this.o.clock?.now() ?? Date.now());
    if (fn === undefined) throw new HttpError(401, "Unauthorized", "missing or unknown worker token");
    return fn;
  }

  /** The Function `ref` names, if `identity` (workerIdentity's answer) speaks for it; else 401. */
  private workerFunction(ref: string, identity: string): FunctionSettings {
    const slash = ref.indexOf("/");
    if (slash <= 0 || slash === ref.length - 1) throw new HttpError(400, "BadRequest", `"function" must be <namespace>/<name>, got ${JSON.stringify(ref)}`);
    if (identity !== "*" && identity !== ref) throw new HttpError(401, "Unauthorized", `missing or wrong worker token for ${ref} (the token speaks for ${identity})`);
    return this.functionOf(ref.slice(0, slash), ref.slice(slash + 1));
  }

  /** Whether the request's worker credential speaks for `namespace/name` (503 when that cannot be known now). */
  private async speaksFor(req: IncomingMessage, namespace: string, name: string): Promise<boolean> {
    const header = req.headers.authorization;
    const token = bearer(header);
    const identities = this.o.workerIdentities;
    if (token !== undefined && identities !== undefined && looksLikeJwt(token) && !this.o.auth.workersOpen) {
      try {
        return (await identities.functionOf(token)) === `${namespace}/${name}`;
      } catch (err) {
        if (err instanceof HttpError && err.status === 401) return false;
        throw err;
      }
    }
    return this.o.auth.worker(header, namespace, name);
  }

  async lease(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const identity = await this.workerIdentity(req);
    const body = parseJsonObject(await readBody(req, this.limits.maxOutputBytes + 1024 * 1024));
    const fn = this.workerFunction(str(body, "function", { max: 512 }), identity);
    const workerId = str(body, "workerId", { max: 253 });
    const max = Math.min(int(body, "max", 1, 1, 100_000), this.limits.maxLeaseBatch);
    const waitMs = Math.min(int(body, "waitMs", 0, 0, 3_600_000), this.limits.maxLeaseWaitMs);
    // Outcomes may ride on the lease that asks for the next tasks: one request instead of two.
    // Their acknowledgements wait for the commit, while the lease looks for work meanwhile.
    const acksDone = Array.isArray(body["results"]) ? this.applyResults(fn, body["results"]) : undefined;
    const abort = new AbortController();
    const onClose = (): void => abort.abort();
    res.on("close", onClose);
    const [acks, grants] = await Promise.all([acksDone, this.o.engine.lease(fn, workerId, max, waitMs, abort.signal, { fold: body["fold"] === true })]);
    res.off("close", onClose);
    if (res.destroyed || abort.signal.aborted) {
      // The worker hung up (draining, crashed): nobody will run these.
      this.o.engine.unlease(grants);
      return;
    }
    this.reply(res, "lease", 200, renderGrants(grants, acks === undefined ? undefined : JSON.stringify(acks)));
  }

  /**
   * The worker channel (worker-channel.ts): `?function=ns/name&workerId=…`, checked before any
   * body is read; then credits and results up, leases and acknowledgements down, until it closes.
   */
  async channel(req: IncomingMessage, res: ServerResponse, url: string): Promise<void> {
    const deps = await this.channelDeps(req, url);
    await serveChannel(httpChannelIo(req, res), deps);
  }

  /**
   * The worker channel on an upgraded connection (`Upgrade: hearth-channel`, docs/protocol.md):
   * the same lines both ways, on the raw connection, which a Node supervisor hands to its child
   * process. A refusal throws before anything is written (server.ts answers it on the connection).
   */
  async channelUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, url: string): Promise<void> {
    const deps = await this.channelDeps(req, url);
    await serveChannel(socketChannelIo(socket, head), deps);
  }

  /** The worker's credential and the channel's query, checked before any line is read. */
  private async channelDeps(req: IncomingMessage, url: string): Promise<ChannelDeps> {
    const identity = await this.workerIdentity(req);
    const query = queryOf(url);
    const fn = this.workerFunction(query.get("function") ?? "", identity);
    const workerId = query.get("workerId") ?? "";
    if (workerId === "" || workerId.length > 253) throw new HttpError(400, "BadRequest", `"workerId" must be 1 to 253 characters`);
    this.count("channel", 200);
    const endWhen = await this.podGoneHook(req);
    return {
      endWhen,
      creditBack: (giveBack) =>
        this.o.engine.onLostLeases((lostFn, lostWorker, n) => {
          if (lostWorker === workerId && lostFn.namespace === fn.namespace && lostFn.name === fn.name) giveBack(n);
        }),
      clock: this.timers,
      // `fold=1`: the worker folds workflow reducer batches (docs/protocol.md).
      lease: (max, waitMs, signal) => this.o.engine.lease(fn, workerId, max, waitMs, signal, { fold: query.get("fold") === "1" }),
      unlease: (grants) => this.o.engine.unlease(grants),
      applyResults: (items) => this.applyResults(fn, items),
      progress: (p) => {
        const task = this.o.engine.get(p.id);
        if (task === undefined || task.namespace !== fn.namespace || task.name !== fn.name) return false;
        try {
          this.o.engine.progress(p.id, p.leaseId, p.value, p.message === undefined ? undefined : p.message.slice(0, MAX_MESSAGE));
          return true;
        } catch (err) {
          if (err instanceof EngineError) return false;
          throw err;
        }
      },
      renderGrants: (grants) => renderGrants(grants),
      maxLineBytes: this.limits.maxOutputBytes + 1024 * 1024,
      maxBatch: this.limits.maxLeaseBatch,
      lifetimeMs: this.limits.requestTimeoutMs > 0 ? Math.max(1000, Math.floor(this.limits.requestTimeoutMs / 2)) : 300_000,
      leaseWaitMs: Math.min(20_000, this.limits.maxLeaseWaitMs),
    };
  }

  /**
   * A channel opened with a warm worker's ServiceAccount token ends when the pod the token is
   * bound to is deleted (the worker reconnects, and its token is refused from then on): a token
   * copied out of a pod does not keep a channel after the pod is gone. Other credentials: none.
   */
  private async podGoneHook(req: IncomingMessage): Promise<ChannelDeps["endWhen"]> {
    const identities = this.o.workerIdentities;
    const token = bearer(req.headers.authorization);
    if (identities === undefined || token === undefined || this.o.auth.workersOpen || !looksLikeJwt(token)) return undefined;
    const bound = await identities.binding(token);
    return (end) =>
      identities.onPodGone((gone) => {
        if (isBoundPod(gone, bound)) end();
      });
  }

  async heartbeat(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const identity = await this.workerIdentity(req);
    const body = parseJsonObject(await readBody(req, 1024 * 1024));
    const fn = this.workerFunction(str(body, "function", { max: 512 }), identity);
    const workerId = str(body, "workerId", { max: 253 });
    const stateRaw = str(body, "state", { optional: true }) ?? (body["ready"] === true ? "ready" : "setup");
    if (!isWorkerState(stateRaw)) throw new HttpError(400, "BadRequest", `"state" must be ready, setup, draining or failed`);
    const errorRaw = body["error"];
    let error: { type: string; message: string; reason?: string } | undefined;
    if (typeof errorRaw === "object" && errorRaw !== null) {
      const e = errorRaw as Record<string, unknown>;
      error = {
        type: typeof e["type"] === "string" ? e["type"].slice(0, 64) : "UserError",
        message: typeof e["message"] === "string" ? e["message"].slice(0, MAX_MESSAGE) : "",
      };
      if (typeof e["reason"] === "string") error.reason = e["reason"].slice(0, 64);
    }
    this.o.setup?.report(fn.namespace, fn.name, workerId, { state: stateRaw, error, setup: parseSetupReport(body["setup"]) });
    const tasksRaw = body["tasks"];
    const tasks = Array.isArray(tasksRaw) ? tasksRaw.filter((t): t is string => typeof t === "string") : undefined;
    const answer = this.o.engine.heartbeat(fn, workerId, { state: stateRaw, error, tasks });
    const signatureKnown = this.o.signatures?.observe(fn.namespace, fn.name, workerId, body["signature"]);
    this.reply(res, "heartbeat", 200, JSON.stringify(signatureKnown === undefined ? answer : { ...answer, signatureKnown }));
  }

  /** The task's function, after checking the worker's token for it (or, for an isolated call, the task's own token). */
  private async workerTask(req: IncomingMessage, id: string): Promise<Task> {
    const task = this.o.engine.get(id);
    if (task === undefined) throw new HttpError(404, "NotFound", `task ${id} not found`);
    const byTaskToken = (): boolean => this.o.auth.task(req.headers.authorization, task.namespace, task.name, id);
    if (task.isolated === true ? byTaskToken() : await this.speaksFor(req, task.namespace, task.name)) return task;
    // The pod of an isolated call while this gateway restarts: it does not know yet that the
    // recovered task is isolated (that comes once the registry synced); the pod retries a 503.
    if (task.isolated !== true && !this.o.ready() && byTaskToken()) throw new HttpError(503, "Unavailable", "the gateway is starting; retry");
    throw new HttpError(401, "Unauthorized", `missing or wrong worker token for ${task.namespace}/${task.name}`);
  }

  /** The pod of an isolated call's Job starts its attempt: `{"workerId"}` → a lease grant with the input. */
  async claim(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    await this.workerTask(req, id);
    const body = parseJsonObject(await readBody(req, 64 * 1024));
    const workerId = str(body, "workerId", { max: 253 });
    const grant = this.o.engine.claim(id, workerId);
    this.reply(res, "claim", 200, renderGrant(grant));
  }

  async progress(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    await this.workerTask(req, id);
    const body = parseJsonObject(await readBody(req, 64 * 1024));
    const leaseId = str(body, "leaseId", { max: 256 });
    const value = body["value"];
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || value > 1) throw new HttpError(400, "BadRequest", `"value" must be a number between 0 and 1`);
    const message = str(body, "message", { optional: true, max: MAX_MESSAGE });
    const answer = this.o.engine.progress(id, leaseId, value, message);
    this.reply(res, "progress", 200, JSON.stringify(answer));
  }

  async complete(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    const task = await this.workerTask(req, id);
    let raw: Buffer;
    try {
      raw = await readBody(req, this.limits.maxOutputBytes + 4096);
    } catch (err) {
      if (err instanceof HttpError && err.status === 413) {
        // Retrying cannot make the output smaller: the attempt fails for good, worker kept.
        const leaseId = task.lease?.leaseId;
        if (leaseId !== undefined) {
          await this.o.engine.fail(id, leaseId, "BadConfiguration", `output is over ${this.limits.maxOutputBytes} bytes, the gateway's limit: write large results to storage and return a reference`);
        }
      }
      throw err;
    }
    const body = parseJsonObject(raw);
    const leaseId = str(body, "leaseId", { max: 256 });
    let output: string;
    if (task.encoding === "pickle") {
      output = pickleOutput(body);
    } else {
      if (!("output" in body)) throw new HttpError(400, "BadRequest", `"output" is required`);
      output = JSON.stringify(body["output"]);
    }
    // Answered only once the result is durable: a worker told "done" never sees it re-run.
    await this.o.engine.complete(id, leaseId, output);
    this.reply(res, "complete", 200, "{}");
  }

  /**
   * Several outcomes in one request (`{"function","workerId","results":[…]}`): what lets one
   * gateway keep up with thousands of tasks a second. Each item is answered on its own.
   */
  async results(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const identity = await this.workerIdentity(req);
    const body = parseJsonObject(await readBody(req, this.limits.maxOutputBytes + 1024 * 1024));
    const fn = this.workerFunction(str(body, "function", { max: 512 }), identity);
    const items = body["results"];
    if (!Array.isArray(items)) throw new HttpError(400, "BadRequest", `"results" must be an array`);
    this.reply(res, "results", 200, JSON.stringify({ results: await this.applyResults(fn, items) }));
  }

  /** Each outcome's answer, once the outcomes are durable. */
  private applyResults(fn: FunctionSettings, items: readonly unknown[]): Promise<{ id: string; status: number; message?: string }[]> {
    return Promise.all(items.map(async (item: unknown) => {
      const r = typeof item === "object" && item !== null ? (item as Record<string, unknown>) : {};
      const id = typeof r["id"] === "string" ? r["id"] : "";
      try {
        const leaseId = str(r, "leaseId", { max: 256 });
        const task = this.o.engine.get(id);
        if (task === undefined || task.namespace !== fn.namespace || task.name !== fn.name) throw new HttpError(404, "NotFound", `task ${id} not found`);
        const error = r["error"];
        if (typeof error === "object" && error !== null) {
          const e = error as Record<string, unknown>;
          const message = typeof e["message"] === "string" ? e["message"].slice(0, MAX_MESSAGE) : "";
          await this.o.engine.fail(id, leaseId, failureType(e["type"], e["exitCode"]), message);
        } else {
          await this.o.engine.complete(id, leaseId, this.outputOf(task, r, leaseId));
        }
        return { id, status: 200 };
      } catch (err) {
        if (err instanceof HttpError) return { id, status: err.status, message: err.message };
        if (err instanceof EngineError) return { id, status: statusOf(err.type), message: err.message };
        throw err;
      }
    }));
  }

  /** A result's output as stored; an output over the limit fails the task (413 to the worker). */
  private outputOf(task: Task, r: Record<string, unknown>, leaseId: string): string {
    const output = task.encoding === "pickle" ? pickleOutput(r) : "output" in r ? JSON.stringify(r["output"]) : undefined;
    if (output === undefined) throw new HttpError(400, "BadRequest", `"output" is required`);
    if (output.length > this.limits.maxOutputBytes) {
      void this.o.engine.fail(task.id, leaseId, "BadConfiguration", `output is ${output.length} bytes, over the gateway's limit of ${this.limits.maxOutputBytes}: write large results to storage and return a reference`);
      throw new HttpError(413, "TooLarge", `output is over ${this.limits.maxOutputBytes} bytes`);
    }
    return output;
  }

  async failTask(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    await this.workerTask(req, id);
    const body = parseJsonObject(await readBody(req, 256 * 1024));
    const leaseId = str(body, "leaseId", { max: 256 });
    const type = failureType(body["type"], body["exitCode"]);
    const message = (str(body, "message", { optional: true }) ?? "").slice(0, MAX_MESSAGE);
    await this.o.engine.fail(id, leaseId, type, message);
    this.reply(res, "fail", 200, "{}");
  }
}

function failureType(type: unknown, exitCode: unknown): ExitErrorType | "Disrupted" {
  if (type === "Disrupted" || isExitErrorType(type)) return type;
  if (type !== undefined && type !== null) throw new HttpError(400, "BadRequest", `"type" must be UserError, BadConfiguration, InputRejected, Fatal, Timeout or Disrupted`);
  switch (exitCode) {
    case 2:
      return "BadConfiguration";
    case 65:
      return "InputRejected";
    case 75:
      return "Fatal";
    case 124:
      return "Timeout";
    default:
      return "UserError";
  }
}
