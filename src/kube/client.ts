// The one Kubernetes client: typed get/list, server-side apply (one field manager per
// controller), status through the /status subresource, deletes, and raw watch streams for the
// informer. Requests go over a keep-alive agent; every request is counted in Prometheus by verb,
// resource and code, which is also how tests count the operator's writes.
import http from "node:http";
import https from "node:https";
import { finished } from "node:stream";
import { StringDecoder } from "node:string_decoder";
import { Counter, Histogram, type Registry } from "prom-client";
import { z } from "zod";
import type { Clock } from "./clock.ts";
import { elide, type FieldPath } from "./elide.ts";
import { FrameSplitter, ProtoError, statusOf, watchEventFrame } from "./protobuf.ts";
import { KubeError, statusFromResponse, toStatus } from "./errors.ts";
import type { Connection } from "./kubeconfig.ts";
import type { KubeObject } from "./objects.ts";
import { apiVersionOf, METADATA_LIST_ACCEPT, METADATA_WATCH_ACCEPT, parseObject, resourcePath, viewOf, type ResourceType } from "./resources.ts";
import { TokenBucket } from "./ratelimit.ts";

export interface TransportOptions {
  connection: Connection;
  /** Registry for hearth_kube_* metrics; omit to not export them. */
  registry?: Registry;
  /** Concurrent connections for ordinary requests (watches use their own). Default 32. */
  maxSockets?: number;
  /** Client-side rate limit (requests per second, burst). Default 200/400. */
  qps?: number;
  burst?: number;
  /** Deadline of a non-watch request. Default 30 s. */
  timeoutMs?: number;
  userAgent?: string;
  clock: Clock;
}

export type Verb = "get" | "list" | "watch" | "create" | "update" | "patch" | "apply" | "delete";
export const WRITE_VERBS: ReadonlySet<Verb> = new Set(["create", "update", "patch", "apply", "delete"]);

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  /** Accept header; default application/json. */
  accept?: string;
  signal?: AbortSignal | undefined;
  verb: Verb;
  /** Resource label for metrics, e.g. "deployments" or "functions/status". */
  resource: string;
}

/**
 * A request's signal: the caller's, or the deadline (a TimeoutError, as AbortSignal.timeout
 * gives). One timer, cleared when the request ends: AbortSignal.timeout's timer and
 * AbortSignal.any's links lived until the deadline, thousands of them in a burst of writes.
 */
export function deadline(parent: AbortSignal | undefined, ms: number): { signal: AbortSignal; done(): void } {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(new DOMException("The operation was aborted due to timeout", "TimeoutError")), ms);
  timer.unref();
  const onAbort = (): void => ac.abort(parent?.reason);
  if (parent?.aborted === true) ac.abort(parent.reason);
  else parent?.addEventListener("abort", onAbort, { once: true });
  return {
    signal: ac.signal,
    done: () => {
      clearTimeout(timer);
      parent?.removeEventListener("abort", onAbort);
    },
  };
}

/**
 * A response's whole body as text. Stream events and finished() (the async iterator's errors,
 * without its promise per chunk): this runs for every request.
 */
function readText(res: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on("data", (c: Buffer) => chunks.push(c));
    finished(res, (err) => {
      if (err !== undefined && err !== null) reject(err);
      else resolve(Buffer.concat(chunks).toString("utf8"));
    });
  });
}

/** Where a streamed body's chunks go. A throw fails the stream. */
interface Sink {
  chunk(c: Buffer): void;
  end(): void;
}

/** Lines of UTF-8 text (without their newline; a last unterminated line too). */
function lineSink(onLine: (line: string) => void): Sink {
  const decoder = new StringDecoder("utf8");
  let pending = "";
  const emit = (): void => {
    let nl: number;
    while ((nl = pending.indexOf("\n")) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      onLine(line);
    }
  };
  return {
    chunk: (c) => {
      pending += decoder.write(c);
      emit();
    },
    end: () => {
      pending += decoder.end();
      if (pending !== "") onLine(pending);
    },
  };
}

