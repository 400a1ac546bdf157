import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { DEV_CODE_PATH_ANNOTATION, diffWorkers, planWorkerProcess, type DataSources, type DevFunction, type DevPod, type WorkerProcess } from "../../src/dev/worker-process.ts";

const tools = { repoRoot: "/repo", node: "/bin/node24", python: "/usr/bin/python3" };
const noData: DataSources = { secrets: new Map(), configMaps: new Map() };

function aPod(over: { phase?: string; labels?: Record<string, string>; env?: DevPod["spec"]["containers"][number]["env"]; deleting?: boolean } = {}): DevPod {
  return {
    metadata: {
      name: "echo-abc",
      namespace: "demo",
      uid: "uid-1",
      labels: over.labels ?? { "hearth.dev/function": "echo", "hearth.dev/worker-mode": "warm" },
      ...(over.deleting ? { deletionTimestamp: "2026-01-01T00:00:00Z" } : {}),
    },
    spec: { nodeName: "t4-0", containers: [{ name: "worker", env: over.env ?? [{ name: "HEARTH_HANDLER", value: "echo:Echo" }] }] },
    status: { phase: over.phase ?? "Running" },
  };
}
function aFunction(runtime: "python" | "node", codePath?: string): DevFunction {
  return {
    metadata: { name: "echo", namespace: "demo", ...(codePath !== undefined ? { annotations: { [DEV_CODE_PATH_ANNOTATION]: codePath } } : {}) },
    spec: { runtime },
  };
}

