// The doc-embed example (examples/doc-embed/) in `hearth dev` on the real test cluster: its
// Workflows run through the gateway on real Node worker processes (the map-reduce and the
// router), and a hearth.dev Job with workflowRef runs the workflow and writes the run's output
// and each step's counts to its status; a run that fails fails the Job with the step's message.
import { it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { CustomObjectsApi } from "@kubernetes/client-node";
import { parseAllDocuments } from "yaml";
import { createClient, HearthError } from "../../src/client/index.ts";
import { kubeConfigFromEnv, waitFor, withNamespace } from "../support/cluster.ts";
import { toolPath } from "../support/tools.ts";
import { startDevMode } from "../support/dev-process.ts";

type Condition = { type: string; status: string; reason?: string; message?: string };
type JobStatus = { conditions?: Condition[]; output?: unknown; taskId?: string; steps?: { name: string; succeeded?: number; failed?: number }[] };

it("doc-embed runs in dev mode, and workflowRef Jobs run the workflow into their status", { timeout: 420_000 }, async (t) => {
  const kubeconfig = process.env["HEARTH_KUBECONFIG"];
  assert.ok(kubeconfig, "HEARTH_KUBECONFIG must be set");
  const kc = kubeConfigFromEnv();
  const ns = await withNamespace(t, kc, "wfjob");
  const dm = await startDevMode(t, { kubeconfig, namespace: ns });
  const { token } = dm;

  // The example's manifests as they are, in this test's namespace.
  const kubectl = (...args: string[]): string => execFileSync(toolPath("kubectl"), ["--kubeconfig", kubeconfig, "-n", ns, ...args], { encoding: "utf8" }).trim();
  kubectl("apply", "-f", "examples/doc-embed/functions.yaml", "-f", "examples/doc-embed/workflows.yaml");

  const custom = kc.makeApiClient(CustomObjectsApi);
  const get = async (plural: string, name: string): Promise<{ status?: Record<string, unknown> } | undefined> => {
    try {
      return (await custom.getNamespacedCustomObject({ group: "hearth.dev", version: "v1alpha1", namespace: ns, plural, name })) as { status?: Record<string, unknown> };
    } catch {
      return undefined;
    }
  };
  for (const wf of ["doc-embed", "doc-triage"]) {
    await waitFor(
      async () => ((await get("workflows", wf))?.status?.["conditions"] as Condition[] | undefined)?.some((c) => c.type === "Ready" && c.status === "True"),
      { timeoutMs: 150_000, what: `Workflow ${wf} Ready; dev output:\n${dm.output.slice(-3000)}` },
    );
  }

  const client = createClient({ url: dm.url, token });
  t.after(() => client.close());
  // The map-reduce: [words, letters, digits, chunks] summed over the sentences, in order.
  const embed = client.workflow(`${ns}/doc-embed`);
  assert.deepEqual(await embed.run("Hearth runs functions. It has 2 pools!", { timeoutMs: 120_000 }), [7, 29, 1, 2]);
  const run = await embed.push("One. Two three.");
  assert.deepEqual(await run.result({ timeoutMs: 120_000 }), [3, 11, 0, 2]);
  assert.deepEqual((await run.step("embed")).map((i) => i.output), [[1, 3, 0, 1], [2, 8, 0, 1]]);
  // The router: short texts are shouted, long ones embedded.
  const triage = client.workflow(`${ns}/doc-triage`);
  assert.equal(await triage.run("hi there", { timeoutMs: 120_000 }), "HI THERE!");
  assert.deepEqual(await triage.run("A text longer than forty characters, surely.", { timeoutMs: 120_000 }), [7, 36, 0, 1]);

  // A Job with workflowRef: the example's Job, as it is.
  const jobDoc = parseAllDocuments(readFileSync("examples/doc-embed/job.yaml", "utf8"))[0]?.toJSON() as { metadata: { name: string } };
  kubectl("apply", "-f", "examples/doc-embed/job.yaml");
  const finished = (name: string) =>
    waitFor(async () => {
      const s = (await get("jobs", name))?.status as JobStatus | undefined;
      return s?.conditions?.some((c) => (c.type === "Complete" || c.type === "Failed") && c.status === "True") === true ? s : undefined;
    }, { timeoutMs: 150_000, what: `Job ${name} finished; dev output:\n${dm.output.slice(-3000)}` });
  const done = await finished(jobDoc.metadata.name);
  assert.equal(done.conditions?.find((c) => c.type === "Complete")?.status, "True");
  assert.deepEqual(done.output, [16, 67, 0, 3]);
  assert.deepEqual(
    done.steps?.map((s) => s.name),
    ["split", "embed", "total"],
  );
  assert.equal(done.steps?.[0]?.succeeded, 1);
  assert.equal(done.steps?.[1]?.succeeded, 3);
  // One reducer task per sentence, or fewer when settled sentences were folded into one.
  const reductions = done.steps?.[2]?.succeeded ?? 0;
  assert.ok(reductions >= 1 && reductions <= 3, `total ran ${reductions} times`);
  assert.ok(done.taskId !== undefined, "the run id is the Job task id");
  const runDoc = (await client.getJson(`/v1/tasks/${encodeURIComponent(done.taskId ?? "")}`)) as { kind?: string; status?: string; output?: unknown };
  assert.equal(runDoc.kind, "workflow");
  assert.deepEqual(runDoc.output, [16, 67, 0, 3]);

  // A run that fails (split takes a string) fails the Job with the step's message.
  await custom.createNamespacedCustomObject({
    group: "hearth.dev",
    version: "v1alpha1",
    namespace: ns,
    plural: "jobs",
    body: { apiVersion: "hearth.dev/v1alpha1", kind: "Job", metadata: { name: "embed-a-number" }, spec: { workflowRef: { name: "doc-embed" }, input: 42 } },
  });
  const bad = await finished("embed-a-number");
  const failed = bad.conditions?.find((c) => c.type === "Failed");
  assert.equal(failed?.status, "True");
  assert.match(failed?.message ?? "", /split/);
  assert.match(failed?.message ?? "", /split takes a string/);
  assert.deepEqual(bad.steps?.map((s) => [s.name, s.failed]), [["split", 1]]);

  // The gateway does not know this Workflow: the Job waits and says why.
  await custom.createNamespacedCustomObject({
    group: "hearth.dev",
    version: "v1alpha1",
    namespace: ns,
    plural: "jobs",
    body: { apiVersion: "hearth.dev/v1alpha1", kind: "Job", metadata: { name: "no-such-workflow" }, spec: { workflowRef: { name: "nope" }, input: "x" } },
  });
  const waiting = await waitFor(
    async () => ((await get("jobs", "no-such-workflow"))?.status as JobStatus | undefined)?.conditions?.find((c) => c.type === "Complete" && c.reason === "GatewayUnavailable"),
    { timeoutMs: 60_000, what: "Job no-such-workflow waiting with GatewayUnavailable" },
  );
  assert.match(waiting.message ?? "", /nope/);
  await assert.rejects(client.workflow(`${ns}/nope`).run("x", { timeoutMs: 5_000 }), (err: unknown) => err instanceof HearthError && err.status === 404);
});