/** Accept header of a protobuf watch (JSON if the server has no protobuf for the kind, e.g. a CRD). */
export const PROTOBUF_WATCH_ACCEPT = "application/vnd.kubernetes.protobuf;stream=watch, application/json";

function isProtobuf(contentType: string | undefined): boolean {
  return contentType !== undefined && contentType.startsWith("application/vnd.kubernetes.protobuf");
}

/** Counts of requests made, by verb and resource ("patch deployments" → n). */
export type RequestCounts = Map<string, number>;

/** Shared HTTP machinery: connection, agents, rate limit, metrics. */
export class Transport {
  readonly connection: Connection;
  private readonly agent: http.Agent;
  private readonly watchAgent: http.Agent;
  private readonly isHttps: boolean;
  private readonly bucket: TokenBucket;
  private readonly timeoutMs: number;
  private readonly userAgent: string;
  private readonly requests: Counter<"verb" | "resource" | "code"> | undefined;
  private readonly latency: Histogram<"verb"> | undefined;
  /** Requests by "verb resource", always kept (cheap) so tests and benches can read them. */
  readonly counts: RequestCounts;
  private readonly opts: TransportOptions;

  constructor(opts: TransportOptions, shared?: { counts: RequestCounts; requests: Counter<"verb" | "resource" | "code"> | undefined; latency: Histogram<"verb"> | undefined }) {
    this.opts = opts;
    this.counts = shared?.counts ?? new Map<string, number>();
    this.connection = opts.connection;
    this.isHttps = opts.connection.server.startsWith("https:");
    const tls = opts.connection.tls;
    const agentOpts: https.AgentOptions = { keepAlive: true, maxSockets: opts.maxSockets ?? 32, rejectUnauthorized: tls.rejectUnauthorized };
    if (tls.ca !== undefined) agentOpts.ca = tls.ca;
    if (tls.cert !== undefined) agentOpts.cert = tls.cert;
    if (tls.key !== undefined) agentOpts.key = tls.key;
    if (tls.servername !== undefined) agentOpts.servername = tls.servername;
    this.agent = this.isHttps ? new https.Agent(agentOpts) : new http.Agent(agentOpts);
    this.watchAgent = this.isHttps ? new https.Agent({ ...agentOpts, maxSockets: Infinity }) : new http.Agent({ ...agentOpts, maxSockets: Infinity });
    this.bucket = new TokenBucket(opts.clock, opts.qps ?? 200, opts.burst ?? 400);
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.userAgent = opts.userAgent ?? "hearth";
    if (shared !== undefined) {
      this.requests = shared.requests;
      this.latency = shared.latency;
    } else if (opts.registry !== undefined) {
      this.requests = new Counter({
        name: "hearth_kube_requests_total",
        help: "Requests to the Kubernetes API by verb, resource and HTTP code (0: no response).",
        labelNames: ["verb", "resource", "code"],
        registers: [opts.registry],
      });
      this.latency = new Histogram({
        name: "hearth_kube_request_duration_seconds",
        help: "Latency of Kubernetes API requests (watches excluded).",
        labelNames: ["verb"],
        buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
        registers: [opts.registry],
      });
    }
  }

  /**
   * A second lane to the same server: its own sockets and rate limit, the same metrics and
   * request counts. Leader election renews its lease on one, so a renewal never queues behind a
   * flood of controller writes (a 5,000-Function apply on a loaded machine once kept a renewal
   * waiting past the renew deadline, and the leader stepped down).
   */
  lane(opts: { maxSockets: number; qps: number; burst: number; userAgent?: string }): Transport {
    const { registry: _registry, ...base } = this.opts;
    return new Transport({ ...base, ...opts }, { counts: this.counts, requests: this.requests, latency: this.latency });
  }

  /** Total writes (create/update/patch/apply/delete), optionally only for some resources. */
  writes(filter?: (resource: string) => boolean): number {
    let n = 0;
    for (const [k, v] of this.counts) {
      const [verb, resource] = k.split(" ") as [Verb, string];
      if (WRITE_VERBS.has(verb) && (filter === undefined || filter(resource))) n += v;
    }
    return n;
  }

