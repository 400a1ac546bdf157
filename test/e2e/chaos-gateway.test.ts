// Chaos: the gateway SIGKILLed at random moments under load from real worker processes and
// callers using push and run, restarted each time on the same store. Every accepted task must
// complete, each idempotency key must name one task, and no task may ever be seen with two
// different outputs (the handler stamps each execution with a nonce). A quarter of the requests
// are `:run` WITHOUT an Idempotency-Key (the hot path that commits a run's row with its outcome):
// a 200 such a caller saw must name a task the restarted gateway still has, with the same output.
//
// The killer keeps going while requests are being submitted (at least HEARTH_CHAOS_KILLS times),
// sleeping a random 1/4..1 of HEARTH_CHAOS_KILL_MS between kills.
// Default (npm test): 400 tasks, ≥ 4 kills, every ≤ 2 s (about 45 s on a quiet machine).
// Long mode (the figures):
//   HEARTH_CHAOS_TASKS=10000 HEARTH_CHAOS_KILLS=10 HEARTH_CHAOS_KILL_MS=8000 npx node --test test/e2e/chaos-gateway.test.ts
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort, startGatewayProcess, startWorker, tempDir, until, type GatewayProcess, type WorkerProcess } from "./harness.ts";

const TASKS = Number(process.env["HEARTH_CHAOS_TASKS"] ?? 400);
const KILLS = Number(process.env["HEARTH_CHAOS_KILLS"] ?? 4);
const KILL_MS = Number(process.env["HEARTH_CHAOS_KILL_MS"] ?? 2000);
const CONCURRENCY = 32;

interface Ledger {
  /** Idempotency key → every task id an answer named for it. */
  idsOfKey: Map<string, Set<string>>;
  /** Task id → every output anyone was shown for it (JSON text). */
  outputs: Map<string, Set<string>>;
  accepted: Set<string>;
  /** Logical requests (by index) that got an answer naming a task. */
  answered: Set<number>;
}

function note<K, V>(m: Map<K, Set<V>>, k: K, v: V): void {
  let s = m.get(k);
  if (s === undefined) m.set(k, (s = new Set()));
  s.add(v);
}

/**
 * One logical request, retried until the gateway accepts it (or answers it): with its key for
 * push and keyed run; a keyless run is simply sent again (an unanswered attempt was never accepted).
 */
async function submit(url: () => string, i: number, ledger: Ledger): Promise<void> {
  const key = `chaos-${i}`;
  const kind = i % 2 === 0 ? "push" : "run";
  const keyed = i % 4 !== 3;
  for (let attempt = 0; ; attempt++) {
    try {
      const res = await fetch(`${url()}/v1/namespaces/default/functions/stamp:${kind}${kind === "run" ? "?timeout=20s" : ""}`, {
        method: "POST",
        headers: { "content-type": "application/json", ...(keyed ? { "idempotency-key": key } : {}) },
        body: JSON.stringify({ i }),
        signal: AbortSignal.timeout(30_000),
      });
      const text = await res.text();
      const id = res.headers.get("hearth-task-id");
      if (id !== null && (res.status === 200 || res.status === 202 || res.status === 504)) {
        if (keyed) note(ledger.idsOfKey, key, id);
        ledger.accepted.add(id);
        ledger.answered.add(i);
        if (kind === "run" && res.status === 200) note(ledger.outputs, id, text);
        if (kind === "run" && res.status === 504 && keyed) continue; // still running: ask again with the key
        return;
      }
      // 503 (store or registry not ready) and anything a dying gateway says: retry.
      assert.ok(res.status >= 500, `unexpected ${res.status} for ${key}: ${text}`);
    } catch (err) {
      if (err instanceof assert.AssertionError) throw err;
      // Connection refused or reset: the gateway is down; retrying is safe (a key, or never answered).
    }
    await sleep(Math.min(50 * 2 ** Math.min(attempt, 5), 1000));
  }
}

