// The operator's leader dies in the middle of a spike, on the real test cluster: two real
// `hearth operator` processes with leader election, a gateway and the local runner's real
// workers. The leader is SIGKILLed right after it raised the pool; the standby takes the Lease
// and continues from what it observes (the pool's size, the gateway's demand). No flapping: the
// pool's size never goes down and back up during the spike. Every task completes exactly once,
// and the new leader brings the pool back to zero afterwards.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { it } from "node:test";
import { leases } from "../../src/kube/resources.ts";
import { kubeConfigFromEnv, waitFor, withNamespace } from "../support/cluster.ts";
import { condition, deploymentReplicas, functionsResource, getFunction, pushMany, slowFunction, startGatewayAndRunner, waitTask } from "../support/autoscale.ts";
import { parseMetrics, startTestOperator, type TestOperator } from "../support/operator.ts";

const TASKS = 120;

/** The values a series took, each change once: [0, 6, 6, 3, 0] → [0, 6, 3, 0]. */
function changes(xs: readonly number[]): number[] {
  return xs.filter((x, i) => i === 0 || x !== xs[i - 1]);
}

/** Whether a series never rises again after it fell (up, then down: no flapping). */
function unimodal(xs: readonly number[]): boolean {
  let fell = false;
  for (let i = 1; i < xs.length; i++) {
    const a = xs[i - 1] ?? 0;
    const b = xs[i] ?? 0;
    if (b < a) fell = true;
    else if (b > a && fell) return false;
  }
  return true;
}

it("operator leader SIGKILLed mid-spike: the standby continues from observed state, no flapping, every task completes once", { timeout: 360_000 }, async (t) => {
  const kc = kubeConfigFromEnv();
  const ns = await withNamespace(t, kc, "asfo");
  const base = await startGatewayAndRunner(ns);
  t.after(() => base.stop());
  const { client, gateway } = base;
  const config = { gateway: { url: gateway.url }, gatewayClient: { callerTokenFile: base.callerTokenFile } };
  const operators = new Map<string, TestOperator>();
  for (const op of await Promise.all(["op-a", "op-b"].map((identity) => startTestOperator({ namespace: ns, mode: "process", identity, config })))) operators.set(op.identity, op);
  t.after(async () => {
    for (const op of operators.values()) await op.stop();
  });
  const holder = async (): Promise<string> => (await client.get(leases, "hearth-operator", ns))?.spec.holderIdentity ?? "";
  const first = await waitFor(async () => {
    const h = await holder();
    return operators.has(h) ? h : undefined;
  }, { timeoutMs: 60_000, what: "a leader" });

  const logFile = join(mkdtempSync(join(tmpdir(), "hearth-failover-")), "calls.log");
  writeFileSync(logFile, "");
  await client.apply(functionsResource, slowFunction(ns, "spike", { minReplicas: 0, maxReplicas: 5, scaleDownDelaySeconds: 4 }, { env: [{ name: "SLOW_LOG", value: logFile }] }));
  await waitFor(async () => condition(await getFunction(client, ns, "spike"), "Autoscaling")?.status === "True", { timeoutMs: 90_000, what: "Autoscaling True" });

  // Every size the pool is given, from the start of the spike to its end.
  const fnSizes: number[] = [];
  const depSizes: number[] = [];
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      const [fn, dep] = await Promise.all([getFunction(client, ns, "spike"), deploymentReplicas(client, ns, "spike")]);
      fnSizes.push(fn?.spec?.warmPool?.replicas ?? 0);
      depSizes.push(dep.spec ?? 0);
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  t.after(async () => {
    watching = false;
    await watcher;
  });

  let ids: string[] = [];
  await waitFor(
    async () => {
      try {
        ids = await pushMany(gateway.url, ns, "spike", Array.from({ length: TASKS }, (_, i) => ({ i, ms: 400 })));
        return true;
      } catch (err) {
        if (String(err).includes("404")) return false;
        throw err;
      }
    },
    { timeoutMs: 30_000, what: "push accepted" },
  );
  await waitFor(async () => ((await getFunction(client, ns, "spike"))?.spec?.warmPool?.replicas ?? 0) >= 1, { timeoutMs: 30_000, intervalMs: 20, what: "the leader raised the pool" });

  // Mid-spike: the leader dies without releasing its Lease.
  const leader = operators.get(first);
  assert.ok(leader !== undefined);
  await leader.kill();
  operators.delete(first);
  const killedAt = Date.now();
  const second = await waitFor(async () => {
    const h = await holder();
    return operators.has(h) ? h : undefined;
  }, { timeoutMs: 60_000, what: "the standby takes the Lease" });
  t.diagnostic(`failover: ${second} leads ${Date.now() - killedAt} ms after ${first} was killed`);
  const standby = operators.get(second);
  assert.ok(standby !== undefined);

  // The new leader keeps the spike's pool: up to maxReplicas while the queue is long.
  await waitFor(() => fnSizes.includes(5), { timeoutMs: 60_000, what: "replicas at maxReplicas" });
  const docs = [];
  for (const id of ids) docs.push(await waitTask(gateway.url, id, "120s"));
  assert.equal(docs.filter((d) => d.status !== "succeeded").length, 0, JSON.stringify(docs.filter((d) => d.status !== "succeeded").slice(0, 3)));
  assert.ok(docs.every((d) => d.attempts === 1), "no attempt was disrupted");

  // Demand gone: the new leader scales to zero after the delay.
  await waitFor(async () => (await getFunction(client, ns, "spike"))?.spec?.warmPool?.replicas === 0, { timeoutMs: 90_000, what: "replicas back to 0" }).catch(async (err: unknown) => {
    throw new Error(`${String(err)}; Function: ${JSON.stringify((await getFunction(client, ns, "spike"))?.status)}; standby log: ${standby.logs().slice(-3000)}`);
  });
  await waitFor(async () => (await deploymentReplicas(client, ns, "spike")).spec === 0, { timeoutMs: 60_000, what: "Deployment at 0" });
  watching = false;
  await watcher;

  t.diagnostic(`Function replicas over the spike: ${changes(fnSizes).join(" → ")}; Deployment: ${changes(depSizes).join(" → ")}`);
  assert.ok(unimodal(fnSizes), `no flapping in warmPool.replicas: ${changes(fnSizes).join(" → ")}`);
  assert.ok(unimodal(depSizes), `no flapping in the Deployment: ${changes(depSizes).join(" → ")}`);
  assert.equal(Math.max(...fnSizes), 5);

  // Exactly once: every task started once and ended once (no busy worker was killed).
  const lines = readFileSync(logFile, "utf8").trim().split("\n");
  const starts = new Set(lines.filter((l) => l.startsWith("start ")).map((l) => l.split(" ")[1]));
  assert.equal(lines.filter((l) => l.startsWith("start ")).length, TASKS);
  assert.equal(starts.size, TASKS);
  assert.equal(lines.filter((l) => l.startsWith("end ")).length, TASKS);

  // The scale-down was the new leader's decision.
  const decisions = (parseMetrics(await standby.metrics()).get("hearth_autoscaler_decisions_total") ?? []).filter((s) => s.labels["function"] === "spike");
  assert.ok(decisions.some((s) => s.labels["direction"] === "down" && s.value >= 1), `the new leader scaled down: ${JSON.stringify(decisions)}`);
});
