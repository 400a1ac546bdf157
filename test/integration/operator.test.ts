// `hearth operator` as real processes: leader election across two of them (kill -9 hands over
// within a few seconds, SIGTERM at once), probes and metrics on standbys, and config errors
// that stop the process before it touches the cluster.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { functionStatus } from "../../src/api/v1alpha1/index.ts";
import type { KubeClient } from "../../src/kube/client.ts";
import { hearthFunctions, leases } from "../../src/kube/resources.ts";
import { kubeConfigFromEnv, waitFor, withNamespace } from "../support/cluster.ts";
import { aFunction } from "../support/function-builder.ts";
import { installCrds, kubeconfigPath, startTestOperator, testClient, type TestOperator } from "../support/operator.ts";

const kc = kubeConfigFromEnv();
const client: KubeClient = await testClient();
await installCrds(client);
after(() => client.transport.close());

async function holder(ns: string): Promise<string> {
  return (await client.get(leases, "hearth-operator", ns))?.spec.holderIdentity ?? "";
}

async function ready(ns: string, name: string): Promise<boolean> {
  const f = await client.get(hearthFunctions, name, ns);
  return functionStatus.parse(f?.["status"] ?? {}).conditions?.some((c) => c.type === "Ready" && c.status === "True") === true;
}

describe("hearth operator processes", () => {
  it("elects one leader; killing it hands over to the standby in a few seconds", async (t) => {
    const ns = await withNamespace(t, kc, "op");
    const a = await startTestOperator({ namespace: ns, mode: "process", identity: "op-a" });
    t.after(() => a.kill());
    await waitFor(async () => (await holder(ns)) === "op-a", { what: "op-a leads", timeoutMs: 20_000 });
    const b = await startTestOperator({ namespace: ns, mode: "process", identity: "op-b" });
    t.after(() => b.kill());

    // The standby serves probes and metrics, and does not reconcile.
    await waitFor(async () => (await fetch(`${b.url}/readyz`)).status === 200, { what: "standby ready" });
    assert.equal((await fetch(`${b.url}/healthz`)).status, 200);
    assert.equal(await b.isLeader(), false);
    assert.equal(await a.isLeader(), true);
    await client.apply(hearthFunctions, aFunction("before", ns).manifest());
    await waitFor(() => ready(ns, "before"), { what: "leader reconciles", timeoutMs: 30_000 });
    assert.equal(await b.writes((r) => r !== "leases"), 0, "the standby wrote nothing");

    const killedAt = Date.now();
    await a.kill();
    await waitFor(async () => (await holder(ns)) === "op-b", { what: "op-b takes over", timeoutMs: 15_000, intervalMs: 50 });
    const failoverMs = Date.now() - killedAt;
    t.diagnostic(`failover after SIGKILL: ${failoverMs} ms (lease 3 s, retry 0.5 s)`);
    assert.ok(failoverMs < 6_000, `failover took ${failoverMs} ms`);
    await waitFor(() => b.isLeader(), { what: "op-b reports leadership" });

    await client.apply(hearthFunctions, aFunction("after", ns).manifest());
    await waitFor(() => ready(ns, "after"), { what: "the new leader reconciles", timeoutMs: 30_000 });
  });

  it("SIGTERM releases the lease: the standby takes over at once", async (t) => {
    const ns = await withNamespace(t, kc, "op");
    const a = await startTestOperator({ namespace: ns, mode: "process", identity: "op-a" });
    t.after(() => a.kill());
    await waitFor(async () => (await holder(ns)) === "op-a", { what: "op-a leads", timeoutMs: 20_000 });
    const b = await startTestOperator({ namespace: ns, mode: "process", identity: "op-b" });
    t.after(() => b.kill());
    await waitFor(async () => (await fetch(`${b.url}/readyz`)).status === 200, { what: "standby ready" });
    const stoppedAt = Date.now();
    await a.stop();
    assert.match(a.logs(), /released the lease/);
    await waitFor(async () => (await holder(ns)) === "op-b", { what: "op-b takes over", timeoutMs: 10_000, intervalMs: 50 });
    const handover = Date.now() - stoppedAt;
    t.diagnostic(`handover after SIGTERM: ${handover} ms`);
    assert.ok(handover < 2_500, `handover took ${handover} ms`);
  });

  it("exits with a clear message when the config is invalid", () => {
    const dir = mkdtempSync(join(tmpdir(), "hearth-badcfg-"));
    const cfg = join(dir, "config.yaml");
    writeFileSync(cfg, "gpu: {strategy: sharing-please}\nworkerTokens: {signingKey: short}\n");
    const res = spawnSync(join(process.cwd(), "node_modules", ".bin", "node"), ["src/cli/main.ts", "operator", "--config", cfg, "--kubeconfig", kubeconfigPath()], { encoding: "utf8", timeout: 20_000 });
    assert.equal(res.status, 2);
    assert.match(res.stderr, /operator config .* is invalid/);
    assert.match(res.stderr, /gpu\.strategy/);
    assert.match(res.stderr, /workerTokens\.signingKey/);
  });

  it("an in-process operator exposes reconcile and queue metrics", async (t) => {
    const ns = await withNamespace(t, kc, "op");
    const op: TestOperator = await startTestOperator({ namespace: ns });
    t.after(() => op.stop());
    await client.apply(hearthFunctions, aFunction("m", ns).manifest());
    await waitFor(() => ready(ns, "m"), { what: "Ready", timeoutMs: 30_000 });
    const text = await (await fetch(`${op.url}/metrics`)).text();
    for (const name of [
      "hearth_controller_reconcile_total",
      "hearth_controller_reconcile_duration_seconds_bucket",
      "hearth_workqueue_depth",
      "hearth_workqueue_queue_duration_seconds_bucket",
      "hearth_kube_requests_total",
      "hearth_leader_is_leader",
      "hearth_informer_objects",
      "hearth_operator_process_resident_memory_bytes",
    ]) {
      assert.match(text, new RegExp(`^${name}`, "m"), name);
    }
  });
});
