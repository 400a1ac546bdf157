// Downloads a URL artifact into a per-node cache, once: the file lands at
// <cacheDir>/<key>/<name> where key is the expected sha256 (or a hash of the URL when none is
// given), so a second worker on the node (or a restarted one) finds it and downloads nothing.
// Interrupted downloads resume from the partial file with an HTTP Range request; the result is
// verified against sha256 before it is renamed into place; concurrent fetchers of the same
// artifact on one node wait for each other through a lock file. Progress goes to `log`.
// s3://bucket/key hrefs are fetched from S3 or an S3-compatible store, each GET (the resuming
// one too) signed with SigV4 (src/artifacts/s3.ts); everything else is the same.
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, open, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { pipeline } from "node:stream/promises";
import { isS3Href, parseS3Href, s3ErrorCode, s3Get, type S3Options } from "./s3.ts";
import type { Credentials } from "./sigv4.ts";

export type ArtifactErrorReason = "DownloadFailed" | "ChecksumMismatch" | "InvalidArtifact";

export class ArtifactError extends Error {
  readonly reason: ArtifactErrorReason;
  constructor(reason: ArtifactErrorReason, message: string) {
    super(message);
    this.reason = reason;
  }
}

export interface FetchRequest {
  name: string;
  href: string;
  /** Lowercase hex; verified when given. */
  sha256?: string | undefined;
  cacheDir: string;
  headers?: Record<string, string>;
  /** s3://bucket/key hrefs: the store (endpoint, region) and the credentials to sign with (none: unsigned). */
  s3?: (S3Options & { credentials?: Credentials | undefined }) | undefined;
  log?: (line: string) => void;
  /** Bytes so far and the total when known, at most every 2 s or 10 % (Function status progress). */
  onProgress?: (got: number, total: number | undefined) => void;
  signal?: AbortSignal;
  /** How long a lock held by another fetcher may go without progress before it is taken over. Default 10 min. */
  staleLockMs?: number;
}

export interface FetchResult {
  /** Directory holding the file (what the worker mounts or is told). */
  dir: string;
  path: string;
  bytes: number;
  /** Found in the cache: nothing was downloaded. */
  cached: boolean;
  /** Bytes downloaded by this call. */
  downloaded: number;
}

export function cacheKey(href: string, sha256: string | undefined): string {
  return sha256 !== undefined ? `sha256-${sha256.toLowerCase()}` : `url-${createHash("sha256").update(href).digest("hex").slice(0, 32)}`;
}

/** The file name inside the cache entry: the URL's last path segment, sanitised. */
export function fileNameOf(href: string): string {
  let last = "artifact";
  try {
    last = basename(new URL(href).pathname) || "artifact";
  } catch {
    throw new ArtifactError("InvalidArtifact", `not a URL: ${href}`);
  }
  const clean = last.replace(/[^A-Za-z0-9._-]/g, "_");
  return clean === "" || clean === "." || clean === ".." ? "artifact" : clean;
}

async function sizeOf(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size;
  } catch {
    return undefined;
  }
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  await pipeline(createReadStream(path), hash);
  return hash.digest("hex");
}

const fmtMB = (n: number): string => `${(n / 1e6).toFixed(1)} MB`;

async function withLock<T>(lockPath: string, staleMs: number, signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      const h = await open(lockPath, "wx");
      await h.writeFile(String(process.pid));
      await h.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const s = await stat(lockPath).catch(() => undefined);
      // A fetcher that died leaves its lock: take it over once nobody touched it for a while.
      if (s !== undefined && Date.now() - s.mtimeMs > staleMs) await rm(lockPath, { force: true });
      else await new Promise((r) => setTimeout(r, 200));
      if (signal?.aborted === true) throw new ArtifactError("DownloadFailed", "aborted");
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lockPath, { force: true });
  }
}