  private count(verb: Verb, resource: string, code: number, startedAt: number | undefined): void {
    const k = `${verb} ${resource}`;
    this.counts.set(k, (this.counts.get(k) ?? 0) + 1);
    this.requests?.inc({ verb, resource, code: String(code) });
    if (startedAt !== undefined) this.latency?.observe({ verb }, (performance.now() - startedAt) / 1000);
  }

  private async open(method: string, path: string, opts: RequestOptions, watch: boolean, signal: AbortSignal): Promise<http.IncomingMessage> {
    const headers: Record<string, string> = { ...(await this.connection.headers()), accept: opts.accept ?? "application/json", "user-agent": this.userAgent };
    let payload: Buffer | undefined;
    if (opts.body !== undefined) {
      payload = Buffer.from(typeof opts.body === "string" ? opts.body : JSON.stringify(opts.body));
      headers["content-type"] = opts.contentType ?? "application/json";
      headers["content-length"] = String(payload.length);
    }
    const url = new URL(this.connection.server + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const mod = this.isHttps ? https : http;
    return new Promise((resolve, reject) => {
      const req = mod.request(url, { method, headers, agent: watch ? this.watchAgent : this.agent, signal }, resolve);
      req.on("error", reject);
      req.end(payload);
    });
  }

  /** One request; resolves with the parsed JSON body, throws KubeError for codes >= 400. */
  async request(method: string, path: string, opts: RequestOptions): Promise<unknown> {
    await this.bucket.take(opts.signal);
    const limit = deadline(opts.signal, this.timeoutMs);
    const started = performance.now();
    let res: http.IncomingMessage;
    let text: string;
    try {
      res = await this.open(method, path, opts, false, limit.signal);
      text = await readText(res);
    } catch (err) {
      this.count(opts.verb, opts.resource, 0, started);
      throw new KubeError(toStatus(err), { cause: err });
    } finally {
      limit.done();
    }
    const code = res.statusCode ?? 0;
    this.count(opts.verb, opts.resource, code, started);
    if (code >= 400 || code === 0) {
      const status = statusFromResponse(code, text);
      const retryAfter = Number(res.headers["retry-after"]);
      if (status.retryAfterSeconds === undefined && Number.isFinite(retryAfter) && retryAfter > 0) status.retryAfterSeconds = retryAfter;
      throw new KubeError(status);
    }
    if (text === "") return undefined;
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      throw new KubeError({ code, reason: "InvalidResponse", message: `response of ${method} ${path} is not JSON` }, { cause: err });
    }
  }

  /**
   * A watch stream: calls `onLine` for each JSON line until the server closes it (resolves) or it
   * fails (rejects with a KubeError). Abort `signal` to stop (rejects with an Aborted status).
   * Fields at `cut` are taken out of each line before it is parsed (elide.ts). With `onFrame`
   * (the request's Accept asks for protobuf), a protobuf answer's frames go to `onFrame`
   * instead (protobuf.ts); a JSON answer still goes to `onLine`.
   */
  async stream(path: string, opts: RequestOptions, signal: AbortSignal, onLine: (line: unknown) => void, cut: readonly FieldPath[] = [], onFrame?: (frame: Buffer) => void): Promise<void> {
    const jsonLine = (line: string): void => {
      if (line.trim() !== "") onLine(JSON.parse(cut.length > 0 ? elide(line, cut) : line) as unknown);
    };
    await this.consume(path, opts, signal, (res) => {
      if (onFrame === undefined || !isProtobuf(res.headers["content-type"])) return lineSink(jsonLine);
      const frames = new FrameSplitter();
      return {
        chunk: (c) => frames.push(c, onFrame),
        end: () => {
          if (frames.leftover > 0) throw new ProtoError(`watch stream ended inside a frame (${String(frames.leftover)} bytes)`);
        },
      };
    });
  }

