// HTTP/1.1 exchanges with one server over kept-alive TCP connections, written for the client's
// short JSON calls. node:http's client costs 60–90 µs of CPU per request in bench/invoke (about a
// third of all the CPU a pushed task costs, client included); this one writes each request with
// one write and parses the answer itself, at about a quarter of that. A connection carries one
// exchange at a time (no pipelining); at most `maxSockets` are open, further requests wait for
// one. Responses may be framed by Content-Length, chunked, or the end of the connection.
// Streams (SSE) still use node:http (HttpClient.open).
import { connect, type Socket } from "node:net";
import type { IncomingHttpHeaders } from "node:http";

export interface WireResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface Exchange {
  method: string;
  /** The request target: path and query, as sent. */
  path: string;
  /** Lower- or mixed-case names; values are sent as given (checked for line breaks). */
  headers: Record<string, string | number>;
  body?: string | Buffer | undefined;
  signal?: AbortSignal | undefined;
  timeoutMs?: number | undefined;
}

/** How long an idle connection is kept: under the gateway's keep-alive (75 s) and common proxies' (60 s). */
const IDLE_MS = 15_000;
const CRLF2 = Buffer.from("\r\n\r\n");
const CRLF = Buffer.from("\r\n");

/** An error like node:http's when a request is aborted through its signal. */
function abortError(signal: AbortSignal): Error {
  const err = new Error("The operation was aborted", { cause: signal.reason }) as Error & { code: string };
  err.name = "AbortError";
  err.code = "ABORT_ERR";
  return err;
}

function hangUp(): Error {
  const err = new Error("socket hang up") as Error & { code: string };
  err.code = "ECONNRESET";
  return err;
}

/** Characters node:http refuses in a header value (CR, LF, NUL and other controls but tab). */
const BAD_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Characters node:http refuses in a request path. */
const BAD_PATH = /[^\u0021-\u00ff]/;

/** The request's head; throws TypeError on a header or path that would break the message. */
export function requestHead(method: string, host: string, path: string, headers: Record<string, string | number>, bodyLength: number | undefined): string {
  if (BAD_PATH.test(path)) throw new TypeError(`request path contains unescaped characters: ${JSON.stringify(path)}`);
  let head = `${method} ${path} HTTP/1.1\r\nhost: ${host}\r\n`;
  for (const name of Object.keys(headers)) {
    const value = String(headers[name]);
    if (!TOKEN.test(name)) throw new TypeError(`invalid header name ${JSON.stringify(name)}`);
    if (BAD_VALUE.test(value)) throw new TypeError(`invalid character in header ${name}`);
    const lower = name.toLowerCase();
    if (lower === "host" || lower === "content-length" || lower === "connection" || lower === "transfer-encoding") continue;
    head += `${name}: ${value}\r\n`;
  }
  if (bodyLength !== undefined) head += `content-length: ${bodyLength}\r\n`;
  return `${head}\r\n`;
}

interface Head {
  status: number;
  headers: IncomingHttpHeaders;
  /** Body framing: bytes left, chunked, or until the connection ends. */
  framing: { kind: "length"; left: number } | { kind: "chunked" } | { kind: "close" };
  close: boolean;
}

/** Parses a response head (without its final blank line); undefined when it is not HTTP/1.x. */
export function parseHead(text: string): Head | undefined {
  const lines = text.split("\r\n");
  const first = lines[0] ?? "";
  if (!first.startsWith("HTTP/1.")) return undefined;
  const status = Number(first.slice(9, 12));
  if (!Number.isInteger(status) || status < 100) return undefined;
  const headers: IncomingHttpHeaders = {};
  const raw = headers as Record<string, string>;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] ?? "";
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    const had = raw[name];
    raw[name] = had === undefined ? value : `${had}, ${value}`;
  }
  const close = /(^|,)\s*close\s*($|,)/i.test(headers.connection ?? "") || first.startsWith("HTTP/1.0");
  let framing: Head["framing"];
  if (status === 204 || status === 304 || (status >= 100 && status < 200)) framing = { kind: "length", left: 0 };
  else if (/chunked/i.test(String(headers["transfer-encoding"] ?? ""))) framing = { kind: "chunked" };
  else if (headers["content-length"] !== undefined) {
    const n = Number(headers["content-length"]);
    if (!Number.isInteger(n) || n < 0) return undefined;
    framing = { kind: "length", left: n };
  } else framing = { kind: "close" };
  return { status, headers, framing, close };
}

interface Pending {
  resolve: (r: WireResponse) => void;
  reject: (err: unknown) => void;
  cleanup: () => void;
}

