// A small HTTP/1.1 client on node:http with a keep-alive agent: the SDK and the worker runtime
// make many short calls to one gateway, and a fresh TCP connection per call would cost more
// than the call itself. fetch() (undici) is slower per request here and harder to bound.
import { Agent, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from "node:http";

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
  private readonly defaultHeaders: Record<string, string>;

  constructor(baseUrl: string, opts: { token?: string | undefined; maxSockets?: number } = {}) {
    this.base = new URL(baseUrl);
    if (this.base.protocol !== "http:") throw new Error(`only http:// gateway URLs are supported, got ${baseUrl}`);
    this.agent = new Agent({ keepAlive: true, maxSockets: opts.maxSockets ?? 64, keepAliveMsecs: 10_000 });
    this.defaultHeaders = opts.token === undefined || opts.token === "" ? {} : { authorization: `Bearer ${opts.token}` };
  }

  request(opts: RequestOptions): Promise<HttpResponse> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = { ...this.defaultHeaders, ...opts.headers };
      if (opts.body !== undefined) headers["content-length"] = Buffer.byteLength(opts.body);
      const req = httpRequest(
        {
          host: this.base.hostname,
          port: this.base.port === "" ? 80 : Number(this.base.port),
          path: this.base.pathname.replace(/\/$/, "") + opts.path,
          method: opts.method,
          headers,
          agent: this.agent,
          signal: opts.signal,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            clearTimer();
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: chunks.length === 1 && chunks[0] !== undefined ? chunks[0] : Buffer.concat(chunks) });
          });
          res.on("error", (err) => {
            clearTimer();
            reject(err);
          });
        },
      );
      let timer: NodeJS.Timeout | undefined;
      const clearTimer = (): void => {
        if (timer !== undefined) clearTimeout(timer);
      };
      if (opts.timeoutMs !== undefined) {
        timer = setTimeout(() => req.destroy(new Error(`request to ${opts.path} timed out after ${opts.timeoutMs} ms`)), opts.timeoutMs);
      }
      req.on("error", (err) => {
        clearTimer();
        reject(err);
      });
      req.end(opts.body);
    });
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