  /**
   * A streamed text body (a watch, a pod's log): calls `onLine` for each line (without its
   * newline; a last unterminated line too) until the server closes it or it fails (KubeError).
   */
  async lines(path: string, opts: RequestOptions, signal: AbortSignal, onLine: (line: string) => void): Promise<void> {
    await this.consume(path, opts, signal, () => lineSink(onLine));
  }

  /** A streamed body, chunk by chunk, to the sink `sinkFor` picks from the answer's headers. */
  private async consume(path: string, opts: RequestOptions, signal: AbortSignal, sinkFor: (res: http.IncomingMessage) => Sink): Promise<void> {
    await this.bucket.take(signal);
    let res: http.IncomingMessage;
    try {
      res = await this.open("GET", path, opts, true, signal);
    } catch (err) {
      this.count(opts.verb, opts.resource, 0, undefined);
      throw new KubeError(toStatus(err), { cause: err });
    }
    const code = res.statusCode ?? 0;
    this.count(opts.verb, opts.resource, code, undefined);
    if (code >= 400) throw new KubeError(statusFromResponse(code, await readText(res)));
    const body = res;
    const sink = sinkFor(res);
    await new Promise<void>((resolve, reject) => {
      // Stream events, not an async iterator: no promise and microtask per chunk.
      let failed = false;
      const fail = (err: unknown): void => {
        if (failed) return;
        failed = true;
        body.destroy();
        reject(err instanceof KubeError ? err : new KubeError(toStatus(err), { cause: err }));
      };
      body.on("data", (chunk: Buffer) => {
        if (failed) return;
        try {
          sink.chunk(chunk);
        } catch (err) {
          fail(err);
        }
      });
      finished(body, (err) => {
        if (failed) return;
        if (err !== undefined && err !== null) return fail(err);
        try {
          sink.end();
          resolve();
        } catch (e) {
          fail(e);
        }
      });
    });
  }

  close(): void {
    this.agent.destroy();
    this.watchAgent.destroy();
  }
}

export interface ListOptions {
  namespace?: string | undefined;
  labelSelector?: string | undefined;
  fieldSelector?: string | undefined;
  /** Page size; pages are fetched until the list is complete. Default 500. */
  limit?: number;
  signal?: AbortSignal | undefined;
}

export interface ListResult<T> {
  items: T[];
  resourceVersion: string;
  /** Items the schema rejected (logged by callers; never crash on one odd object). */
  invalid: { name: string; error: string }[];
}

export interface ApplyOptions {
  /** Overrides the client's field manager. */
  fieldManager?: string;
  /** Take over conflicting fields (default true: we apply only fields we own). */
  force?: boolean;
  signal?: AbortSignal | undefined;
  dryRun?: boolean;
}

export interface WatchOptions {
  namespace?: string | undefined;
  labelSelector?: string | undefined;
  fieldSelector?: string | undefined;
  resourceVersion: string;
  /** Server-side timeout of this watch; the informer re-watches when it ends. */
  timeoutSeconds?: number;
  signal: AbortSignal;
}

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
const WATCH_EVENT_TYPES: ReadonlySet<unknown> = new Set<WatchEventType>(["ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"]);

/** One line of a watch: its type and raw object (checked by hand: one per event, on the hot path). */
export function watchEventOf(line: unknown): { type: WatchEventType; object: unknown } | undefined {
  if (typeof line !== "object" || line === null || !("type" in line) || !WATCH_EVENT_TYPES.has(line.type)) return undefined;
  return { type: line.type as WatchEventType, object: "object" in line ? line.object : undefined };
}

const listEnvelope = z.object({
  metadata: z.object({ resourceVersion: z.string().optional(), continue: z.string().optional() }).default({}),
  items: z.array(z.unknown()).nullish(),
});

/** One operation of a JSON patch (RFC 6902). */
export type JsonPatchOp = { op: "test" | "replace" | "add"; path: string; value: unknown } | { op: "remove"; path: string };

