import { request } from "node:https";
import { createServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { LOOPBACK } from "./plan.ts";

/** GET an https URL on loopback (self-signed certificates): status code, or undefined if unreachable. */
export async function httpsStatus(url: string, token?: string, timeoutMs = 2000): Promise<number | undefined> {
  const target = new URL(url);
  if (target.hostname !== LOOPBACK) throw new Error(`refusing to probe non-loopback ${url}`);
  return new Promise((resolve) => {
    const req = request(
      url,
      {
        method: "GET",
        // The components' serving certificates are self-signed, on loopback, generated per run.
        rejectUnauthorized: false,
        timeout: timeoutMs,
        headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
      },
      (res) => {
        res.resume();
        resolve(res.statusCode);
      },
    );
    req.once("timeout", () => req.destroy());
    req.once("error", () => resolve(undefined));
    req.end();
  });
}

/** Distinct free TCP ports on 127.0.0.1 (held together while allocating so they differ). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const s = createServer();
          s.once("error", reject);
          s.listen(0, LOOPBACK, () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => {
    const addr = s.address();
    if (addr === null || typeof addr === "string") throw new Error("unexpected server address");
    return addr.port;
  });
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  return ports;
}

export interface PollOptions {
  readonly timeoutMs: number;
  readonly intervalMs?: number;
  /** What is awaited, for the timeout error. */
  readonly what: string;
  readonly signal?: AbortSignal;
}

/** Calls `check` until it returns a value other than undefined; throws after timeoutMs. */
export async function pollUntil<T>(check: () => Promise<T | undefined>, options: PollOptions): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let lastError: unknown;
  for (;;) {
    options.signal?.throwIfAborted();
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const detail = lastError instanceof Error ? `: ${lastError.message}` : "";
      throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${options.what}${detail}`);
    }
    await sleep(options.intervalMs ?? 100, undefined, options.signal === undefined ? {} : { signal: options.signal });
  }
}
