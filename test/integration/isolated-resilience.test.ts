// Isolated calls beyond the happy path, on the real test cluster with real processes: a real
// `hearth gateway` process (so it can be killed and restarted on its store), the operator's Job
// controller, and the dev-mode local runner running each call's pod as a real oneshot process.
//  1. Progress: ctx.updateProgress in an isolated call (Node and Python) reaches the caller as
//     `progress` events and in the task document, like a warm call.
//  2. Gateway restart mid-call: the gateway is SIGKILLed while the call's pod runs and restarted
//     on the same store; the pod's later progress and its output are accepted (the lease it
//     claimed from the old process is adopted), the call succeeds once, nothing is stranded.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { it } from "node:test";
import { pino } from "pino";
import { createClient, type TaskEvent } from "../../src/client/index.ts";
import { jobController } from "../../src/controllers/job/index.ts";
import { freePort } from "../../src/dev/dev.ts";
import { LocalRunner } from "../../src/dev/runner.ts";
import { FAKE_POD_ANNOTATIONS, FAKE_RUN_EXTERNAL } from "../../src/devcluster/annotations.ts";
import { stopProcessGroup } from "../../src/dev/child-io.ts";
import { hearthJobs } from "../../src/kube/resources.ts";
import { kubeConfigFromEnv, waitFor, withNamespace } from "../support/cluster.ts";
import { functionsResource, repoRoot } from "../support/autoscale.ts";
import { installCrds, startTestOperator, TEST_SIGNING_KEY, testClient } from "../support/operator.ts";

const CODE = join(repoRoot, "test", "integration", "handlers", "isolated");
const CALLER_TOKEN = "isolated-resilience-caller-token";

function isolatedFunction(ns: string, name: string, runtime: "node" | "python"): { metadata: { name: string; namespace: string; annotations: Record<string, string> } } & Record<string, unknown> {
  return {
    apiVersion: "hearth.dev/v1alpha1",
    kind: "Function",
    metadata: { name, namespace: ns, annotations: { "hearth.dev/dev-code-path": CODE } },
    spec: {
      image: "example.com/calls:1",
      handler: "calls:steps",
      runtime,
      invocation: "isolated",
      resources: { cpu: "100m", memory: "128Mi", ephemeralStorage: "128Mi" },
      timeoutSeconds: 120,
      retries: { maxRetries: 0 },
    },
  };
}