/** An object to apply: apiVersion and kind are filled from the resource type. */
export interface ApplyObject {
  metadata: { name: string; namespace?: string; [k: string]: unknown };
  [k: string]: unknown;
}

/** Typed operations with one field manager. Cheap to derive: `client.as("other-manager")`. */
export class KubeClient {
  readonly transport: Transport;
  readonly fieldManager: string;

  constructor(transport: Transport, fieldManager: string) {
    this.transport = transport;
    this.fieldManager = fieldManager;
  }

  /** The same connection under another field manager (one per controller). */
  as(fieldManager: string): KubeClient {
    return new KubeClient(this.transport, fieldManager);
  }

  private parse<T extends KubeObject>(r: ResourceType<T>, raw: unknown): T {
    const res = parseObject(r, raw);
    if (!res.ok) throw new KubeError({ code: 0, reason: "InvalidResponse", message: `${r.kind} from the apiserver does not match the expected shape: ${res.error}` });
    return res.value;
  }

  /** The object, or undefined when it does not exist. */
  async get<T extends KubeObject>(r: ResourceType<T>, name: string, namespace?: string, signal?: AbortSignal): Promise<T | undefined> {
    try {
      const raw = await this.transport.request("GET", resourcePath(r, { namespace, name }), { verb: "get", resource: r.plural, signal });
      return this.parse(r, raw);
    } catch (err) {
      if (toStatus(err).code === 404) return undefined;
      throw err;
    }
  }

