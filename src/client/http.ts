// A small HTTP/1.1 client for one gateway: the SDK and the worker runtime make many short calls,
// and a fresh TCP connection per call would cost more than the call itself. Calls go through
// connection.ts (kept-alive connections, one write per request: a quarter of node:http's client
// CPU per call); streams (SSE) through node:http with a keep-alive agent. fetch() (undici) is
// slower per request here and harder to bound.
import { Agent, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from "node:http";
import { ConnectionPool } from "./connection.ts";

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface RequestOptions {
  method: "GET" | "POST" | "DELETE";
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  signal?: AbortSignal | undefined;
  /** Whole-request limit; default none (long polls set their own). */
  timeoutMs?: number | undefined;
}

export class HttpClient {
  readonly base: URL;
  readonly agent: Agent;
  private readonly pool: ConnectionPool;
  private readonly prefix: string;
  private readonly defaultHeaders: Record<string, string>;

  constructor(baseUrl: string, opts: { token?: string | undefined; maxSockets?: number } = {}) {
    this.base = new URL(baseUrl);
    if (this.base.protocol !== "http:") throw new Error(`only http:// gateway URLs are supported, got ${baseUrl}`);
    this.agent = new Agent({ keepAlive: true, maxSockets: opts.maxSockets ?? 64, keepAliveMsecs: 10_000 });
    const host = this.base.hostname.startsWith("[") ? this.base.hostname.slice(1, -1) : this.base.hostname;
    this.pool = new ConnectionPool(host, this.base.port === "" ? 80 : Number(this.base.port), opts.maxSockets ?? 64);
    this.prefix = this.base.pathname.replace(/\/$/, "");
    this.defaultHeaders = opts.token === undefined || opts.token === "" ? {} : { authorization: `Bearer ${opts.token}` };
  }

  request(opts: RequestOptions): Promise<HttpResponse> {
    const headers = opts.headers === undefined ? this.defaultHeaders : { ...this.defaultHeaders, ...opts.headers };
    return this.pool.request({ method: opts.method, path: this.prefix + opts.path, headers, body: opts.body, signal: opts.signal, timeoutMs: opts.timeoutMs });
  }

  /** Starts a request and hands back the response stream as soon as its headers arrive (SSE). */
  open(opts: Omit<RequestOptions, "timeoutMs">): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        {
          host: this.base.hostname,
          port: this.base.port === "" ? 80 : Number(this.base.port),
          path: this.base.pathname.replace(/\/$/, "") + opts.path,
          method: opts.method,
          headers: { ...this.defaultHeaders, ...opts.headers },
          agent: this.agent,
          signal: opts.signal,
        },
        resolve,
      );
      req.on("error", reject);
      req.end(opts.body);
    });
  }

  close(): void {
    this.pool.close();
    this.agent.destroy();
  }
}

/** Parses a JSON body, or undefined when it is not JSON. */
export function jsonBody(res: HttpResponse): unknown {
  if (res.body.length === 0) return undefined;
  try {
    return JSON.parse(res.body.toString("utf8")) as unknown;
  } catch {
    return undefined;
  }
}