it("isolated calls stream progress and survive a gateway restart mid-call", { timeout: 420_000 }, async (t) => {
  const kubeconfig = process.env["HEARTH_KUBECONFIG"] ?? "";
  assert.ok(kubeconfig !== "", "HEARTH_KUBECONFIG must be set");
  const kc = kubeConfigFromEnv();
  const ns = await withNamespace(t, kc, "isor");
  const dir = mkdtempSync(join(tmpdir(), "hearth-isor-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const keyFile = join(dir, "signing-key");
  const tokensFile = join(dir, "caller-tokens");
  writeFileSync(keyFile, TEST_SIGNING_KEY);
  writeFileSync(tokensFile, `${CALLER_TOKEN}\n`);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;

  // The gateway as a real process on a durable store: killed and restarted below.
  let output = "";
  let gateway: ChildProcess | undefined;
  const startGateway = async (): Promise<void> => {
    const child = spawn(
      process.execPath,
      [join(repoRoot, "src", "cli", "main.ts"), "gateway", `--port=${port}`, "--host=127.0.0.1", `--store=${join(dir, "gateway.db")}`, `--kubeconfig=${kubeconfig}`, `--namespace=${ns}`, `--worker-signing-key-file=${keyFile}`, `--caller-tokens-file=${tokensFile}`, "--log-level=warn"],
      { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"], detached: true },
    );
    child.stdout?.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr?.on("data", (d: Buffer) => (output += d.toString()));
    gateway = child;
    t.after(() => stopProcessGroup(child, 5_000));
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`the gateway exited with ${child.exitCode}:\n${output.slice(-3000)}`);
        return fetch(`${url}/readyz`).then((r) => r.ok, () => false);
      },
      { timeoutMs: 90_000, intervalMs: 200, what: "gateway ready" },
    );
  };
  const kube = await testClient();
  await installCrds(kube); // the gateway's informers need them (a fresh cluster has none yet)
  await startGateway();

  const operator = await startTestOperator({
    namespace: ns,
    config: { gateway: { url }, gatewayClient: { callerTokenFile: tokensFile }, pod: { annotations: { [FAKE_POD_ANNOTATIONS.run]: FAKE_RUN_EXTERNAL } } },
    controllers: [jobController()],
  });
  t.after(() => operator.stop());
  const runner = new LocalRunner({
    client: kube,
    namespaces: [ns],
    logger: pino({ level: "warn" }),
    tools: { repoRoot, node: process.execPath, python: "python3" },
    intervalMs: 250,
    output: (line) => (output += `${line}\n`),
  });
  runner.start();
  t.after(() => runner.stop());

  await kube.apply(functionsResource, isolatedFunction(ns, "steps-node", "node"));
  await kube.apply(functionsResource, isolatedFunction(ns, "steps-py", "python"));
  const client = createClient({ url, token: CALLER_TOKEN });
  t.after(() => client.close());
  const known = async (name: string): Promise<void> => {
    await waitFor(async () => client.function(`${ns}/${name}`).stats().then(() => true, () => false), { timeoutMs: 60_000, what: `gateway knows ${name}` });
  };

  // ---- 1. progress from an isolated call, Node and Python -----------------------------------
  for (const name of ["steps-node", "steps-py"]) {
    await known(name);
    const task = await client.function(`${ns}/${name}`).push({ steps: 4, ms: 300 });
    const events: TaskEvent[] = [];
    const streamed = (async () => {
      for await (const ev of task.events()) events.push(ev);
    })();
    const out = (await task.result({ timeoutMs: 180_000 }).catch((err: unknown) => {
      throw new Error(`${name}: ${String(err)}\n${output.slice(-4000)}`);
    })) as { steps: number; pod: string };
    assert.equal(out.steps, 4);
    assert.ok(out.pod.startsWith(`call-${task.id}-`), `${name} ran in its call Job's pod: ${out.pod}`);
    await Promise.race([streamed, new Promise((r) => setTimeout(r, 10_000))]);
    const progress = events.flatMap((e) => (e.type === "progress" ? [e.progress] : []));
    assert.ok(progress.length >= 1, `${name}: progress events streamed: ${JSON.stringify(events)}`);
    assert.ok(progress.every((p, i) => i === 0 || p.value >= (progress[i - 1]?.value ?? 0)), "in order");
    const doc = await task.status();
    assert.equal(doc.status, "succeeded");
    assert.deepEqual(doc.progress, { value: 1, message: "step 4 of 4" }, `${name}: the task document shows the last progress`);
  }

  // ---- 2. the gateway restarts while an isolated call runs ----------------------------------
  // The last step waits for the gate: the call is surely still running after the restart.
  const gate = join(dir, "gate");
  const task = await client.function(`${ns}/steps-node`).push({ steps: 12, ms: 300, gate });
  await waitFor(async () => {
    const d = await task.status();
    return d.status === "running" && (d.progress?.value ?? 0) > 0;
  }, { timeoutMs: 180_000, intervalMs: 100, what: `call running with progress; output:\n${output.slice(-3000)}` });
  const killed = gateway;
  assert.ok(killed?.pid !== undefined);
  process.kill(-killed.pid, "SIGKILL");
  await new Promise<void>((r) => (killed.exitCode !== null || killed.signalCode !== null ? r() : killed.once("exit", () => r())));
  await new Promise((r) => setTimeout(r, 1500));
  const before = output.length;
  await startGateway();
  // Recovered from the store, running again from its Job's view (no lease yet: it is the pod's).
  await waitFor(async () => (await task.status()).status === "running", { timeoutMs: 60_000, what: "the restarted gateway has the call running again" });
  writeFileSync(gate, "");
  // The pod kept running through the outage: its later progress and its output are taken.
  const doc = await waitFor(
    async () => {
      const d = await task.status().catch(() => undefined);
      return d !== undefined && ["succeeded", "failed", "cancelled"].includes(d.status) ? d : undefined;
    },
    { timeoutMs: 120_000, intervalMs: 250, what: `the call ended after the restart; output since:\n${output.slice(before).slice(-4000)}` },
  );
  assert.equal(doc.status, "succeeded", JSON.stringify(doc));
  assert.deepEqual((await task.result({ timeoutMs: 10_000 }) as { steps: number }).steps, 12);
  assert.equal(doc.attempts, 1, "one pod, one attempt: adopted, not re-run");
  assert.deepEqual(doc.progress, { value: 1, message: "step 12 of 12" }, "progress after the restart reached the task");
  // The Job ends Complete, exit 0, its pod's delivered document (small: the output inline).
  const job = await waitFor(
    async () => {
      const j = (await kube.get(hearthJobs, `call-${task.id}`, ns)) as { status?: { conditions?: { type: string; status: string }[]; output?: unknown; attempts?: { exitCode?: number }[] } } | undefined;
      return j?.status?.conditions?.some((c) => c.type === "Complete" && c.status === "True") === true ? j : undefined;
    },
    { timeoutMs: 120_000, what: "call Job Complete" },
  );
  assert.deepEqual(job.status?.attempts?.map((a) => a.exitCode), [0]);
  assert.equal((job.status?.output as { steps?: number } | undefined)?.steps, 12);
});
