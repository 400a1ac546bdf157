// `hearth dev` end to end on the real test cluster: the operator turns the echo example into a
// warm pool on the fake nodes, the local runner starts a real Node worker process per pod, and
// the TypeScript client calls it through the gateway. setup() state survives across calls.
import { it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { CustomObjectsApi } from "@kubernetes/client-node";
import { createClient } from "../../src/client/index.ts";
import { kubeConfigFromEnv, waitFor, withNamespace } from "../support/cluster.ts";
import { toolPath } from "../support/tools.ts";
import { startDevMode } from "../support/dev-process.ts";

type Condition = { type: string; status: string };

it("hearth dev serves the echo example from real worker processes", { timeout: 240_000 }, async (t) => {
  const kubeconfig = process.env["HEARTH_KUBECONFIG"];
  assert.ok(kubeconfig, "HEARTH_KUBECONFIG must be set");
  const kc = kubeConfigFromEnv();
  const ns = await withNamespace(t, kc, "dev");

  const dm = await startDevMode(t, { kubeconfig, namespace: ns });
  const { token } = dm;

  const fn = parse(readFileSync("examples/echo-cpu/function.yaml", "utf8")) as { metadata: Record<string, unknown> };
  const custom = kc.makeApiClient(CustomObjectsApi);
  await custom.createNamespacedCustomObject({ group: "hearth.dev", version: "v1alpha1", namespace: ns, plural: "functions", body: { ...fn, metadata: { ...fn.metadata, namespace: ns } } });
  await waitFor(
    async () => {
      const obj = (await custom.getNamespacedCustomObject({ group: "hearth.dev", version: "v1alpha1", namespace: ns, plural: "functions", name: "echo" })) as { status?: { conditions?: Condition[] } };
      return obj.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True");
    },
    { timeoutMs: 90_000, what: "Function echo Ready" },
  );

  const client = createClient({ url: dm.url, token });
  try {
    const echo = client.function(`${ns}/echo`);
    // The first calls may arrive before both worker processes have leased: retry the wait, not the call.
    const results: { message: string; worker: string; calls: number }[] = [];
    for (let i = 0; i < 20; i++) results.push((await echo.run({ name: "Ada" }, { timeoutMs: 60_000 })) as (typeof results)[number]);
    for (const r of results) assert.equal(r.message, "Hello, Ada!");
    const workers = new Set(results.map((r) => r.worker));
    assert.ok(workers.size >= 1 && workers.size <= 2, `calls went to ${[...workers].join(", ")}`);
    for (const w of workers) {
      assert.ok(w.startsWith("echo-pool-"), `worker id ${w} is a pod name`);
      // predict() counts calls on state created once per worker: one setup, increasing counts.
      const counts = results.filter((r) => r.worker === w).map((r) => r.calls);
      assert.deepEqual(counts, counts.map((_, i) => i + 1), `worker ${w} kept its state: ${counts.join(",")}`);
    }
  } finally {
    client.close();
  }

  // The operator copies the gateway's numbers into status: both workers are warm.
  await waitFor(
    async () => {
      const obj = (await custom.getNamespacedCustomObject({ group: "hearth.dev", version: "v1alpha1", namespace: ns, plural: "functions", name: "echo" })) as { status?: { warmWorkers?: number; queueDepth?: number } };
      return obj.status?.warmWorkers === 2 && obj.status.queueDepth === 0;
    },
    { timeoutMs: 30_000, what: "status.warmWorkers 2 from the gateway" },
  );

  // A warm hearth.dev Job runs on the same pool through the gateway; its output lands in status.
  await custom.createNamespacedCustomObject({
    group: "hearth.dev",
    version: "v1alpha1",
    namespace: ns,
    plural: "jobs",
    body: { apiVersion: "hearth.dev/v1alpha1", kind: "Job", metadata: { name: "greet", namespace: ns }, spec: { functionRef: { name: "echo" }, invocation: "warm", input: { name: "Job" } } },
  });
  const done = await waitFor(
    async () => {
      const j = (await custom.getNamespacedCustomObject({ group: "hearth.dev", version: "v1alpha1", namespace: ns, plural: "jobs", name: "greet" })) as {
        status?: { conditions?: Condition[]; output?: { message?: string }; taskId?: string; invocation?: string };
      };
      return j.status?.conditions?.some((c) => c.type === "Complete" && c.status === "True") === true ? j.status : undefined;
    },
    { timeoutMs: 60_000, what: "warm Job greet Complete" },
  );
  assert.equal(done.output?.message, "Hello, Job!");
  assert.equal(done.invocation, "warm");
  assert.ok(done.taskId !== undefined);

  // A team's access, as in a cluster: dev mode installed the chart's caller ClusterRoles and its
  // gateway takes Kubernetes tokens (TokenRequest) beside the printed dev token.
  const kubectl = (...args: string[]): string => execFileSync(toolPath("kubectl"), ["--kubeconfig", kubeconfig, ...args], { encoding: "utf8" }).trim();
  for (const role of ["hearth-edit", "hearth-view", "hearth-invoker"]) assert.equal(kubectl("get", "clusterrole", role, "-o", "name"), `clusterrole.rbac.authorization.k8s.io/${role}`);
  kubectl("-n", ns, "create", "serviceaccount", "runner");
  const saToken = kubectl("-n", ns, "create", "token", "runner");
  const teamClient = createClient({ url: dm.url, token: saToken });
  try {
    await assert.rejects(teamClient.function(`${ns}/echo`).run({ name: "Team" }, { timeoutMs: 30_000 }), /403|Forbidden|forbidden|may not/);
    kubectl("-n", ns, "create", "rolebinding", "runner-invoke", "--clusterrole=hearth-invoker", `--serviceaccount=${ns}:runner`);
    // A cached denial lasts at most 10 s.
    const out = await waitFor(
      async () => {
        try {
          return (await teamClient.function(`${ns}/echo`).run({ name: "Team" }, { timeoutMs: 30_000 })) as { message: string };
        } catch {
          return undefined;
        }
      },
      { timeoutMs: 60_000, intervalMs: 500, what: "the RoleBinding lets the ServiceAccount call" },
    );
    assert.equal(out.message, "Hello, Team!");
  } finally {
    teamClient.close();
  }

  assert.ok(dm.process.pid !== undefined);
  process.kill(dm.process.pid, "SIGINT");
  assert.equal(await dm.exited, 0, dm.output.slice(-2000));
  await assert.rejects(fetch(`${dm.url}/healthz`), "the gateway is stopped");
});
