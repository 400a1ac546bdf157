import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { V1Container, V1EnvVar, V1PodTemplateSpec } from "@kubernetes/client-node";
import { workloadConfigSchema, type WorkloadConfigInput } from "../../src/workload/config.ts";
import { canonicalJson, stableHash } from "../../src/workload/hash.ts";
import { renderPodTemplate, type RenderOptions } from "../../src/workload/render.ts";
import { aFunction } from "../support/function-builder.ts";

const config = (c: WorkloadConfigInput = {}) => workloadConfigSchema.parse({ gateway: { url: "http://gw.hearth-system:8080" }, ...c });
const shared = config({ gpu: { strategy: "timeSlicing", timeSlicing: { replicas: 4, resourceName: "nvidia.com/gpu.shared" } } });
const warm: RenderOptions = { mode: "warm", workerToken: true };

function render(b = aFunction(), c = config(), opts: RenderOptions = warm): { template: V1PodTemplateSpec; worker: V1Container; hash: string } {
  const r = renderPodTemplate(b.build(), c, opts);
  assert.ok(r.ok, r.ok ? "" : r.message);
  const worker = r.template.spec?.containers[0];
  assert.ok(worker !== undefined);
  return { template: r.template, worker, hash: r.configHash };
}

function env(c: V1Container): Map<string, V1EnvVar> {
  return new Map((c.env ?? []).map((e) => [e.name, e]));
}

const value = (c: V1Container, name: string): string | undefined => env(c).get(name)?.value;

describe("renderPodTemplate: runtime contract environment", () => {
  it("sets every variable of docs/protocol.md for a warm worker", () => {
    const { worker } = render(aFunction("whisper", "ml").handler("app.transcribe:Whisper").with({ concurrency: 3, timeoutSeconds: 120, restartOnError: false, encoding: "pickle" }));
    assert.equal(value(worker, "HEARTH_MODE"), "warm");
    assert.equal(value(worker, "HEARTH_HANDLER"), "app.transcribe:Whisper");
    assert.equal(value(worker, "HEARTH_FUNCTION"), "ml/whisper");
    assert.equal(value(worker, "HEARTH_GATEWAY_URL"), "http://gw.hearth-system:8080");
    assert.equal(env(worker).get("HEARTH_WORKER_TOKEN"), undefined, "no Secret: the projected token instead");
    assert.equal(value(worker, "HEARTH_WORKER_TOKEN_FILE"), "/var/run/hearth/worker-token/token");
    assert.deepEqual(env(worker).get("HEARTH_WORKER_ID")?.valueFrom, { fieldRef: { apiVersion: "v1", fieldPath: "metadata.name" } });
    assert.equal(value(worker, "HEARTH_CONCURRENCY"), "3");
    assert.equal(value(worker, "HEARTH_TIMEOUT_SECONDS"), "120");
    assert.equal(value(worker, "HEARTH_RESTART_ON_ERROR"), "false");
    assert.equal(value(worker, "HEARTH_ENCODING"), "pickle");
    assert.equal(value(worker, "HEARTH_HEALTH_PORT"), "8081");
    assert.equal(value(worker, "HEARTH_GPU_FRACTION"), undefined, "CPU functions get no fraction");
  });

  it("oneshot workers get no gateway, no health port, no probes, restartPolicy Never", () => {
    const { template, worker } = render(aFunction(), config(), { mode: "oneshot", timeoutSeconds: 42, env: [{ name: "HEARTH_INPUT_FILE", value: "/input/input.json" }] });
    assert.equal(value(worker, "HEARTH_MODE"), "oneshot");
    assert.equal(value(worker, "HEARTH_GATEWAY_URL"), undefined);
    assert.equal(value(worker, "HEARTH_WORKER_TOKEN"), undefined);
    assert.equal(value(worker, "HEARTH_WORKER_TOKEN_FILE"), undefined);
    assert.equal(template.spec?.volumes?.some((v) => v.projected !== undefined), false, "no gateway token for oneshot pods");
    assert.equal(value(worker, "HEARTH_HEALTH_PORT"), "0");
    assert.equal(value(worker, "HEARTH_TIMEOUT_SECONDS"), "42");
    assert.equal(value(worker, "HEARTH_INPUT_FILE"), "/input/input.json");
    assert.equal(worker.readinessProbe, undefined);
    assert.equal(worker.livenessProbe, undefined);
    assert.equal(template.spec?.restartPolicy, "Never");
    assert.equal(template.metadata?.labels?.["hearth.dev/worker-mode"], "oneshot");
  });

  it("a warm worker's gateway credential is a projected ServiceAccount token, not its pod's API token", () => {
    const { template, worker } = render();
    const volume = template.spec?.volumes?.find((v) => v.name === "hearth-worker-token");
    assert.deepEqual(volume?.projected, { sources: [{ serviceAccountToken: { audience: "hearth.dev/gateway", expirationSeconds: 3600, path: "token" } }] });
    assert.deepEqual(
      worker.volumeMounts?.find((m) => m.name === "hearth-worker-token"),
      { name: "hearth-worker-token", mountPath: "/var/run/hearth/worker-token", readOnly: true },
    );
    assert.equal(template.spec?.automountServiceAccountToken, false);
    assert.doesNotMatch(JSON.stringify(template), /secretKeyRef/);
  });

  it("the config hash does not depend on any signing key (rotating it rolls no pool)", () => {
    const a = render(aFunction(), config(), warm);
    const b = render(aFunction(), config(), warm);
    assert.equal(a.hash, b.hash);
  });

  it("appends the Function's env and envFrom after Hearth's", () => {
    const { worker } = render(
      aFunction().with({
        env: [
          { name: "MODEL", value: "large-v3" },
          { name: "API_KEY", valueFrom: { secretKeyRef: { name: "keys", key: "api" } } },
          { name: "LIMIT", valueFrom: { resourceFieldRef: { resource: "limits.memory", divisor: "1Mi" } } },
        ],
        envFrom: [{ secretRef: { name: "hf-token" }, prefix: "HF_" }, { configMapRef: { name: "settings", optional: true } }],
      }),
    );
    const names = (worker.env ?? []).map((e) => e.name);
    assert.ok(names.indexOf("MODEL") > names.indexOf("HEARTH_HEALTH_PORT"));
    assert.deepEqual(env(worker).get("API_KEY")?.valueFrom, { secretKeyRef: { name: "keys", key: "api" } });
    assert.deepEqual(env(worker).get("LIMIT")?.valueFrom, { resourceFieldRef: { resource: "limits.memory", divisor: "1Mi" } });
    assert.deepEqual(worker.envFrom, [{ prefix: "HF_", secretRef: { name: "hf-token" } }, { configMapRef: { name: "settings", optional: true } }]);
  });

  it("rejects env that would override what Hearth sets, naming the field to use", () => {
    const r = renderPodTemplate(aFunction().with({ env: [{ name: "HEARTH_CONCURRENCY", value: "9" }] }).build(), config(), warm);
    assert.ok(!r.ok);
    assert.equal(r.reason, "InvalidSpec");
    assert.match(r.message, /spec\.concurrency/);
    const clash = renderPodTemplate(aFunction().with({ env: [{ name: "HEARTH_INPUT_FILE", value: "x" }] }).build(), config(), {
      mode: "oneshot",
      env: [{ name: "HEARTH_INPUT_FILE", value: "/in" }],
    });
    assert.ok(!clash.ok);
  });

  it("lets the Function set HEARTH_CODE_PATH and HOME", () => {
    const { worker } = render(aFunction().with({ env: [{ name: "HEARTH_CODE_PATH", value: "/code" }, { name: "HOME", value: "/home/app" }] }));
    assert.equal(value(worker, "HEARTH_CODE_PATH"), "/code");
    assert.deepEqual((worker.env ?? []).filter((e) => e.name === "HOME").map((e) => e.value), ["/home/app"]);
  });

  it("points HOME at the writable /tmp by default", () => {
    assert.equal(value(render().worker, "HOME"), "/tmp");
  });
});