/** One TCP connection; one exchange at a time. */
class Connection {
  readonly socket: Socket;
  private readonly onFree: (c: Connection) => void;
  private readonly onGone: (c: Connection) => void;
  private pending: Pending | undefined;
  /** Bytes received and not parsed yet. */
  private buf: Buffer | undefined;
  private head: Head | undefined;
  private body: Buffer[] = [];
  private bodyBytes = 0;
  /** Chunked: bytes of the current chunk still to read (its CRLF included), or -1 between chunks. */
  private chunkLeft = -1;
  private trailers = false;
  gone = false;

  constructor(host: string, port: number, onFree: (c: Connection) => void, onGone: (c: Connection) => void) {
    this.onFree = onFree;
    this.onGone = onGone;
    this.socket = connect({ host, port, noDelay: true, keepAlive: true, keepAliveInitialDelay: 10_000 });
    this.socket.on("data", (d: Buffer) => this.onData(d));
    this.socket.on("end", () => this.ended());
    this.socket.on("error", (err) => this.fail(err));
    this.socket.on("close", () => this.fail(hangUp()));
    this.socket.on("timeout", () => this.socket.destroy());
  }

  get busy(): boolean {
    return this.pending !== undefined;
  }

  send(data: string | Buffer[], pending: Pending): void {
    this.pending = pending;
    this.socket.setTimeout(0);
    this.socket.ref();
    if (typeof data === "string") this.socket.write(data);
    else {
      this.socket.cork();
      for (const b of data) this.socket.write(b);
      this.socket.uncork();
    }
  }

  /** Ends the connection; an exchange on it fails with `err`. */
  destroy(err?: Error): void {
    this.fail(err ?? hangUp());
    this.socket.destroy();
  }