describe("planWorkerProcess", () => {
  it("runs a node worker with the pod's env, its own worker id and no health port", () => {
    const plan = planWorkerProcess(aPod(), aFunction("node", "examples/echo"), noData, tools);
    assert.ok("run" in plan);
    assert.equal(plan.run.command, "/bin/node24");
    assert.deepEqual(plan.run.args, ["/repo/src/cli/main.ts", "worker"]);
    assert.equal(plan.run.env["HEARTH_HANDLER"], "echo:Echo");
    assert.equal(plan.run.env["HEARTH_WORKER_ID"], "echo-abc");
    assert.equal(plan.run.env["HEARTH_HEALTH_PORT"], "0");
    assert.equal(plan.run.env["HEARTH_CODE_PATH"], "/repo/examples/echo");
    assert.equal(plan.run.key, "uid-1");
  });

  it("runs python workers with the SDK and the code on PYTHONPATH", () => {
    const plan = planWorkerProcess(aPod(), aFunction("python", "/abs/code"), noData, tools);
    assert.ok("run" in plan);
    assert.deepEqual(plan.run.args, ["-m", "hearth.runtime"]);
    assert.equal(plan.run.env["PYTHONPATH"], "/abs/code:/repo/sdk/python");
  });

  it("resolves secret, configmap and field references", () => {
    const env = [
      { name: "HEARTH_WORKER_TOKEN", valueFrom: { secretKeyRef: { name: "echo-worker", key: "token" } } },
      { name: "MODEL", valueFrom: { configMapKeyRef: { name: "cfg", key: "model" } } },
      { name: "POD", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
    ];
    const data: DataSources = {
      secrets: new Map([["demo/echo-worker", { token: "s3cret" }]]),
      configMaps: new Map([["demo/cfg", { model: "tiny" }]]),
    };
    const plan = planWorkerProcess(aPod({ env }), aFunction("node"), data, tools);
    assert.ok("run" in plan);
    assert.equal(plan.run.env["HEARTH_WORKER_TOKEN"], "s3cret");
    assert.equal(plan.run.env["MODEL"], "tiny");
    assert.equal(plan.run.env["POD"], "demo");
  });

  it("serves the projected ServiceAccount token as the kubelet does: a file on this machine the env points at", () => {
    const pod = aPod({ env: [{ name: "HEARTH_HANDLER", value: "echo:Echo" }, { name: "HEARTH_WORKER_TOKEN_FILE", value: "/var/run/hearth/worker-token/token" }] });
    pod.spec.volumes = [{ name: "hearth-worker-token", projected: { sources: [{ serviceAccountToken: { audience: "hearth.dev/gateway", expirationSeconds: 3600, path: "token" } }] } }];
    pod.spec.containers[0] = { ...pod.spec.containers[0], name: "worker", volumeMounts: [{ name: "hearth-worker-token", mountPath: "/var/run/hearth/worker-token" }] };
    const plan = planWorkerProcess(pod, aFunction("node"), noData, { ...tools, podFiles: "/state/pods" });
    assert.ok("run" in plan);
    assert.equal(plan.run.env["HEARTH_WORKER_TOKEN_FILE"], "/state/pods/uid-1/hearth-worker-token/token");
    assert.deepEqual(plan.run.tokens, [{ file: "/state/pods/uid-1/hearth-worker-token/token", serviceAccount: "default", audience: "hearth.dev/gateway", expirationSeconds: 3600 }]);
    pod.spec.serviceAccountName = "workers";
    const named = planWorkerProcess(pod, aFunction("node"), noData, { ...tools, podFiles: "/state/pods" });
    assert.ok("run" in named);
    assert.equal(named.run.tokens?.[0]?.serviceAccount, "workers");
    const none = planWorkerProcess(aPod(), aFunction("node"), noData, tools);
    assert.ok("run" in none);
    assert.equal(none.run.tokens, undefined);
  });

  it("waits for a secret that does not exist yet", () => {
    const env = [{ name: "HEARTH_WORKER_TOKEN", valueFrom: { secretKeyRef: { name: "echo-worker", key: "token" } } }];
    const plan = planWorkerProcess(aPod({ env }), aFunction("node"), noData, tools);
    assert.ok("skip" in plan && plan.skip.includes("echo-worker/token"));
  });

  it("skips pods that are not running warm workers", () => {
    const cases: [DevPod, DevFunction | undefined, string][] = [
      [aPod({ phase: "Pending" }), aFunction("node"), "Pending"],
      [aPod({ deleting: true }), aFunction("node"), "deleted"],
      [aPod({ labels: { "hearth.dev/function": "echo", "hearth.dev/worker-mode": "oneshot" } }), aFunction("node"), "fake kubelet plays"],
      [aPod({ labels: { "hearth.dev/function": "echo" } }), aFunction("node"), "not a worker pod"],
      [aPod(), undefined, "not found"],
    ];
    for (const [pod, fn, why] of cases) {
      const plan = planWorkerProcess(pod, fn, noData, tools);
      assert.ok("skip" in plan && plan.skip.includes(why), JSON.stringify(plan));
    }
  });
});

describe("planWorkerProcess for a batch Job's pod (oneshot)", () => {
  const oneshot = (annotations: Record<string, string>, extra: Partial<DevPod["spec"]> = {}, env: { name: string; value: string }[] = []): DevPod => {
    const pod = aPod({ labels: { "hearth.dev/function": "echo", "hearth.dev/worker-mode": "oneshot" }, env: [{ name: "HEARTH_HANDLER", value: "echo:Echo" }, ...env] });
    return { ...pod, metadata: { ...pod.metadata, annotations }, spec: { ...pod.spec, ...extra } };
  };
  const external = { "hearth.dev/fake-run": "external" };

  it("runs once when the fake kubelet waits for it, with the input from the downward-API annotation", () => {
    const pod = oneshot(
      { ...external, "hearth.dev/input": '{"name":"Ada"}' },
      {
        containers: [
          {
            name: "worker",
            env: [{ name: "HEARTH_HANDLER", value: "echo:Echo" }, { name: "HEARTH_INPUT_FILE", value: "/var/run/hearth/input/input" }],
            volumeMounts: [{ name: "hearth-input", mountPath: "/var/run/hearth/input" }],
            terminationMessagePolicy: "FallbackToLogsOnError",
          },
        ],
        volumes: [{ name: "hearth-input", downwardAPI: { items: [{ path: "input", fieldRef: { fieldPath: "metadata.annotations['hearth.dev/input']" } }] } }],
      },
    );
    const plan = planWorkerProcess(pod, aFunction("node"), noData, tools);
    assert.ok("run" in plan, JSON.stringify(plan));
    assert.deepEqual(plan.run.oneshot, { input: '{"name":"Ada"}', fallbackToLogs: true });
  });

  it("reads a larger input from the Job's ConfigMap, and waits while it is missing", () => {
    const spec: Partial<DevPod["spec"]> = {
      containers: [{ name: "worker", env: [{ name: "HEARTH_HANDLER", value: "echo:Echo" }, { name: "HEARTH_INPUT_FILE", value: "/in/input" }], volumeMounts: [{ name: "v", mountPath: "/in" }] }],
      volumes: [{ name: "v", configMap: { name: "j-hearth-input", items: [{ key: "input", path: "input" }] } }],
    };
    const missing = planWorkerProcess(oneshot(external, spec), aFunction("node"), noData, tools);
    assert.ok("skip" in missing && missing.skip.includes("j-hearth-input"));
    const data: DataSources = { secrets: new Map(), configMaps: new Map([["demo/j-hearth-input", { input: "[1,2]" }]]) };
    const plan = planWorkerProcess(oneshot(external, spec), aFunction("node"), data, tools);
    assert.ok("run" in plan && plan.run.oneshot?.input === "[1,2]");
  });

  it("does not run again once its exit was reported", () => {
    const plan = planWorkerProcess(oneshot({ ...external, "hearth.dev/fake-exit-code": "1" }), aFunction("node"), noData, tools);
    assert.ok("skip" in plan && plan.skip.includes("already ran"));
  });
});

describe("diffWorkers", () => {
  const w = (key: string) => ({ key }) as WorkerProcess;
  it("starts the missing and stops the extra", () => {
    assert.deepEqual(diffWorkers([w("a"), w("b")], new Set(["b", "c"])), { start: [w("a")], stop: ["c"] });
  });
  it("does nothing when in sync", () => {
    assert.deepEqual(diffWorkers([w("a")], new Set(["a"])), { start: [], stop: [] });
  });
});