describe("renderPodTemplate: image, command, resources", () => {
  it("uses the runtime's command unless the Function overrides it", () => {
    assert.deepEqual(render().worker.command, ["python", "-m", "hearth.runtime"]);
    assert.deepEqual(render(aFunction().with({ runtime: "node" })).worker.command, ["hearth", "worker"]);
    assert.deepEqual(render(aFunction().with({ command: ["/app/run"] })).worker.command, ["/app/run"]);
    const custom = config({ runtimes: { python: { command: ["/opt/venv/bin/python", "-m", "hearth.runtime"] } } });
    assert.deepEqual(render(aFunction(), custom).worker.command, ["/opt/venv/bin/python", "-m", "hearth.runtime"]);
    assert.equal(render(aFunction().image("r.example/x:2")).worker.image, "r.example/x:2");
  });

  it("requests cpu, memory and ephemeral storage; limits memory and storage but not cpu", () => {
    const { worker } = render(aFunction().with({ resources: { cpu: "500m", memory: "4Gi", ephemeralStorage: "10Gi" } }));
    assert.deepEqual(worker.resources?.requests, { cpu: "500m", memory: "4Gi", "ephemeral-storage": "10Gi" });
    assert.deepEqual(worker.resources?.limits, { memory: "4Gi", "ephemeral-storage": "10Gi" });
  });

  it("defaults to 1 cpu, 1Gi memory, 2Gi ephemeral storage", () => {
    assert.deepEqual(render().worker.resources?.requests, { cpu: "1", memory: "1Gi", "ephemeral-storage": "2Gi" });
  });
});

