// Elastic warm pools on the real test cluster with real worker processes: the gateway pushes
// demand, the operator's autoscaler sizes the pool through the scale subresource, the local
// runner starts and stops real workers as pods come and go.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { it } from "node:test";
import { parseMetrics } from "../support/operator.ts";
import { toolPath } from "../support/tools.ts";
import { kubeConfigFromEnv, waitFor, withNamespace } from "../support/cluster.ts";
import {
  condition,
  deploymentReplicas,
  eventsResource,
  functionsResource,
  getFunction,
  pushMany,
  slowFunction,
  startStack,
  waitTask,
  type FunctionView,
} from "../support/autoscale.ts";

const run = promisify(execFile);

it("200 tasks on a pool at zero: up to maxReplicas, all complete exactly once, back to zero after the delay", { timeout: 300_000 }, async (t) => {
  const kc = kubeConfigFromEnv();
  const ns = await withNamespace(t, kc, "as");
  const stack = await startStack(ns);
  t.after(() => stack.stop());
  const { client, gateway } = stack;
  const logFile = join(mkdtempSync(join(tmpdir(), "hearth-slow-")), "calls.log");
  writeFileSync(logFile, "");

  await client.apply(functionsResource, slowFunction(ns, "slow", { minReplicas: 0, maxReplicas: 4, scaleDownDelaySeconds: 5 }, { env: [{ name: "SLOW_LOG", value: logFile }] }));
  // The autoscaler has demand data (condition True) and the gateway knows the Function.
  // Two controllers write these (the autoscaler the condition, the Function controller the selector): wait for both.
  // Seen once (1 CI run in 14, round 8) not to happen within 60 s: a timeout says what status there was.
  let lastStatus: unknown;
  await waitFor(
    async () => {
      const fn = await getFunction(client, ns, "slow");
      lastStatus = fn?.status;
      return condition(fn, "Autoscaling")?.status === "True" && (fn?.status?.selector ?? "") !== "";
    },
    { timeoutMs: 60_000, what: "Autoscaling True and the scale selector in status" },
  ).catch((err: unknown) => {
    throw new Error(`${err instanceof Error ? err.message : String(err)}; the Function's last status: ${JSON.stringify(lastStatus)}; gateway knows it: ${String(gateway.engine !== undefined)}`);
  });
  await waitFor(() => gateway.engine !== undefined && stack.gateway.url !== "", { what: "gateway" });
  const fn0 = await getFunction(client, ns, "slow");
  assert.equal(fn0?.spec?.warmPool?.replicas ?? 0, 0, "starts at zero");
  assert.match(fn0?.status?.selector ?? "", /hearth\.dev\/function=slow/);

  let t0 = Date.now();
  let ids: string[] = [];
  await waitFor(
    async () => {
      try {
        t0 = Date.now();
        ids = await pushMany(gateway.url, ns, "slow", Array.from({ length: 200 }, (_, i) => ({ i, ms: 150 })));
        return true;
      } catch (err) {
        if (String(err).includes("404")) return false; // the gateway's informer has not seen the Function yet
        throw err;
      }
    },
    { timeoutMs: 30_000, what: "push accepted" },
  );
  const raised = await waitFor(async () => ((await getFunction(client, ns, "slow"))?.spec?.warmPool?.replicas ?? 0) >= 1 && Date.now(), { timeoutMs: 30_000, intervalMs: 10, what: "replicas raised" });
  t.diagnostic(`replicas raised ${raised - t0} ms after the push`);
  await waitFor(async () => (await getFunction(client, ns, "slow"))?.spec?.warmPool?.replicas === 4, { timeoutMs: 30_000, what: "replicas at maxReplicas" });
  const fnUp = await getFunction(client, ns, "slow");
  assert.equal(condition(fnUp, "Autoscaling")?.reason === "AtMaximum" || condition(fnUp, "Autoscaling")?.reason === "ScalingActive", true, JSON.stringify(condition(fnUp, "Autoscaling")));

  const docs = [];
  for (const id of ids) docs.push(await waitTask(gateway.url, id, "120s"));
  const failed = docs.filter((d) => d.status !== "succeeded");
  assert.equal(failed.length, 0, `failed: ${JSON.stringify(failed.slice(0, 3))}`);
  const workers = new Set(docs.map((d) => (d.output as { worker: string }).worker));
  t.diagnostic(`200 tasks done by ${workers.size} workers in ${Date.now() - t0} ms`);
  assert.ok(workers.size >= 2, `the pool grew: workers ${[...workers].join(",")}`);

  // Back to zero once demand stayed at 0 for scaleDownDelaySeconds.
  await waitFor(async () => (await getFunction(client, ns, "slow"))?.spec?.warmPool?.replicas === 0, { timeoutMs: 60_000, what: "replicas back to 0" }).catch(async (err: unknown) => {
    throw new Error(`${String(err)}; Function: ${JSON.stringify((await getFunction(client, ns, "slow"))?.status)}; stats: ${JSON.stringify(gateway.engine.stats(ns, "slow"))}`);
  });
  await waitFor(async () => (await deploymentReplicas(client, ns, "slow")).status === 0, { timeoutMs: 60_000, what: "Deployment at 0 pods" });
  await waitFor(() => stack.runner.running.length === 0, { timeoutMs: 60_000, what: "worker processes stopped" });

  // Nothing lost, nothing run twice, no task cut short: every i started once and ended once.
  const lines = readFileSync(logFile, "utf8").trim().split("\n");
  const starts = new Map<string, number>();
  const ends = new Map<string, number>();
  for (const l of lines) {
    const [what, i] = l.split(" ");
    const m = what === "start" ? starts : ends;
    m.set(i ?? "", (m.get(i ?? "") ?? 0) + 1);
  }
  assert.equal(starts.size, 200);
  assert.ok([...starts.values()].every((n) => n === 1), "each task started once");
  assert.ok([...ends.values()].every((n) => n === 1) && ends.size === 200, "each task ended once");
  assert.ok(docs.every((d) => d.attempts === 1));
  const gwMetrics = parseMetrics(await (await fetch(`${gateway.url}/metrics`)).text());
  assert.equal((gwMetrics.get("hearth_gateway_retries_total") ?? []).length, 0, "no attempt was disrupted");
  assert.ok((gwMetrics.get("hearth_gateway_cold_start_seconds_count") ?? []).some((s) => s.labels["function"] === "slow" && s.value >= 1), "cold start recorded");

  const fin = await getFunction(client, ns, "slow");
  assert.ok(fin?.status?.lastColdStart !== undefined && fin.status.lastColdStart.seconds > 0, `lastColdStart: ${JSON.stringify(fin?.status)}`);
  const opMetrics = parseMetrics(await stack.operator.metrics());
  const ups = (opMetrics.get("hearth_autoscaler_decisions_total") ?? []).filter((s) => s.labels["function"] === "slow");
  assert.ok(ups.some((s) => s.labels["direction"] === "up" && s.value >= 1) && ups.some((s) => s.labels["direction"] === "down" && s.value >= 1), JSON.stringify(ups));
  const events = (await client.list(eventsResource, { namespace: ns })).items as unknown as { reason?: string; involvedObject?: { name?: string } }[];
  assert.ok(events.some((e) => e.reason === "ScaledUp" && e.involvedObject?.name === "slow"), "a ScaledUp Event");
});