describe("chaos: gateway kill -9 under load", { timeout: 20 * 60_000 }, () => {
  it(`every accepted task of ${TASKS} completes once through ${KILLS} SIGKILLs of the gateway`, async () => {
    const dir = tempDir("chaos");
    const store = join(dir.path, "gw.db");
    const port = await freePort();
    const fns = [{ name: "stamp", timeoutSeconds: 30 }];
    let gw: GatewayProcess = await startGatewayProcess(dir.path, store, fns, port);
    const url = (): string => gw.url;
    const workers: WorkerProcess[] = [0, 1].map(() => startWorker({ gatewayUrl: gw.url, fn: "default/stamp", handler: "chaos:stamp", env: { HEARTH_CONCURRENCY: "8" } }));
    const ledger: Ledger = { idsOfKey: new Map(), outputs: new Map(), accepted: new Set(), answered: new Set() };
    const started = Date.now();
    let kills = 0;
    let submitting = true;
    // Set when the test ends either way, so a failure stops the killer instead of leaving it
    // restarting gateways (and the test process alive) forever.
    let stopped = false;
    let killer: Promise<void> = Promise.resolve();
    try {
      killer = (async () => {
        while ((kills < KILLS || submitting) && !stopped) {
          await sleep(KILL_MS / 4 + Math.random() * (KILL_MS * 0.75));
          if (stopped) return;
          await gw.kill("SIGKILL");
          kills++;
          gw = await startGatewayProcess(dir.path, store, fns, port);
        }
      })();
      let next = 0;
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (next < TASKS) await submit(url, next++, ledger);
        }),
      );
      submitting = false;
      await killer;

      // Every accepted task reaches an end; read each one's outcome (twice, across one more kill).
      const settle = async (): Promise<void> => {
        for (const id of ledger.accepted) {
          const doc = await until(
            async () => {
              try {
                const res = await fetch(`${url()}/v1/tasks/${id}?wait=5s`, { signal: AbortSignal.timeout(10_000) });
                if (res.status !== 200) return undefined;
                const d = (await res.json()) as { status: string; output?: unknown };
                return d.status === "succeeded" || d.status === "failed" || d.status === "cancelled" ? d : undefined;
              } catch {
                return undefined;
              }
            },
            `task ${id} to finish`,
            120_000,
          );
          assert.equal(doc.status, "succeeded", `task ${id}: ${JSON.stringify(doc)}`);
          note(ledger.outputs, id, JSON.stringify(doc.output));
        }
      };
      await settle();
      await gw.kill("SIGKILL");
      gw = await startGatewayProcess(dir.path, store, fns, port);
      await settle();

      const keysWithTwoTasks = [...ledger.idsOfKey.values()].filter((ids) => ids.size > 1).length;
      const tasksWithTwoOutputs = [...ledger.outputs.values()].filter((o) => new Set([...o].map((t) => JSON.stringify(JSON.parse(t)))).size > 1).length;
      const completed = [...ledger.accepted].filter((id) => (ledger.outputs.get(id)?.size ?? 0) > 0).length;
      console.log(
        `chaos-gateway: tasks=${TASKS} (keyless runs=${Math.floor((TASKS + 1) / 4)}) accepted=${ledger.accepted.size} completed=${completed} duplicated=${keysWithTwoTasks + tasksWithTwoOutputs} ` +
          `(keys with two tasks=${keysWithTwoTasks}, tasks with two outputs=${tasksWithTwoOutputs}) kills=${kills + 1} seconds=${((Date.now() - started) / 1000).toFixed(1)}`,
      );
      const keyless = Math.floor((TASKS + 1) / 4);
      assert.equal(ledger.answered.size, TASKS, "every request was accepted in the end");
      assert.equal(ledger.idsOfKey.size, TASKS - keyless);
      assert.equal(ledger.accepted.size, TASKS, "one task per request");
      assert.equal(completed, ledger.accepted.size);
      assert.equal(keysWithTwoTasks, 0, "an idempotency key named two tasks");
      assert.equal(tasksWithTwoOutputs, 0, "a task was seen with two different outputs");
      assert.ok(kills >= KILLS);
    } finally {
      stopped = true;
      await killer.catch(() => undefined);
      await Promise.all(workers.map((w) => w.kill()));
      await gw.kill("SIGKILL");
      dir.remove();
    }
  });
});
