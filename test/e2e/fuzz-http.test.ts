// Bad HTTP input, generated: a seeded random generator sends malformed JSON, wrong types, bad ids,
// bad durations and per-task options, bad encodings, oversized and slow bodies to every route of
// a `hearth gateway` process. Every answer must be a 2xx (a request that happened to be valid) or
// a 4xx with an error message (504 only for :run's own wait); the process must never crash and no
// task it accepted may be lost: at the end a real worker completes every accepted task.
//
// Default (npm test): 1200 requests. Longer: HEARTH_FUZZ_REQUESTS=20000; replay: HEARTH_FUZZ_SEED=n.
import assert from "node:assert/strict";
import { connect } from "node:net";
import { join } from "node:path";
import { describe, it } from "node:test";
import { startGatewayProcess, startPythonWorker, startWorker, tempDir, until } from "./harness.ts";

const REQUESTS = Number(process.env["HEARTH_FUZZ_REQUESTS"] ?? 1200);
const SEED = Number(process.env["HEARTH_FUZZ_SEED"] ?? Math.floor(Math.random() * 2 ** 31));

/** mulberry32: small, seeded, good enough to pick cases. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Req {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer | undefined;
  route: string;
}

function generator(random: () => number, known: { taskIds: string[] }) {
  const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
  const str = (n: number): string => Array.from({ length: n }, () => String.fromCharCode(32 + Math.floor(random() * 95))).join("");
  const value = (depth = 0): unknown => {
    switch (Math.floor(random() * (depth > 2 ? 6 : 8))) {
      case 0:
        return null;
      case 1:
        return random() < 0.5;
      case 2:
        return pick([0, -1, 1.5, 1e308, -0, 2 ** 53 + 1, 65, 75, 124]);
      case 3:
        return str(Math.floor(random() * 20));
      case 4:
        return "x".repeat(pick([0, 300, 70_000]));
      case 5:
        return pick(["ready", "setup", "draining", "failed", "UserError", "Disrupted", "ns/name", "default/fz", "/", "a/"]);
      case 6:
        return Array.from({ length: Math.floor(random() * 4) }, () => value(depth + 1));
      default:
        return Object.fromEntries(Array.from({ length: Math.floor(random() * 5) }, () => [pick(["function", "workerId", "max", "waitMs", "leaseId", "output", "outputB64", "error", "type", "exitCode", "message", "value", "state", "tasks", "results", "inputs", "id", str(4)]), value(depth + 1)]));
    }
  };
  const id = (): string =>
    pick([
      known.taskIds.length > 0 ? pick(known.taskIds) : "none",
      "nope",
      "%E0%A4%A",
      "%00",
      "..%2F..%2Fetc",
      "wf-" + str(5).replace(/[/?#%]/g, "x"),
      "x".repeat(5000),
      encodeURIComponent(str(12)),
    ]);
  const duration = (): string => pick(["", "1", "-1s", "soon", "1e9s", "100ms", "0", "NaNs", "5m", "999999999999h", "%ZZ"]);
  const body = (): Buffer | undefined => {
    switch (Math.floor(random() * 9)) {
      case 0:
        return undefined;
      case 1:
        return Buffer.from(pick(["{", "{nope", "[1,", '{"a":', "\u0000", "nul", "tru", '"unterminated', "{}}"]));
      case 2:
        return Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1]); // invalid UTF-8
      case 3:
        return Buffer.alloc(pick([5000, 70_000, 3 * 1024 * 1024]), 0x61); // over the limits
      case 4:
        return Buffer.from(JSON.stringify("y".repeat(5000)));
      default:
        return Buffer.from(JSON.stringify(value()));
    }
  };
  const headers = (): Record<string, string> => {
    const h: Record<string, string> = {};
    if (random() < 0.5) h["content-type"] = pick(["application/json", "application/x-python-pickle", "text/plain", "application/json; charset=latin1", "multipart/form-data; boundary=x"]);
    if (random() < 0.3) h["idempotency-key"] = pick(["k", "k".repeat(257), "fuzz-" + Math.floor(random() * 20), " ", "é".normalize("NFD").replace(/[^\x20-\x7e]/g, "?")]);
    if (random() < 0.1) h["authorization"] = pick(["Bearer", "Bearer x", "Basic Zm9vOmJhcg==", "x".repeat(3000)]);
    return h;
  };
  const fn = (): string => pick(["fz", "fz", "fz", "pk", "pk", "nope", "%E0%A4%A", "", "a:b"]);
  const query = (): string => {
    const parts = [];
    if (random() < 0.4) parts.push(`timeout=${duration()}`);
    if (random() < 0.2) parts.push(`wait=${duration()}`);
    if (random() < 0.2) parts.push(`timeoutSeconds=${pick(["0", "1", "abc", "86401", "1.5", "", "30"])}`);
    if (random() < 0.2) parts.push(`${pick(["maxRetries", "initialBackoffSeconds", "maxBackoffSeconds", "multiplier"])}=${pick(["-1", "0", "101", "x", "2", "1e3"])}`);
    return parts.length === 0 ? "" : `?${parts.join("&")}`;
  };
  return (): Req => {
    const kind = Math.floor(random() * 14);
    const h = headers();
    switch (kind) {
      case 0:
      case 1:
      case 2: {
        const action = pick([":run", ":push", ":pushMany", ":nope", ""]);
        // :run of a valid input would wait for a worker: always give it a short wait unless fuzzed.
        // A valid long ?timeout= (5m, …) would legitimately hold the request past the client's
        // 15 s abort while no worker runs: keep invalid ones, shorten valid long ones.
        let q = query();
        if (action === ":run") q = q.replace(/\btimeout=(5m|1e9s|999999999999h)(?=&|$)/, "timeout=2s");
        if (action === ":run" && !q.includes("timeout=")) q += `${q === "" ? "?" : "&"}timeout=50ms`;
        return { method: pick(["POST", "POST", "GET", "PUT"]), path: `/v1/namespaces/${pick(["default", "default", "default", "", "x".repeat(300), "%ZZ"])}/functions/${fn()}${action}${q}`, headers: h, body: body(), route: `fn${action}` };
      }
      case 3:
        return { method: pick(["GET", "DELETE"]), path: `/v1/tasks/${id()}${random() < 0.5 ? `?wait=${pick(["10ms", "soon", "-5s"])}` : ""}`, headers: h, body: undefined, route: "task" };
      case 4:
        return { method: "GET", path: `/v1/tasks/${pick(["nope", "%E0%A4%A", "x".repeat(3000)])}/events`, headers: h, body: undefined, route: "events" };
      case 5:
      case 6:
        return { method: "POST", path: `/v1/tasks/${id()}/${pick(["progress", "complete", "fail", "claim", "steps"])}`, headers: h, body: body(), route: "task-action" };
      case 7:
      case 8:
      case 9:
        return { method: "POST", path: `/v1/workers/${pick(["lease", "heartbeat", "results", "nope"])}`, headers: h, body: random() < 0.7 ? Buffer.from(JSON.stringify({ ...(value() as object), function: pick(["default/fz", "default/pk", "x", 5, null]), workerId: pick(["w", 1, "x".repeat(300)]), waitMs: 0 })) : body(), route: "worker" };
      case 10:
        return { method: pick(["GET", "DELETE"]), path: `/v1/namespaces/default/functions/${pick(["nope", "%ZZ", "zz"])}/${pick(["stats", "tasks", "x"])}`, headers: h, body: undefined, route: "fn-sub" };
      case 11:
        return { method: "POST", path: `/v1/namespaces/default/workflows/${pick(["nope:run", "x:push", "%ZZ"])}${query()}`, headers: h, body: body(), route: "workflow" };
      case 12:
        return { method: pick(["GET", "POST"]), path: pick(["/v1/stats", "/v1/setup", "/metrics", "/healthz", "/readyz", "/", "/console/../../etc/passwd", "/console/%2e%2e/x", "/v2/x", "//", "/v1", "/v1/"]), headers: h, body: undefined, route: "misc" };
      default:
        return { method: pick(["PATCH", "OPTIONS", "HEAD", "PUT"]), path: `/${str(10).replace(/[\s#?]/g, "")}`, headers: h, body: undefined, route: "other" };
    }
  };
}

/** Sends headers and part of a body, slowly, then hangs up: must not wedge the gateway. */
function slowBody(port: number, path: string): () => void {
  const sock = connect(port, "127.0.0.1");
  sock.on("error", () => undefined);
  sock.write(`POST ${path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n{"a":`);
  const timer = setInterval(() => sock.write("1"), 200);
  return () => {
    clearInterval(timer);
    sock.destroy();
  };
}