  private onData(d: Buffer): void {
    if (this.pending === undefined) {
      // Nothing was asked: a server that talks out of turn cannot be trusted with the next request.
      this.destroy();
      return;
    }
    this.buf = this.buf === undefined ? d : Buffer.concat([this.buf, d]);
    try {
      this.parse();
    } catch (err) {
      this.destroy(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private parse(): void {
    for (;;) {
      const buf = this.buf;
      if (buf === undefined || buf.length === 0) return;
      if (this.head === undefined) {
        const end = buf.indexOf(CRLF2);
        if (end < 0) {
          if (buf.length > 64 * 1024) throw new Error("the response head is over 64 KiB");
          return;
        }
        const head = parseHead(buf.toString("latin1", 0, end));
        if (head === undefined) throw new Error("the server's answer is not an HTTP/1.x response");
        this.buf = buf.subarray(end + 4);
        // An interim answer (100 Continue): the real one follows.
        if (head.status < 200 && head.status !== 101) continue;
        this.head = head;
        if (head.framing.kind === "length" && head.framing.left === 0) {
          this.complete();
          return;
        }
        continue;
      }
      const framing = this.head.framing;
      if (framing.kind === "close") {
        this.take(buf.length);
        return;
      }
      if (framing.kind === "length") {
        const n = Math.min(framing.left, buf.length);
        this.take(n);
        framing.left -= n;
        if (framing.left === 0) this.complete();
        return;
      }
      if (!this.chunked(buf)) return;
    }
  }

  /** Moves `n` bytes of the buffer to the body. */
  private take(n: number): void {
    const buf = this.buf;
    if (buf === undefined) return;
    if (n > 0) {
      this.body.push(buf.subarray(0, n));
      this.bodyBytes += n;
    }
    this.buf = n < buf.length ? buf.subarray(n) : undefined;
  }

  /** One step of a chunked body; false when more bytes are needed (or it completed). */
  private chunked(buf: Buffer): boolean {
    if (this.trailers) {
      const end = buf.indexOf(CRLF);
      if (end < 0) return false;
      this.buf = buf.subarray(end + 2);
      if (end === 0) {
        this.complete();
        return false;
      }
      return true;
    }
    if (this.chunkLeft < 0) {
      const end = buf.indexOf(CRLF);
      if (end < 0) {
        if (buf.length > 4096) throw new Error("a chunk size line is over 4 KiB");
        return false;
      }
      const size = Number.parseInt(buf.toString("latin1", 0, end).split(";")[0] ?? "", 16);
      if (!Number.isInteger(size) || size < 0) throw new Error("bad chunk size in the response");
      this.buf = buf.subarray(end + 2);
      if (size === 0) this.trailers = true;
      else this.chunkLeft = size + 2;
      return true;
    }
    const dataLeft = this.chunkLeft - 2;
    if (dataLeft > 0) {
      const n = Math.min(dataLeft, buf.length);
      this.take(n);
      this.chunkLeft -= n;
      return this.buf !== undefined;
    }
    // The CRLF after the chunk's data.
    if (buf.length < this.chunkLeft) return false;
    this.buf = buf.subarray(this.chunkLeft);
    this.chunkLeft = -1;
    return true;
  }

  private ended(): void {
    if (this.head?.framing.kind === "close") {
      this.complete();
      return;
    }
    this.fail(hangUp());
    this.socket.destroy();
  }

  private complete(): void {
    const head = this.head;
    const pending = this.pending;
    if (head === undefined || pending === undefined) return;
    const body = this.body.length === 1 && this.body[0] !== undefined ? this.body[0] : Buffer.concat(this.body, this.bodyBytes);
    const reusable = !head.close && head.framing.kind !== "close" && (this.buf === undefined || this.buf.length === 0);
    this.reset();
    pending.cleanup();
    if (reusable) {
      this.socket.unref();
      this.socket.setTimeout(IDLE_MS);
      this.onFree(this);
    } else {
      this.gone = true;
      this.onGone(this);
      this.socket.destroy();
    }
    pending.resolve({ status: head.status, headers: head.headers, body });
  }

  private reset(): void {
    this.pending = undefined;
    this.buf = undefined;
    this.head = undefined;
    this.body = [];
    this.bodyBytes = 0;
    this.chunkLeft = -1;
    this.trailers = false;
  }

  private fail(err: unknown): void {
    const pending = this.pending;
    this.reset();
    if (!this.gone) {
      this.gone = true;
      this.onGone(this);
    }
    if (pending !== undefined) {
      pending.cleanup();
      pending.reject(err);
    }
  }
}

/** Kept-alive connections to one server. */
export class ConnectionPool {
  private readonly host: string;
  private readonly port: number;
  private readonly hostHeader: string;
  private readonly maxSockets: number;
  private readonly free: Connection[] = [];
  private readonly all = new Set<Connection>();
  private readonly waiting: (() => void)[] = [];
  private closed = false;

  constructor(host: string, port: number, maxSockets: number) {
    this.host = host;
    this.port = port;
    this.hostHeader = port === 80 ? host : `${host.includes(":") ? `[${host}]` : host}:${port}`;
    this.maxSockets = Math.max(1, maxSockets);
  }

  request(x: Exchange): Promise<WireResponse> {
    let head: string;
    try {
      head = requestHead(x.method, this.hostHeader, x.path, x.headers, x.body === undefined ? undefined : Buffer.byteLength(x.body));
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    if (x.signal?.aborted === true) return Promise.reject(abortError(x.signal));
    return new Promise<WireResponse>((resolve, reject) => {
      let conn: Connection | undefined;
      let timer: NodeJS.Timeout | undefined;
      let queued: (() => void) | undefined;
      const onAbort = (): void => {
        if (x.signal !== undefined) stop(abortError(x.signal));
      };
      const cleanup = (): void => {
        if (timer !== undefined) clearTimeout(timer);
        x.signal?.removeEventListener("abort", onAbort);
      };
      const stop = (err: Error): void => {
        if (conn !== undefined) {
          conn.destroy(err);
          return;
        }
        if (queued !== undefined) {
          const i = this.waiting.indexOf(queued);
          if (i >= 0) this.waiting.splice(i, 1);
        }
        cleanup();
        reject(err);
      };
      x.signal?.addEventListener("abort", onAbort, { once: true });
      if (x.timeoutMs !== undefined) {
        const ms = x.timeoutMs;
        timer = setTimeout(() => stop(new Error(`request to ${x.path} timed out after ${ms} ms`)), ms);
      }
      const go = (): void => {
        queued = undefined;
        if (this.closed) {
          cleanup();
          reject(new Error("the client is closed"));
          return;
        }
        conn = this.take();
        const data = x.body === undefined ? head : typeof x.body === "string" && isAscii(head) ? head + x.body : [Buffer.from(head, "latin1"), typeof x.body === "string" ? Buffer.from(x.body) : x.body];
        conn.send(data, { resolve, reject, cleanup });
      };
      if (this.free.length > 0 || this.all.size < this.maxSockets) go();
      else {
        queued = go;
        this.waiting.push(go);
      }
    });
  }

  /** Ends every connection; exchanges in flight fail. */
  close(): void {
    this.closed = true;
    for (const c of [...this.all]) c.destroy();
    this.free.length = 0;
    for (const w of this.waiting.splice(0)) w();
  }

  /** A free connection (the most recently used: the likeliest to be alive), or a new one. */
  private take(): Connection {
    for (;;) {
      const c = this.free.pop();
      if (c === undefined) break;
      if (!c.gone && !c.socket.destroyed) return c;
    }
    const c = new Connection(
      this.host,
      this.port,
      (free) => this.released(free),
      (gone) => this.dropped(gone),
    );
    this.all.add(c);
    return c;
  }

  private released(c: Connection): void {
    const next = this.waiting.shift();
    this.free.push(c);
    next?.();
  }

  private dropped(c: Connection): void {
    this.all.delete(c);
    const i = this.free.indexOf(c);
    if (i >= 0) this.free.splice(i, 1);
    // A slot opened: the first waiting request gets a new connection.
    const next = this.waiting.shift();
    next?.();
  }
}

function isAscii(s: string): boolean {
  return /^[\x00-\x7f]*$/.test(s);
}
