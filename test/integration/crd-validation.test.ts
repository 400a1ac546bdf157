// The real kube-apiserver rejects invalid Hearth manifests with a message naming the field, and
// accepts every example in examples/. Nothing here runs the operator: this is the CRD schema alone.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { CoreV1Api, CustomObjectsApi, KubeConfig } from "@kubernetes/client-node";
import { GROUP, VERSION, MAX_INLINE_INPUT_STRING } from "../../src/api/v1alpha1/index.ts";

type Obj = Record<string, unknown>;
const PLURALS: Record<string, string> = { Function: "functions", Job: "jobs", Workflow: "workflows" };

function kubeConfig(): KubeConfig {
  const path = process.env["HEARTH_KUBECONFIG"];
  assert.ok(path, "HEARTH_KUBECONFIG must point at the test cluster (run through hack/with-cluster.ts)");
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  return kc;
}

const fn = (spec: Obj, name = "f"): Obj => ({ apiVersion: `${GROUP}/${VERSION}`, kind: "Function", metadata: { name }, spec });
const job = (spec: Obj): Obj => ({ apiVersion: `${GROUP}/${VERSION}`, kind: "Job", metadata: { name: "j" }, spec });
const wf = (spec: Obj): Obj => ({ apiVersion: `${GROUP}/${VERSION}`, kind: "Workflow", metadata: { name: "w" }, spec });
const base = { image: "registry.example.com/m:1", handler: "app.model:Model" };
const step = (name: string, extra: Obj = {}): Obj => ({ name, functionRef: { name: "f" }, ...extra });

