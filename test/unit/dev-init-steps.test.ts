// Dev mode's init steps (src/dev/init-steps.ts) and the artifact fetcher's reports: pure parts.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { downloadMessage, failureError } from "../../src/artifacts/report.ts";
import { initFailureReason, podProblem } from "../../src/controllers/function/observe.ts";
import { pod as podSchema } from "../../src/kube/objects.ts";
import { planInitSteps, type InitPlanInput } from "../../src/dev/init-steps.ts";
import { failureReason } from "../../src/gateway/setup.ts";
import { renderArtifacts } from "../../src/workload/artifacts.ts";

const base: InitPlanInput = {
  podUid: "uid-1",
  initContainers: [],
  workerMounts: [],
  secretVolumes: new Map(),
  artifacts: {},
  devArtifacts: undefined,
  baseDir: "/code",
  cacheDir: "/state/artifacts",
  envsDir: "/state/python-envs",
  python: "/usr/bin/python3",
  node: "/bin/node",
  cli: "/repo/src/cli/main.ts",
};

describe("dev mode init steps", () => {
  it("runs the fetch init container's own command and environment into dev mode's cache, and points HEARTH_ARTIFACTS there", () => {
    const specs = JSON.stringify([{ name: "model", href: "http://127.0.0.1:1/model.bin" }]);
    const plan = planInitSteps({
      ...base,
      initContainers: [{ name: "fetch-artifacts", env: { HEARTH_ARTIFACT_SPECS: specs, HEARTH_ARTIFACT_CACHE: "/var/cache/hearth/artifacts", HEARTH_WORKER_ID: "pod-a" }, mounts: [] }],
      workerMounts: [{ name: "artifact-cache", mountPath: "/models/model", subPath: "url-abc" }],
      artifacts: { model: "/models/model" },
    });
    assert.ok("steps" in plan);
    assert.deepEqual(plan.steps[0]?.args, ["/repo/src/cli/main.ts", "artifacts", "fetch"]);
    assert.equal(plan.steps[0]?.env["HEARTH_ARTIFACT_CACHE"], "/state/artifacts");
    assert.equal(plan.steps[0]?.env["HEARTH_WORKER_ID"], "pod-a", "it reports as the worker");
    assert.deepEqual(plan.artifacts, { model: "/state/artifacts/url-abc" });
  });

  it("writes a secretRef's keys as header files for the step and rewrites headersDir", () => {
    const specs = JSON.stringify([{ name: "lora", href: "https://x/l", headersDir: "/var/run/hearth/artifact-secrets/lora" }]);
    const plan = planInitSteps({
      ...base,
      initContainers: [{ name: "fetch-artifacts", env: { HEARTH_ARTIFACT_SPECS: specs }, mounts: [{ name: "artifact-lora-secret", mountPath: "/var/run/hearth/artifact-secrets/lora" }] }],
      secretVolumes: new Map([["artifact-lora-secret", { authorization: "Bearer t" }]]),
    });
    assert.ok("steps" in plan);
    const dir = "/state/artifacts/.secrets/uid-1/lora";
    assert.deepEqual(plan.steps[0]?.files, { [`${dir}/authorization`]: "Bearer t" });
    assert.deepEqual(JSON.parse(plan.steps[0]?.env["HEARTH_ARTIFACT_SPECS"] ?? ""), [{ name: "lora", href: "https://x/l", headersDir: dir }]);
    const missing = planInitSteps({ ...base, initContainers: [{ name: "fetch-artifacts", env: { HEARTH_ARTIFACT_SPECS: specs }, mounts: [] }] });
    assert.match("missing" in missing ? missing.missing : "", /secretRef is not found yet/);
  });

  it("maps volume and image artifacts to local directories, and says how when a mapping is missing", () => {
    const input = { ...base, workerMounts: [{ name: "artifact-weights", mountPath: "/models/weights" }], artifacts: { weights: "/models/weights" } };
    assert.deepEqual(planInitSteps({ ...input, devArtifacts: '{"weights": "./w"}' }), { steps: [], artifacts: { weights: "/code/w" } });
    const plan = planInitSteps(input);
    assert.match("missing" in plan ? plan.missing : "", /hearth\.dev\/dev-artifacts: '\{"weights": "\.\/path"\}'/);
    assert.match(JSON.stringify(planInitSteps({ ...input, devArtifacts: "[1]" })), /must be a JSON object/);
  });
});