  /**
   * A pod's log (GET pods/{name}/log, plain text) line by line; with `follow`, until the container
   * ends or `signal` aborts. Throws KubeError when the apiserver cannot get it (e.g. no kubelet).
   */
  async podLog(namespace: string, pod: string, opts: { container?: string; follow?: boolean; tailLines?: number; signal: AbortSignal }, onLine: (line: string) => void): Promise<void> {
    const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}/log`;
    const query = { container: opts.container, follow: opts.follow === true ? "true" : undefined, tailLines: opts.tailLines };
    await this.transport.lines(path, { verb: "get", resource: "pods/log", query, accept: "text/plain, */*" }, opts.signal, onLine);
  }

  /** Every matching object, page by page. */
  async list<T extends KubeObject>(r: ResourceType<T>, opts: ListOptions = {}): Promise<ListResult<T>> {
    const out: ListResult<T> = { items: [], resourceVersion: "", invalid: [] };
    let cont: string | undefined;
    do {
      const raw = await this.transport.request("GET", resourcePath(r, { namespace: opts.namespace }), {
        verb: "list",
        resource: r.plural,
        signal: opts.signal,
        ...(r.metadataOnly === true ? { accept: METADATA_LIST_ACCEPT } : {}),
        query: { labelSelector: opts.labelSelector, fieldSelector: opts.fieldSelector, limit: opts.limit ?? 500, continue: cont },
      });
      const page = listEnvelope.parse(raw);
      for (const item of page.items ?? []) {
        const res = parseObject(r, item);
        if (res.ok) out.items.push(res.value);
        else out.invalid.push({ name: nameOf(item), error: res.error });
      }
      out.resourceVersion = page.metadata.resourceVersion ?? out.resourceVersion;
      cont = page.metadata.continue !== undefined && page.metadata.continue !== "" ? page.metadata.continue : undefined;
    } while (cont !== undefined);
    return out;
  }

  /** Server-side apply: `obj` holds exactly the fields this manager owns. */
  async apply<T extends KubeObject>(r: ResourceType<T>, obj: ApplyObject, opts: ApplyOptions = {}): Promise<T> {
    const body = { apiVersion: apiVersionOf(r), kind: r.kind, ...obj };
    const raw = await this.transport.request("PATCH", resourcePath(r, { namespace: obj.metadata.namespace, name: obj.metadata.name }), {
      verb: "apply",
      resource: r.plural,
      signal: opts.signal,
      body,
      contentType: "application/apply-patch+yaml",
      query: { fieldManager: opts.fieldManager ?? this.fieldManager, force: opts.force ?? true, dryRun: opts.dryRun === true ? "All" : undefined },
    });
    return this.parse(r, raw);
  }

  /** Server-side apply of `status` through the /status subresource (only name, namespace, status are sent). */
  async applyStatus<T extends KubeObject>(
    r: ResourceType<T>,
    target: { name: string; namespace?: string | undefined },
    status: unknown,
    opts: ApplyOptions = {},
  ): Promise<T> {
    const metadata: { name: string; namespace?: string } = { name: target.name };
    if (target.namespace !== undefined) metadata.namespace = target.namespace;
    const body = { apiVersion: apiVersionOf(r), kind: r.kind, metadata, status };
    const raw = await this.transport.request("PATCH", resourcePath(r, { namespace: target.namespace, name: target.name, subresource: "status" }), {
      verb: "apply",
      resource: `${r.plural}/status`,
      signal: opts.signal,
      body,
      contentType: "application/apply-patch+yaml",
      query: { fieldManager: opts.fieldManager ?? this.fieldManager, force: opts.force ?? true },
    });
    return this.parse(r, raw);
  }

  async create<T extends KubeObject>(r: ResourceType<T>, obj: ApplyObject, signal?: AbortSignal): Promise<T> {
    const body = { apiVersion: apiVersionOf(r), kind: r.kind, ...obj };
    const raw = await this.transport.request("POST", resourcePath(r, { namespace: obj.metadata.namespace }), {
      verb: "create",
      resource: r.plural,
      signal,
      body,
      query: { fieldManager: this.fieldManager },
    });
    return this.parse(r, raw);
  }

  /** PUT with the object's resourceVersion: a compare-and-swap (leases). */
  async replace<T extends KubeObject>(r: ResourceType<T>, obj: ApplyObject, signal?: AbortSignal): Promise<T> {
    const body = { apiVersion: apiVersionOf(r), kind: r.kind, ...obj };
    const raw = await this.transport.request("PUT", resourcePath(r, { namespace: obj.metadata.namespace, name: obj.metadata.name }), {
      verb: "update",
      resource: r.plural,
      signal,
      body,
      query: { fieldManager: this.fieldManager },
    });
    return this.parse(r, raw);
  }

  /** JSON merge patch (for the odd field SSA cannot express, e.g. an Event's count). */
  async mergePatch<T extends KubeObject>(r: ResourceType<T>, name: string, namespace: string | undefined, patch: unknown, signal?: AbortSignal): Promise<T> {
    const raw = await this.transport.request("PATCH", resourcePath(r, { namespace, name }), {
      verb: "patch",
      resource: r.plural,
      signal,
      body: patch,
      contentType: "application/merge-patch+json",
      query: { fieldManager: this.fieldManager },
    });
    return this.parse(r, raw);
  }

  /** JSON patch (RFC 6902): `test` operations make it a compare-and-swap (e.g. rewriting managedFields). */
  async jsonPatch<T extends KubeObject>(r: ResourceType<T>, name: string, namespace: string | undefined, ops: readonly JsonPatchOp[], signal?: AbortSignal): Promise<T> {
    const raw = await this.transport.request("PATCH", resourcePath(r, { namespace, name }), {
      verb: "patch",
      resource: r.plural,
      signal,
      body: ops,
      contentType: "application/json-patch+json",
      query: { fieldManager: this.fieldManager },
    });
    return this.parse(r, raw);
  }

  /**
   * Sets spec.replicas through the scale subresource (autoscaling/v1 Scale), the way an HPA does:
   * a merge patch, so it neither conflicts with nor takes over the object's other fields.
   */
  async scale(r: ResourceType<KubeObject>, name: string, namespace: string, replicas: number, signal?: AbortSignal): Promise<void> {
    await this.transport.request("PATCH", resourcePath(r, { namespace, name, subresource: "scale" }), {
      verb: "patch",
      resource: `${r.plural}/scale`,
      signal,
      body: { spec: { replicas } },
      contentType: "application/merge-patch+json",
      query: { fieldManager: this.fieldManager },
    });
  }

  /** Deletes; true if it existed. Background propagation unless told otherwise. */
  async delete(
    r: ResourceType<KubeObject>,
    name: string,
    namespace?: string,
    opts: { propagationPolicy?: "Foreground" | "Background" | "Orphan"; signal?: AbortSignal; uid?: string } = {},
  ): Promise<boolean> {
    const body: Record<string, unknown> = { apiVersion: "v1", kind: "DeleteOptions", propagationPolicy: opts.propagationPolicy ?? "Background" };
    if (opts.uid !== undefined) body["preconditions"] = { uid: opts.uid };
    try {
      await this.transport.request("DELETE", resourcePath(r, { namespace, name }), { verb: "delete", resource: r.plural, signal: opts.signal, body });
      return true;
    } catch (err) {
      if (toStatus(err).code === 404) return false;
      throw err;
    }
  }

  /**
   * Streams watch events to `onEvent` (raw objects: the informer parses them) until the server
   * ends the watch. An ERROR event becomes a thrown KubeError (410 Gone → relist).
   */
  async watch(r: ResourceType<KubeObject>, opts: WatchOptions, onEvent: (type: Exclude<WatchEventType, "ERROR">, obj: unknown) => void): Promise<void> {
    const decode = r.metadataOnly === true ? undefined : viewOf(r)?.protobuf;
    const onFrame =
      decode === undefined
        ? undefined
        : (frame: Buffer): void => {
            const ev = watchEventFrame(frame);
            if (!WATCH_EVENT_TYPES.has(ev.type)) throw new KubeError({ code: 0, reason: "InvalidResponse", message: `watch event of unknown type ${ev.type}` });
            if (ev.type === "ERROR" || ev.kind === "Status") {
              const status = statusOf(ev.buf, ev.start, ev.end);
              throw new KubeError(statusFromResponse(status.code === 0 ? 500 : status.code, JSON.stringify(status)));
            }
            onEvent(ev.type as Exclude<WatchEventType, "ERROR">, decode(ev.buf, ev.start, ev.end));
          };
    const accept = r.metadataOnly === true ? METADATA_WATCH_ACCEPT : decode !== undefined ? PROTOBUF_WATCH_ACCEPT : undefined;
    await this.transport.stream(
      resourcePath(r, { namespace: opts.namespace }),
      {
        verb: "watch",
        resource: r.plural,
        ...(accept !== undefined ? { accept } : {}),
        query: {
          watch: 1,
          allowWatchBookmarks: true,
          resourceVersion: opts.resourceVersion,
          labelSelector: opts.labelSelector,
          fieldSelector: opts.fieldSelector,
          timeoutSeconds: opts.timeoutSeconds,
        },
      },
      opts.signal,
      (line) => {
        const ev = watchEventOf(line);
        if (ev === undefined) throw new KubeError({ code: 0, reason: "InvalidResponse", message: "watch event without a known type" });
        if (ev.type === "ERROR") {
          const o = ev.object;
          const code = typeof o === "object" && o !== null && "code" in o && typeof o.code === "number" ? o.code : 500;
          throw new KubeError(statusFromResponse(code, JSON.stringify(o)));
        }
        onEvent(ev.type, ev.object);
      },
      viewOf(r)?.elide?.map((p) => ["object", ...p]),
      onFrame,
    );
  }
}

function nameOf(item: unknown): string {
  if (typeof item === "object" && item !== null && "metadata" in item) {
    const m = item.metadata;
    if (typeof m === "object" && m !== null && "name" in m && typeof m.name === "string") {
      return "namespace" in m && typeof m.namespace === "string" ? `${m.namespace}/${m.name}` : m.name;
    }
  }
  return "<unnamed>";
}

/** Builds a transport and a client in one call (the common case). */
export function createClient(opts: TransportOptions & { fieldManager: string }): KubeClient {
  return new KubeClient(new Transport(opts), opts.fieldManager);
}