/** [description, manifest, substrings the apiserver's message must contain]. */
const invalid: [string, Obj, string[]][] = [
  ["Function without spec", { apiVersion: `${GROUP}/${VERSION}`, kind: "Function", metadata: { name: "f" } }, ["spec", "Required"]],
  ["Function without image", fn({ handler: "a:B" }), ["spec.image", "Required"]],
  ["Function without handler", fn({ image: "x:1" }), ["spec.handler", "Required"]],
  ["image of the wrong type", fn({ ...base, image: 42 }), ["spec.image", "string"]],
  ["handler without module:attr", fn({ ...base, handler: "model" }), ["spec.handler"]],
  ["unknown runtime", fn({ ...base, runtime: "ruby" }), ["spec.runtime", "Unsupported value"]],
  ["gpu.count with gpu.split", fn({ ...base, gpu: { count: 2, split: 4 } }), ["spec.gpu", "cannot be combined with gpu.split"]],
  ["gpu.split 0", fn({ ...base, gpu: { split: 0 } }), ["spec.gpu.split", "greater than or equal to 1"]],
  ["gpu.count 0", fn({ ...base, gpu: { count: 0 } }), ["spec.gpu.count"]],
  ["gpu.count too high", fn({ ...base, gpu: { count: 17 } }), ["spec.gpu.count", "less than or equal to 16"]],
  ["gpu.type with spaces", fn({ ...base, gpu: { type: "T4 GPU" } }), ["spec.gpu.type"]],
  ["gpu.memory not a quantity", fn({ ...base, gpu: { memory: "lots" } }), ["spec.gpu.memory"]],
  ["unknown invocation mode", fn({ ...base, invocation: "batch" }), ["spec.invocation", "Unsupported value"]],
  ["timeoutSeconds 0", fn({ ...base, timeoutSeconds: 0 }), ["spec.timeoutSeconds"]],
  ["timeoutSeconds above 2 days", fn({ ...base, timeoutSeconds: 172801 }), ["spec.timeoutSeconds"]],
  ["concurrency as a string", fn({ ...base, concurrency: "two" }), ["spec.concurrency", "integer"]],
  ["warmPool min > max", fn({ ...base, warmPool: { minReplicas: 5, maxReplicas: 2 } }), ["spec.warmPool", "minReplicas must be <= warmPool.maxReplicas"]],
  ["negative minReplicas", fn({ ...base, warmPool: { minReplicas: -1 } }), ["spec.warmPool.minReplicas"]],
  ["targetUtilization 0", fn({ ...base, warmPool: { targetUtilization: 0 } }), ["spec.warmPool.targetUtilization"]],
  ["targetUtilization above 1", fn({ ...base, warmPool: { targetUtilization: 1.5 } }), ["spec.warmPool.targetUtilization"]],
  ["unknown autoscaler", fn({ ...base, warmPool: { autoscaler: "keda" } }), ["spec.warmPool.autoscaler", "hearth", "external"]],
  ["negative warmPool.replicas", fn({ ...base, warmPool: { replicas: -1 } }), ["spec.warmPool.replicas"]],
  ["pickle on node", fn({ ...base, runtime: "node", encoding: "pickle" }), ["spec", "encoding: pickle needs runtime: python"]],
  ["cpu not a quantity", fn({ ...base, resources: { cpu: "lots" } }), ["spec.resources.cpu"]],
  ["env var with a bad name", fn({ ...base, env: [{ name: "1 BAD", value: "x" }] }), ["spec.env[0].name"]],
  ["env var with value and valueFrom", fn({ ...base, env: [{ name: "A", value: "x", valueFrom: { secretKeyRef: { name: "s", key: "k" } } }] }), ["spec.env[0]", "not both"]],
  ["negative maxRetries", fn({ ...base, retries: { maxRetries: -1 } }), ["spec.retries.maxRetries"]],
  ["initial backoff above max", fn({ ...base, retries: { initialBackoffSeconds: 120, maxBackoffSeconds: 60 } }), ["spec.retries", "initialBackoffSeconds must be <= maxBackoffSeconds"]],
  ["too many tags", fn({ ...base, tags: Array.from({ length: 33 }, (_, i) => `t${i}`) }), ["spec.tags", "must have at most 32 items"]],
  ["oversized description", fn({ ...base, description: "x".repeat(1025) }), ["spec.description", "1024"]],
  ["name longer than 52", fn(base, "f".repeat(60)), ["metadata.name must be at most 52 characters"]],
  ["Job with both refs", job({ functionRef: { name: "f" }, workflowRef: { name: "w" } }), ["spec", "exactly one of functionRef or workflowRef"]],
  ["Job with no ref", job({ input: 1 }), ["spec", "exactly one of functionRef or workflowRef"]],
  ["Job with input and inputFrom", job({ functionRef: { name: "f" }, input: 1, inputFrom: { configMapKeyRef: { name: "c", key: "k" } } }), ["spec", "must not validate the schema"]],
  ["Job with oversized input", job({ functionRef: { name: "f" }, input: "x".repeat(MAX_INLINE_INPUT_STRING + 1) }), ["spec.input", "Too long", `${MAX_INLINE_INPUT_STRING} bytes`]],
  ["Job with an oversized input list", job({ functionRef: { name: "f" }, input: Array.from({ length: 5000 }, (_, i) => i) }), ["spec.input", "Too many", "must have at most 4096 items"]],
  ["inputFrom with both sources", job({ functionRef: { name: "f" }, inputFrom: { configMapKeyRef: { name: "c", key: "k" }, secretKeyRef: { name: "s", key: "k" } } }), ["spec.inputFrom", "exactly one of configMapKeyRef or secretKeyRef"]],
  ["functionRef with an uppercase name", job({ functionRef: { name: "Whisper" } }), ["spec.functionRef.name"]],
  ["negative ttlSecondsAfterFinished", job({ functionRef: { name: "f" }, ttlSecondsAfterFinished: -5 }), ["spec.ttlSecondsAfterFinished"]],
  ["Job with an unknown invocation mode", job({ functionRef: { name: "f" }, invocation: "cold" }), ["spec.invocation", "Unsupported value"]],
  ["duplicate step names", wf({ start: "a", steps: [step("a"), step("a")] }), ["spec.steps", "step names must be unique"]],
  ["start not a step", wf({ start: "b", steps: [step("a")] }), ["spec.start", "start must name one of the steps"]],
  ["next names an unknown step", wf({ start: "a", steps: [step("a", { next: ["nope"] })] }), ["spec.steps", "every name in next must be a step"]],
  ["routes name an unknown step", wf({ start: "a", steps: [step("a", { routes: ["nope"] })] }), ["spec.steps", "every name in routes must be a step"]],
  ["step with next and routes", wf({ start: "a", steps: [step("a", { next: ["b"], routes: ["b"] }), step("b")] }), ["spec.steps[0]", "next or routes, not both"]],
  ["step that loops on itself", wf({ start: "a", steps: [step("a", { next: ["a"] })] }), ["spec.steps[0]", "cannot list itself"]],
  ["Workflow without steps", wf({ start: "a", steps: [] }), ["spec.steps"]],
  ["step without functionRef", wf({ start: "a", steps: [{ name: "a" }] }), ["spec.steps[0].functionRef", "Required"]],
];