describe("dev mode pythonPackages", () => {
  it("one venv per package set from the init container's own arguments; the worker runs its interpreter", () => {
    const command = ["sh", "-c", "<script>", "install-packages", "--index-url", "https://mirror/simple", "--trusted-host", "mirror", "numpy==2.1.0", "tqdm"];
    const plan = planInitSteps({ ...base, initContainers: [{ name: "install-packages", env: {}, mounts: [], command }] });
    assert.ok("steps" in plan);
    const step = plan.steps[0];
    assert.equal(step?.command, "sh");
    const dir = step?.args[3] ?? "";
    assert.match(dir, /^\/state\/python-envs\/py-[0-9a-f]{32}$/);
    assert.deepEqual(step?.args.slice(4), ["--index-url", "https://mirror/simple", "--trusted-host", "mirror", "numpy==2.1.0", "tqdm"]);
    assert.equal(step?.env["HEARTH_PYTHON"], "/usr/bin/python3");
    assert.equal(plan.python, `${dir}/bin/python`);
    const other = planInitSteps({ ...base, initContainers: [{ name: "install-packages", env: {}, mounts: [], command: [...command.slice(0, -1), "tqdm==4"] }] });
    assert.ok("steps" in other);
    assert.notEqual(other.steps[0]?.args[3], dir, "another package set, another venv");
  });
});

describe("artifact download reports", () => {
  it("progress and message for the Function's status", () => {
    assert.deepEqual(downloadMessage("whisper", 80e6, 200e6), { value: 0.4, message: "downloading whisper (200.0 MB)" });
    assert.deepEqual(downloadMessage("whisper", 12e6, undefined), { value: 0, message: "downloading whisper (12.0 MB so far)" });
  });

  it("failures keep their reason from the fetcher to the Degraded condition", () => {
    assert.deepEqual(failureError("ChecksumMismatch", "m"), { type: "BadConfiguration", message: "m", reason: "ChecksumMismatch" });
    assert.equal(failureError("DownloadFailed", "m").type, "Unavailable");
    assert.equal(failureReason(failureError("ChecksumMismatch", "m")), "ChecksumMismatch");
    assert.equal(failureReason(failureError("DownloadFailed", "m")), "DownloadFailed");
    assert.equal(failureReason(failureError("InvalidArtifact", "m")), "BadConfiguration");
    assert.equal(failureReason(failureError("PackageInstallFailed", "m")), "PackageInstallFailed", "dev mode's failed install");
    assert.equal(initFailureReason("fetch-artifacts", "ChecksumMismatch: artifact m: sha256 …"), "ChecksumMismatch");
    assert.equal(initFailureReason("fetch-artifacts", "DownloadFailed: GET answered 404"), "DownloadFailed");
    assert.equal(initFailureReason("install-packages", undefined), "PackageInstallFailed");
    assert.equal(initFailureReason("worker", "x"), undefined);
  });

  it("the fetch init container of a warm pod carries the worker's identity to report with", () => {
    const parts = renderArtifacts([{ name: "m", url: { href: "https://x/m.bin" } }], { imageMode: "initContainer", cache: { hostPath: "/c" }, fetcherImage: "h:1", fetcherCommand: ["hearth", "artifacts", "fetch"] }, undefined, [
      { name: "HEARTH_GATEWAY_URL", value: "http://gw" },
      { name: "HEARTH_WORKER_ID", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
    ]);
    const env = parts.initContainers[0]?.env ?? [];
    assert.deepEqual(env.slice(-2).map((e) => e.name), ["HEARTH_GATEWAY_URL", "HEARTH_WORKER_ID"]);
  });
});

describe("a failed init container in a cluster", () => {
  it("names the Function's Degraded reason from the fetch or install container's termination message", () => {
    const pod = (name: string, message: string) =>
      podSchema.parse({
        metadata: { name: "reader-pool-x", namespace: "default", labels: { "hearth.dev/function": "reader" } },
        status: {
          phase: "Pending",
          initContainerStatuses: [{ name, ready: false, restartCount: 3, state: { waiting: { reason: "CrashLoopBackOff" } }, lastState: { terminated: { exitCode: 1, message } } }],
          containerStatuses: [{ name: "worker", ready: false, restartCount: 0, state: { waiting: { reason: "PodInitializing" } } }],
        },
      });
    const checksum = podProblem(pod("fetch-artifacts", "ChecksumMismatch: artifact model: sha256 of http://x/m.bin is 00, expected ff"));
    assert.equal(checksum?.reason, "ChecksumMismatch");
    assert.match(checksum?.message ?? "", /init container fetch-artifacts failed \(restarts: 3\).*expected ff/);
    assert.equal(podProblem(pod("fetch-artifacts", "DownloadFailed: GET http://x/m.bin answered 404"))?.reason, "DownloadFailed");
    assert.equal(podProblem(pod("install-packages", "ERROR: No matching distribution found for nope==9"))?.reason, "PackageInstallFailed");
  });
});