describe("renderPodTemplate: GPUs", () => {
  it("puts GPU resources in requests and limits, the fraction in env, affinity and tolerations on the pod", () => {
    const { template, worker } = render(aFunction().gpu({ type: "t4", split: 4 }), shared);
    assert.equal(worker.resources?.limits?.["nvidia.com/gpu.shared"], "1");
    assert.equal(worker.resources?.requests?.["nvidia.com/gpu.shared"], "1");
    assert.equal(value(worker, "HEARTH_GPU_FRACTION"), "0.25");
    assert.deepEqual(template.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms, [
      { matchExpressions: [{ key: "nvidia.com/gpu.product", operator: "In", values: ["Tesla-T4"] }] },
    ]);
    assert.deepEqual(template.spec?.tolerations, [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }]);
    assert.ok(template.spec?.volumes?.some((v) => v.name === "dshm" && v.emptyDir?.medium === "Memory"));
  });

  it("passes a GPU rejection through", () => {
    const r = renderPodTemplate(aFunction().gpu({ split: 4 }).build(), config(), warm);
    assert.ok(!r.ok);
    assert.equal(r.reason, "InvalidGPU");
  });

  it("the operator's pod.tolerations go on every worker, before the GPU ones", () => {
    const dedicated = { key: "pool", operator: "Equal" as const, value: "inference", effect: "NoSchedule" as const };
    const cpu = render(aFunction(), config({ pod: { tolerations: [dedicated] } }));
    assert.deepEqual(cpu.template.spec?.tolerations, [dedicated]);
    const gpu = render(aFunction().gpu({ type: "t4", split: 4 }), config({ gpu: { strategy: "timeSlicing", timeSlicing: { replicas: 4, resourceName: "nvidia.com/gpu.shared" } }, pod: { tolerations: [dedicated] } }));
    assert.deepEqual(gpu.template.spec?.tolerations, [dedicated, { key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }]);
    // Configured or not, they are part of the template, so a change rolls the pools (an empty list adds no field: see below).
    assert.notEqual(cpu.hash, render().hash);
  });

  it("no GPU: no affinity, tolerations or shm", () => {
    const { template } = render();
    assert.equal(template.spec?.affinity, undefined);
    assert.equal(template.spec?.tolerations, undefined);
    assert.ok(!(template.spec?.volumes ?? []).some((v) => v.name === "dshm"));
  });
});

describe("renderPodTemplate: probes and security", () => {
  it("readiness is /readyz (true only after setup) and liveness /healthz on the health port", () => {
    const { worker } = render(aFunction(), config({ pod: { healthPort: 9000 } }));
    assert.deepEqual(worker.ports, [{ name: "health", containerPort: 9000, protocol: "TCP" }]);
    assert.equal(worker.readinessProbe?.httpGet?.path, "/readyz");
    assert.equal(worker.readinessProbe?.httpGet?.port, "health");
    assert.equal(worker.livenessProbe?.httpGet?.path, "/healthz");
    assert.equal(value(worker, "HEARTH_HEALTH_PORT"), "9000");
  });

  it("runs non-root with no privilege escalation, RuntimeDefault seccomp, read-only root and a sized /tmp", () => {
    const { template, worker } = render(aFunction().with({ resources: { ephemeralStorage: "5Gi" } }));
    const pod = template.spec;
    assert.equal(pod?.securityContext?.runAsNonRoot, true);
    assert.equal(pod?.securityContext?.runAsUser, 1000);
    assert.deepEqual(pod?.securityContext?.seccompProfile, { type: "RuntimeDefault" });
    assert.equal(worker.securityContext?.allowPrivilegeEscalation, false);
    assert.equal(worker.securityContext?.readOnlyRootFilesystem, true);
    assert.deepEqual(worker.securityContext?.capabilities, { drop: ["ALL"] });
    assert.deepEqual(pod?.volumes?.find((v) => v.name === "tmp"), { name: "tmp", emptyDir: { sizeLimit: "5Gi" } });
    assert.deepEqual(worker.volumeMounts?.find((m) => m.name === "tmp"), { name: "tmp", mountPath: "/tmp" });
    assert.equal(pod?.automountServiceAccountToken, false);
    assert.equal(pod?.enableServiceLinks, false);
  });

  it("gives warm workers a grace period to drain, bounded by the config", () => {
    assert.equal(render(aFunction().with({ timeoutSeconds: 30 })).template.spec?.terminationGracePeriodSeconds, 45);
    assert.equal(render(aFunction().with({ timeoutSeconds: 7200 })).template.spec?.terminationGracePeriodSeconds, 615);
  });

  it("applies pod defaults from the config", () => {
    const { template } = render(aFunction(), config({ pod: { serviceAccountName: "workers", priorityClassName: "inference", imagePullSecrets: ["regcred"], nodeSelector: { pool: "gpu" } } }));
    assert.equal(template.spec?.serviceAccountName, "workers");
    assert.equal(template.spec?.priorityClassName, "inference");
    assert.deepEqual(template.spec?.imagePullSecrets, [{ name: "regcred" }]);
    assert.deepEqual(template.spec?.nodeSelector, { pool: "gpu" });
  });
});