/** Fetches one artifact into the cache (or finds it there). Throws ArtifactError. */
export async function fetchArtifact(req: FetchRequest): Promise<FetchResult> {
  const log = req.log ?? (() => undefined);
  const expected = req.sha256?.toLowerCase();
  if (expected !== undefined && !/^[0-9a-f]{64}$/.test(expected)) throw new ArtifactError("InvalidArtifact", `artifact ${req.name}: sha256 must be 64 hex digits`);
  const dir = join(req.cacheDir, cacheKey(req.href, expected));
  const path = join(dir, fileNameOf(req.href));
  const done = join(dir, ".complete");
  await mkdir(dir, { recursive: true });
  const hit = async (): Promise<FetchResult | undefined> => {
    const marker = await readFile(done, "utf8").catch(() => undefined);
    const size = await sizeOf(path);
    return marker !== undefined && size !== undefined ? { dir, path, bytes: size, cached: true, downloaded: 0 } : undefined;
  };
  const cached = await hit();
  if (cached !== undefined) {
    log(`artifact ${req.name}: cached (${fmtMB(cached.bytes)}), nothing to download`);
    return cached;
  }
  return withLock(join(dir, ".lock"), req.staleLockMs ?? 600_000, req.signal, async () => {
    // Another fetcher may have finished while we waited for the lock.
    const again = await hit();
    if (again !== undefined) return again;
    const partial = `${path}.partial`;
    const downloaded = await download(req, partial, join(dir, ".lock"), log);
    if (expected !== undefined) {
      const actual = await sha256File(partial);
      if (actual !== expected) {
        // A corrupt partial must not be resumed: start from nothing next time.
        await rm(partial, { force: true });
        throw new ArtifactError("ChecksumMismatch", `artifact ${req.name}: sha256 of ${req.href} is ${actual}, expected ${expected}`);
      }
    }
    await rename(partial, path);
    await writeFile(done, new Date().toISOString());
    const bytes = (await sizeOf(path)) ?? 0;
    log(`artifact ${req.name}: downloaded ${fmtMB(bytes)}${expected !== undefined ? ", sha256 verified" : ""}`);
    return { dir, path, bytes, cached: false, downloaded };
  });
}