it("autoscaler: external and kubectl scale leave the built-in autoscaler silent; a gateway outage holds hearth pools", { timeout: 240_000 }, async (t) => {
  const kc = kubeConfigFromEnv();
  const ns = await withNamespace(t, kc, "asx");
  const stack = await startStack(ns);
  t.after(() => stack.stop());
  const { client, gateway } = stack;
  const kubeconfig = process.env["HEARTH_KUBECONFIG"] ?? "";

  await client.apply(functionsResource, slowFunction(ns, "ext", { minReplicas: 0, maxReplicas: 4, scaleDownDelaySeconds: 1, autoscaler: "external" }));
  await client.apply(functionsResource, slowFunction(ns, "held", { minReplicas: 1, maxReplicas: 3, scaleDownDelaySeconds: 1 }));
  await waitFor(async () => condition(await getFunction(client, ns, "ext"), "Autoscaling")?.reason === "ExternalAutoscaler", { timeoutMs: 60_000, what: "ext: ExternalAutoscaler" });
  await waitFor(async () => condition(await getFunction(client, ns, "held"), "Autoscaling")?.status === "True", { timeoutMs: 60_000, what: "held: Autoscaling True" });

  let ids: string[] = [];
  await waitFor(
    async () => {
      try {
        ids = await pushMany(gateway.url, ns, "ext", [{ i: 1, ms: 10 }, { i: 2, ms: 10 }, { i: 3, ms: 10 }]);
        return true;
      } catch (err) {
        if (String(err).includes("404")) return false;
        throw err;
      }
    },
    { timeoutMs: 30_000, what: "push accepted" },
  );
  await waitFor(async () => (await getFunction(client, ns, "ext"))?.status?.queueDepth === 3, { timeoutMs: 30_000, what: "queue depth 3 in status" });
  await sleep(1500);
  assert.equal((await getFunction(client, ns, "ext"))?.spec?.warmPool?.replicas, undefined, "the built-in autoscaler did not write");
  assert.equal((await deploymentReplicas(client, ns, "ext")).spec, 0);

  // kubectl scale through the scale subresource; the Deployment follows, the tasks complete.
  const { stdout } = await run(toolPath("kubectl"), ["--kubeconfig", kubeconfig, "-n", ns, "scale", "function/ext", "--replicas=2"]);
  assert.match(stdout, /scaled/);
  await waitFor(async () => (await deploymentReplicas(client, ns, "ext")).spec === 2, { timeoutMs: 30_000, what: "Deployment follows kubectl scale" });
  for (const id of ids) assert.equal((await waitTask(gateway.url, id, "90s")).status, "succeeded");
  await sleep(2500); // > scaleDownDelaySeconds: a built-in autoscaler would now scale down
  const ext = await getFunction(client, ns, "ext");
  assert.equal(ext?.spec?.warmPool?.replicas, 2, "kubectl's value stands");
  // managedFields as stored (the client's schemas drop them from what they return).
  const managed = ((await client.transport.request("GET", `/apis/hearth.dev/v1alpha1/namespaces/${ns}/functions/ext`, { verb: "get", resource: "functions" })) as FunctionView).metadata?.managedFields ?? [];
  assert.ok(managed.length > 0, "managedFields read");
  assert.ok(!managed.some((m) => m.manager === "hearth-autoscaler" && JSON.stringify(m.fieldsV1).includes("f:replicas")), "the autoscaler never owned replicas");
  // One field manager for all of status: the autoscaler's part (condition, queue depth) goes out in the Function controller's write.
  const statusManagers = managed.filter((m) => m.subresource === "status").map((m) => m.manager);
  assert.ok(!statusManagers.includes("hearth-autoscaler"), `status managers: ${statusManagers.join(", ")}`);
  const { stdout: got } = await run(toolPath("kubectl"), ["--kubeconfig", kubeconfig, "-n", ns, "get", "fn", "ext"]);
  assert.match(got, /DESIRED/);
  assert.match(got, /QUEUE/);

  // The gateway goes away: the hearth pool holds its size and says why.
  const before = (await getFunction(client, ns, "held"))?.spec?.warmPool?.replicas;
  await stack.stopGateway();
  await waitFor(async () => condition(await getFunction(client, ns, "held"), "Autoscaling")?.reason === "DemandUnavailable", { timeoutMs: 60_000, what: "held: DemandUnavailable" }).catch(async (err: unknown) => {
    throw new Error(`${String(err)}; Function: ${JSON.stringify((await getFunction(client, ns, "held"))?.status)}; operator log: ${stack.operator.logs().slice(-3000)}`);
  });
  const held = await getFunction(client, ns, "held");
  assert.equal(held?.spec?.warmPool?.replicas, before);
  assert.equal((await deploymentReplicas(client, ns, "held")).spec, 1, "never scaled to zero on missing data");
  assert.match(condition(held, "Autoscaling")?.message ?? "", /holding 1 worker/);
});