describe("fuzz: generated bad HTTP input", { timeout: 10 * 60_000 }, () => {
  it(`${REQUESTS} generated requests over every route: 4xx with a message, no crash, nothing accepted lost (seed ${SEED})`, async () => {
    const dir = tempDir("fuzz");
    const gw = await startGatewayProcess(dir.path, join(dir.path, "gw.db"), [{ name: "fz" }], undefined, [
      { apiVersion: "hearth.dev/v1alpha1", kind: "Function", metadata: { name: "pk", namespace: "default" }, spec: { image: "example/none:1", handler: "m:f", runtime: "python", encoding: "pickle" } },
    ]);
    const port = Number(new URL(gw.url).port);
    const known = { taskIds: [] as string[] };
    const accepted = new Set<string>();
    const next = generator(rng(SEED), known);
    const statuses = new Map<number, number>();
    const problems: string[] = [];
    const slow = Array.from({ length: 20 }, (_, i) => slowBody(port, i % 2 === 0 ? "/v1/namespaces/default/functions/fz:push" : "/v1/workers/lease"));
    try {
      // Some honest work first: it must survive everything that follows.
      for (let i = 0; i < 20; i++) {
        const res = await fetch(`${gw.url}/v1/namespaces/default/functions/fz:push`, { method: "POST", body: JSON.stringify({ honest: i }), headers: { "content-type": "application/json" } });
        assert.equal(res.status, 202);
        const id = ((await res.json()) as { id: string }).id;
        accepted.add(id);
        known.taskIds.push(id);
      }
      let sent = 0;
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (sent < REQUESTS) {
            sent++;
            const r = next();
            let status: number;
            let text: string;
            let res: Response;
            try {
              res = await fetch(`${gw.url}${r.path}`, { method: r.method, headers: r.headers, ...(r.body !== undefined && r.method !== "GET" && r.method !== "HEAD" ? { body: new Uint8Array(r.body) } : {}), signal: AbortSignal.timeout(15_000) });
              status = res.status;
              if (r.route === "events" && status === 200) {
                text = "";
                await res.body?.cancel();
              } else text = await res.text();
            } catch (err) {
              // A 413 closes the connection while we may still be sending: the answer was given.
              if (r.body !== undefined && r.body.length > 1024 * 1024) continue;
              problems.push(`${r.method} ${r.path.slice(0, 120)}: request failed: ${String(err)}`);
              continue;
            }
            statuses.set(status, (statuses.get(status) ?? 0) + 1);
            const okError = status >= 400 && status < 500;
            const runWait = status === 504 && r.route === "fn:run";
            if (status >= 500 && !runWait) problems.push(`${r.method} ${r.path.slice(0, 120)} → ${status}: ${text.slice(0, 200)}`);
            if ((okError || runWait) && r.method !== "HEAD") {
              let message: unknown;
              try {
                message = (JSON.parse(text) as { error?: { message?: unknown } }).error?.message;
              } catch {
                message = undefined;
              }
              // The console answers its own 404 page in HTML; everything else is a JSON error.
              if ((typeof message !== "string" || message === "") && !text.includes("<html")) problems.push(`${r.method} ${r.path.slice(0, 120)} → ${status} without a message: ${text.slice(0, 200)}`);
            }
            if ((status === 202 || status === 200 || runWait) && r.route.startsWith("fn:")) {
              const id = res.headers.get("hearth-task-id");
              if (id !== null) {
                accepted.add(id);
                known.taskIds.push(id);
              }
              if (r.route === "fn:pushMany" && status === 202) for (const i of (JSON.parse(text) as { ids: string[] }).ids) accepted.add(i);
            }
          }
        }),
      );
      const health = await fetch(`${gw.url}/healthz`);
      assert.equal(health.status, 200, "the gateway still answers while slow bodies hang");
      assert.equal(gw.proc.exitCode, null, "the gateway process never crashed");
      console.log(`fuzz-http: seed=${SEED} requests=${REQUESTS} statuses=${JSON.stringify(Object.fromEntries([...statuses].sort()))} accepted=${accepted.size} problems=${problems.length}`);
      assert.deepEqual([...new Set(problems)].slice(0, 20), [], `seed ${SEED}`);

      // Nothing accepted is lost: a real worker runs every accepted task that nobody cancelled.
      // fz is a Node Function, pk a Python one with pickle: each gets a real worker of its runtime.
      const workers = [startWorker({ gatewayUrl: gw.url, fn: "default/fz", handler: "chaos:stamp" }), startPythonWorker({ gatewayUrl: gw.url, fn: "default/pk", handler: "anything:echo" })];
      try {
        for (const id of accepted) {
          let last: unknown;
          const doc = await until(
            async () => {
              const res = await fetch(`${gw.url}/v1/tasks/${id}?wait=5s`);
              assert.equal(res.status, 200, `accepted task ${id} is known`);
              const d = (await res.json()) as { status: string; error?: { type: string; message?: string } };
              last = d;
              return d.status === "succeeded" || d.status === "failed" || d.status === "cancelled" ? d : undefined;
            },
            `accepted task ${id} to finish`,
            60_000,
          ).catch((err: unknown) => {
            throw new Error(`${String(err)}; last seen: ${JSON.stringify(last)}`);
          });
          // A fuzzed DELETE may legitimately cancel an accepted task, and a fuzzed input the handler's
          // parameters cannot take is answered InputRejected by the worker. A fuzzed lease (the fake
          // worker "w") may take a task and never report: with a fuzzed short timeout and no retry
          // left it fails Timeout naming that worker. It must not fail otherwise.
          const fakeWorkerTimeout = doc.status === "failed" && doc.error?.type === "Timeout" && /worker w did not report/.test(doc.error.message ?? "");
          const answered = doc.status === "succeeded" || doc.status === "cancelled" || (doc.status === "failed" && doc.error?.type === "InputRejected") || fakeWorkerTimeout;
          assert.ok(answered, `task ${id}: ${JSON.stringify(doc)}`);
        }
      } finally {
        await Promise.all(workers.map((w) => w.kill()));
      }
    } finally {
      for (const stop of slow) stop();
      await gw.kill("SIGKILL");
      dir.remove();
    }
  });
});
