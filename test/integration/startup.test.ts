// The startup deadline on the real test cluster, in dev mode: the operator renders the Function,
// the local runner starts real worker processes (restarting them with back-off like a kubelet),
// workers report setup to the gateway and the operator's leader copies it into status.
// - a Node setup() that hangs past startupTimeoutSeconds: SetupTimeout in status (Degraded, with
//   the worker's last message), the worker exits 124 and is restarted;
// - a Python setup() that takes longer than its deadline but reports progress: status shows
//   "loading: N% …" while it loads, then Ready with the time setup took.
import { it } from "node:test";
import assert from "node:assert/strict";
import { CustomObjectsApi } from "@kubernetes/client-node";
import { kubeConfigFromEnv, waitFor, withNamespace } from "../support/cluster.ts";
import { startDevMode } from "../support/dev-process.ts";

type Condition = { type: string; status: string; reason: string; message: string };
interface Status {
  conditions?: Condition[];
  setup?: { starting?: number; progress?: number; message?: string; lastDurationSeconds?: number; lastFailure?: { reason: string; message: string; worker?: string } };
}

it("dev mode: SetupTimeout in status and restarts; setup progress in status, past the bare deadline", { timeout: 300_000 }, async (t) => {
  const kubeconfig = process.env["HEARTH_KUBECONFIG"];
  assert.ok(kubeconfig, "HEARTH_KUBECONFIG must be set");
  const kc = kubeConfigFromEnv();
  const ns = await withNamespace(t, kc, "startup");
  const dm = await startDevMode(t, { kubeconfig, namespace: ns });

  const custom = kc.makeApiClient(CustomObjectsApi);
  const create = (name: string, annotations: Record<string, string>, spec: Record<string, unknown>) =>
    custom.createNamespacedCustomObject({
      group: "hearth.dev",
      version: "v1alpha1",
      namespace: ns,
      plural: "functions",
      body: { apiVersion: "hearth.dev/v1alpha1", kind: "Function", metadata: { name, namespace: ns, annotations }, spec: { image: "example/startup:1", resources: { cpu: "100m", memory: "128Mi", ephemeralStorage: "256Mi" }, warmPool: { minReplicas: 1, maxReplicas: 1 }, ...spec } },
    });
  const statusOf = async (name: string): Promise<Status> =>
    ((await custom.getNamespacedCustomObject({ group: "hearth.dev", version: "v1alpha1", namespace: ns, plural: "functions", name })) as { status?: Status }).status ?? {};
  const cond = (s: Status, type: string) => s.conditions?.find((c) => c.type === type);

  await create("hangs", { "hearth.dev/dev-code-path": "test/e2e/handlers" }, { handler: "startup:Hangs", runtime: "node", startupTimeoutSeconds: 2 });
  await create("loads", { "hearth.dev/dev-code-path": "sdk/python/tests/handlers" }, {
    handler: "startup:ReportsThroughContext",
    runtime: "python",
    startupTimeoutSeconds: 3,
    env: [
      { name: "SETUP_STEPS", value: "24" },
      { name: "SETUP_STEP_SECONDS", value: "0.5" },
    ],
  });

  // Python: 12 s of setup against a 3 s deadline, reporting every 0.5 s.
  const loading = await waitFor(
    async () => {
      const s = await statusOf("loads");
      // status.setup comes from the setup-status controller; the Function controller follows with the Ready message.
      return /^loading: \d+% weights shard \d+\/24$/.test(s.setup?.message ?? "") && /loading: \d+% weights shard/.test(cond(s, "Ready")?.message ?? "") ? s : undefined;
    },
    { timeoutMs: 90_000, what: "status.setup.message of loads" },
  );
  assert.equal(loading.setup?.starting, 1);

  // Node: the deadline passes with 10% reported once.
  const degraded = await waitFor(
    async () => {
      const s = await statusOf("hangs");
      return cond(s, "Degraded")?.reason === "SetupTimeout" ? s : undefined;
    },
    { timeoutMs: 90_000, what: "Function hangs Degraded/SetupTimeout" },
  );
  assert.match(cond(degraded, "Degraded")?.message ?? "", /setup\(\) did not finish within startupTimeoutSeconds=2 \(last progress: 10% downloading weights\)/);
  // (Ready itself follows pod readiness, which kwok fakes in dev mode.)
  assert.equal(degraded.setup?.lastFailure?.reason, "SetupTimeout");
  // The worker exits 124 and the runner (the kubelet's stand-in) restarts it, with back-off.
  await waitFor(() => /"code":124[^\n]*"restarts":2/.test(dm.output), { timeoutMs: 60_000, what: `a second exit 124 of the hangs worker; output:\n${dm.output.slice(-3000)}` });

  const ready = await waitFor(
    async () => {
      const s = await statusOf("loads");
      return cond(s, "Ready")?.status === "True" && s.setup?.lastDurationSeconds !== undefined ? s : undefined;
    },
    { timeoutMs: 90_000, what: "Function loads Ready with setup duration" },
  );
  assert.ok((ready.setup?.lastDurationSeconds ?? 0) >= 11, `setup took ${ready.setup?.lastDurationSeconds}s, well past the 3 s bare deadline`);
  assert.equal(cond(ready, "Degraded")?.status, "False");
  assert.equal(ready.setup?.lastFailure, undefined);

  // The setup-duration histogram, as dev mode's gateway exports it.
  const metrics = await (await fetch(`${dm.url}/metrics`)).text();
  assert.match(metrics, new RegExp(`hearth_gateway_worker_setup_seconds_count\\{namespace="${ns}",function="loads"\\} 1`));
  assert.match(metrics, new RegExp(`hearth_gateway_worker_setup_failures_total\\{namespace="${ns}",function="hangs",reason="SetupTimeout"\\} [2-9]`));

  assert.ok(dm.process.pid !== undefined);
  process.kill(dm.process.pid, "SIGINT");
  assert.equal(await dm.exited, 0, dm.output.slice(-2000));
});