async function download(req: FetchRequest, partial: string, lockPath: string, log: (line: string) => void): Promise<number> {
  const have = (await sizeOf(partial)) ?? 0;
  const extra: Record<string, string> = {};
  if (have > 0) extra["range"] = `bytes=${have}-`;
  const { url, headers } = requestOf(req, extra);
  let res: IncomingMessage;
  try {
    res = await httpGet(url, headers, req.signal);
  } catch (err) {
    throw new ArtifactError("DownloadFailed", `artifact ${req.name}: cannot fetch ${req.href}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const status = res.statusCode ?? 0;
  if (status === 416 && have > 0) {
    // The partial is already whole (we died between download and rename).
    res.resume();
    return 0;
  }
  if (status !== 200 && status !== 206) {
    // S3 says why in its body (AccessDenied, SignatureDoesNotMatch, NoSuchKey, …).
    const code = isS3Href(req.href) ? s3ErrorCode(await textOf(res, 4096)) : undefined;
    res.resume();
    throw new ArtifactError("DownloadFailed", `artifact ${req.name}: GET ${req.href} answered ${status}${code !== undefined ? ` ${code}` : ""}${status === 403 && isS3Href(req.href) ? " (check the secretRef's credentials and the bucket's policy)" : ""}`);
  }
  const resume = status === 206 && have > 0;
  const total = totalSize(res, resume ? have : 0);
  if (resume) log(`artifact ${req.name}: resuming at ${fmtMB(have)}${total !== undefined ? ` of ${fmtMB(total)}` : ""}`);
  else log(`artifact ${req.name}: downloading ${req.href}${total !== undefined ? ` (${fmtMB(total)})` : ""}`);
  let got = resume ? have : 0;
  let lastLog = Date.now();
  let lastPct = -1;
  const started = Date.now();
  const counted = res;
  counted.on("data", (chunk: Buffer) => {
    got += chunk.length;
    const now = Date.now();
    const pct = total !== undefined && total > 0 ? Math.floor((got / total) * 100) : -1;
    if (now - lastLog >= 2000 || (pct >= 0 && pct >= lastPct + 10)) {
      lastLog = now;
      lastPct = pct;
      const rate = (got - (resume ? have : 0)) / Math.max(0.001, (now - started) / 1000);
      log(`artifact ${req.name}: ${pct >= 0 ? `${pct}% (` : ""}${fmtMB(got)}${total !== undefined ? ` of ${fmtMB(total)}` : ""}${pct >= 0 ? ")" : ""}, ${fmtMB(rate)}/s`);
      req.onProgress?.(got, total);
      // Keeps the lock fresh for fetchers waiting on it.
      void writeFile(lockPath, String(process.pid)).catch(() => undefined);
    }
  });
  try {
    await pipeline(counted, createWriteStream(partial, { flags: resume ? "a" : "w" }));
  } catch (err) {
    throw new ArtifactError("DownloadFailed", `artifact ${req.name}: download of ${req.href} interrupted at ${fmtMB(got)} (resumable): ${err instanceof Error ? err.message : String(err)}`);
  }
  if (total !== undefined && got !== total) {
    throw new ArtifactError("DownloadFailed", `artifact ${req.name}: download of ${req.href} ended at ${fmtMB(got)} of ${fmtMB(total)} (resumable)`);
  }
  return got - (resume ? have : 0);
}

/** The URL and headers of one GET: as given for http(s), the store's URL and a SigV4 signature (made now) for s3://. */
function requestOf(req: FetchRequest, extra: Record<string, string>): { url: string; headers: Record<string, string> } {
  if (!isS3Href(req.href)) return { url: req.href, headers: { ...req.headers, ...extra } };
  const loc = parseS3Href(req.href);
  if (loc === undefined) throw new ArtifactError("InvalidArtifact", `artifact ${req.name}: ${req.href} is not s3://<bucket>/<key>`);
  const { url, headers } = s3Get(loc, req.s3 ?? {}, req.s3?.credentials, extra, new Date());
  return { url: url.toString(), headers };
}

function totalSize(res: IncomingMessage, offset: number): number | undefined {
  const range = res.headers["content-range"];
  const m = range === undefined ? null : /\/(\d+)$/.exec(range);
  if (m?.[1] !== undefined) return Number(m[1]);
  const len = res.headers["content-length"];
  return len === undefined ? undefined : offset + Number(len);
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * One GET with node:http(s), following up to 5 redirects (credentials are not sent to another
 * origin). Not the global fetch: its HTTP/1 parser (undici in Node 24) crashes the process with an
 * uncatchable assertion when a server closes the connection while the body is held back by a
 * slow disk (nodejs/undici#5360), which S3-compatible servers that close after a response trigger.
 */
async function httpGet(url: string, headers: Record<string, string>, signal: AbortSignal | undefined, hops = 0): Promise<IncomingMessage> {
  const u = new URL(url);
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error(`unsupported protocol ${u.protocol}`);
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    const r = (u.protocol === "https:" ? httpsRequest : httpRequest)(u, { method: "GET", headers, ...(signal !== undefined ? { signal } : {}) }, resolve);
    r.once("error", reject);
    r.end();
  });
  const location = res.headers.location;
  if (!REDIRECTS.has(res.statusCode ?? 0) || location === undefined) return res;
  res.resume();
  if (hops >= 5) throw new Error("more than 5 redirects");
  const next = new URL(location, u);
  const kept = next.origin === u.origin ? headers : Object.fromEntries(Object.entries(headers).filter(([k]) => !/^(authorization|cookie|x-amz-.*)$/i.test(k)));
  return httpGet(next.toString(), kept, signal, hops + 1);
}

/** Up to `max` characters of a (small, error) body. */
async function textOf(res: IncomingMessage, max: number): Promise<string> {
  let text = "";
  try {
    for await (const chunk of res) {
      text += String(chunk);
      if (text.length >= max) break;
    }
  } catch {
    // a body cut short says what it said
  }
  return text.slice(0, max);
}