describe("renderPodTemplate: pythonPackages", () => {
  it("installs them in an init container into a volume on PYTHONPATH", () => {
    const { template, worker } = render(aFunction().with({ pythonPackages: ["numpy==2.1.0", "tqdm"] }));
    const init = template.spec?.initContainers?.[0];
    assert.equal(init?.name, "install-packages");
    assert.deepEqual(init?.command?.slice(0, 2), ["sh", "-c"]);
    assert.deepEqual(init?.command?.slice(3), ["install-packages", "numpy==2.1.0", "tqdm"]);
    assert.match(init?.command?.[2] ?? "", /pip install .*--target "\$tmp" "\$@"/);
    assert.equal(init?.image, "registry.example.com/models/echo:1.0");
    assert.equal(value(worker, "PYTHONPATH"), "/opt/hearth/packages/site");
    assert.ok(worker.volumeMounts?.some((m) => m.mountPath === "/opt/hearth/packages" && m.readOnly === true));
    // Cached per node by the package set: the same set shares a directory, another set does not.
    const vol = (t: typeof template) => t.spec?.volumes?.find((v) => v.name === "packages")?.hostPath?.path ?? "";
    assert.match(vol(template), /^\/var\/cache\/hearth\/python-packages\/py-[0-9a-f]{32}$/);
    assert.equal(vol(render(aFunction().with({ pythonPackages: ["numpy==2.1.0", "tqdm"] })).template), vol(template));
    assert.notEqual(vol(render(aFunction().with({ pythonPackages: ["numpy==2.1.1", "tqdm"] })).template), vol(template));
  });

  it("passes the operator's index URL and pip options before the requirements", () => {
    const { template } = render(aFunction().with({ pythonPackages: ["tqdm"] }), config({ packages: { indexURL: "https://mirror.internal/simple", extraIndexURLs: ["https://extra.internal/simple"], pipOptions: ["--trusted-host", "mirror.internal"] } }));
    assert.deepEqual(template.spec?.initContainers?.[0]?.command?.slice(3), ["install-packages", "--index-url", "https://mirror.internal/simple", "--extra-index-url", "https://extra.internal/simple", "--trusted-host", "mirror.internal", "tqdm"]);
  });

  it("keeps the Function's own PYTHONPATH after the packages", () => {
    const { worker } = render(aFunction().with({ pythonPackages: ["tqdm"], env: [{ name: "PYTHONPATH", value: "/app" }] }));
    assert.equal(value(worker, "PYTHONPATH"), "/opt/hearth/packages/site:/app");
  });
});

describe("renderPodTemplate: metadata and config hash", () => {
  it("labels pods for selection and copies podMetadata (Hearth's labels win)", () => {
    const { template } = render(
      aFunction("whisper").with({ podMetadata: { labels: { team: "ml", "hearth.dev/function": "spoof" }, annotations: { "prometheus.io/scrape": "true" } } }),
    );
    assert.equal(template.metadata?.labels?.["team"], "ml");
    assert.equal(template.metadata?.labels?.["hearth.dev/function"], "whisper");
    assert.equal(template.metadata?.labels?.["hearth.dev/worker-mode"], "warm");
    assert.equal(template.metadata?.annotations?.["prometheus.io/scrape"], "true");
    assert.match(template.metadata?.annotations?.["hearth.dev/config-hash"] ?? "", /^[0-9a-f]{16}$/);
  });

  it("changes the hash when anything a worker is made of changes, and only then", () => {
    const base = render().hash;
    assert.equal(render().hash, base, "deterministic");
    assert.notEqual(render(aFunction().image("registry.example.com/models/echo:1.1")).hash, base);
    assert.notEqual(render(aFunction().with({ concurrency: 2 })).hash, base);
    assert.notEqual(render(aFunction(), config({ gateway: { url: "http://other:8080" } })).hash, base);
    assert.notEqual(render(aFunction(), config(), { ...warm, hashInputs: { token: "new" } }).hash, base);
    assert.equal(render(aFunction().replicas(5)).hash, base, "replicas are not part of the pod");
  });

  it("stableHash ignores key order", () => {
    assert.equal(stableHash({ a: 1, b: [1, { c: 2, d: 3 }] }), stableHash({ b: [1, { d: 3, c: 2 }], a: 1 }));
    assert.equal(canonicalJson({ b: 1, a: undefined, c: null }), '{"b":1,"c":null}');
  });
});