function errorMessage(err: unknown): string {
  if (typeof err === "object" && err !== null && "body" in err) {
    const body = err.body;
    if (typeof body === "string") {
      try {
        const parsed = JSON.parse(body) as { message?: string };
        return parsed.message ?? body;
      } catch {
        return body;
      }
    }
  }
  return err instanceof Error ? err.message : String(err);
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return yamlFiles(path);
    return /\.ya?ml$/.test(entry) ? [path] : [];
  });
}

describe("CRD schema validation on the real apiserver", () => {
  const kc = kubeConfig();
  const custom = kc.makeApiClient(CustomObjectsApi);
  const core = kc.makeApiClient(CoreV1Api);
  const namespace = `crd-validation-${process.pid}`;

  const create = (body: Obj, dryRun = true) =>
    custom.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace,
      plural: PLURALS[String(body["kind"])] ?? "unknown",
      body,
      ...(dryRun ? { dryRun: "All" } : {}),
    });

  before(async () => {
    await core.createNamespace({ body: { metadata: { name: namespace } } });
  });
  after(async () => {
    await core.deleteNamespace({ name: namespace });
  });

  it(`has at least 25 invalid cases (${invalid.length})`, () => {
    assert.ok(invalid.length >= 25);
  });

  for (const [description, manifest, expected] of invalid) {
    it(`rejects: ${description}`, async () => {
      let message: string | undefined;
      try {
        await create(manifest);
      } catch (err) {
        message = errorMessage(err);
      }
      assert.ok(message !== undefined, `the apiserver accepted an invalid manifest (${description})`);
      for (const part of expected) assert.ok(message.includes(part), `message ${JSON.stringify(message)} should contain ${JSON.stringify(part)}`);
    });
  }

  it("applies defaults from the schema", async () => {
    const created = (await create(fn(base, "defaults"))) as { spec: Obj };
    assert.equal(created.spec["runtime"], "python");
    assert.equal(created.spec["timeoutSeconds"], 300);
    assert.equal(created.spec["invocation"], "warm");
    assert.deepEqual(created.spec["resources"], { cpu: "1", memory: "1Gi", ephemeralStorage: "2Gi" });
    assert.deepEqual(created.spec["warmPool"], { minReplicas: 1, maxReplicas: 10, scaleDownDelaySeconds: 300, autoscaler: "hearth" });
  });

  it("keeps a Job's spec immutable", async () => {
    const body = job({ functionRef: { name: "f" }, input: { text: "hello" } });
    await create(body, false);
    await assert.rejects(
      custom.patchNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace,
        plural: "jobs",
        name: "j",
        body: [{ op: "replace", path: "/spec/input", value: { text: "changed" } }],
      }),
      (err: unknown) => errorMessage(err).includes("spec is immutable"),
    );
  });

  it("accepts every example in examples/", async () => {
    const docs = yamlFiles("examples")
      .flatMap((file) => parseAllDocuments(readFileSync(file, "utf8")).map((d) => ({ file, obj: d.toJS() as Obj | null })))
      .filter((d): d is { file: string; obj: Obj } => d.obj !== null && String(d.obj["apiVersion"]).startsWith(`${GROUP}/`));
    assert.ok(docs.length >= 3, `expected Hearth examples, found ${docs.length}`);
    for (const { file, obj } of docs) {
      const meta = (obj["metadata"] ?? {}) as Obj;
      const body = { ...obj, metadata: { ...meta, namespace } };
      await create(body).catch((err: unknown) => assert.fail(`${file}: ${errorMessage(err)}`));
    }
  });
});
