// Function status from setup reports: status.setup from the gateway's summaries (setup-status
// controller plan), and the conditions the Function controller derives from it and from pods
// that exit 124 (SetupTimeout).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { FunctionStatus } from "../../src/api/v1alpha1/index.ts";
import { observePool, podProblem } from "../../src/controllers/function/observe.ts";
import { planObjects, planStatus } from "../../src/controllers/function/plan.ts";
import { withSetupFailure } from "../../src/controllers/function/status.ts";
import { planSetupPatches, progressMessage, setupStatusOf } from "../../src/controllers/setup-status/plan.ts";
import { deployment as deploymentSchema, pod as podSchema, type Pod } from "../../src/kube/objects.ts";
import { workloadConfigSchema } from "../../src/workload/config.ts";
import { aFunction } from "../support/function-builder.ts";

const config = workloadConfigSchema.parse({});
const NOW = "2026-01-01T00:00:00Z";

function statusWith(previous: FunctionStatus | undefined, pods: Pod[] = [], ready = 0): FunctionStatus {
  const b = aFunction().replicas(1);
  const objects = planObjects({ fn: b.build(), deployment: undefined, config, fieldManager: "m", answeredDrift: undefined });
  const body = objects.applyDeployment as unknown as { metadata: Record<string, unknown>; spec: Record<string, unknown> };
  const deployment = deploymentSchema.parse({ ...body, metadata: { ...body.metadata, uid: "d", generation: 1 }, status: { observedGeneration: 1, replicas: 1, updatedReplicas: 1, readyReplicas: ready } });
  return planStatus({ fn: b.build(), objects, deployment, pods, previous, now: NOW }).status;
}

const cond = (s: FunctionStatus, type: string) => s.conditions?.find((c) => c.type === type);

describe("setup-status plan", () => {
  it("turns the gateway's summary into status.setup", () => {
    assert.equal(progressMessage({ value: 0.4, message: "weights" }), "loading: 40% weights");
    assert.equal(progressMessage({ value: 0.4 }), "loading: 40%");
    const s = setupStatusOf(
      { namespace: "d", name: "f", starting: 1, progress: { value: 0.4, message: "weights", worker: "w" }, lastDurationSeconds: 12.3456, lastFailure: { reason: "SetupTimeout", message: "m", worker: "w0", time: "2026-01-01T00:00:00.123Z" } },
      undefined,
    );
    assert.deepEqual(s, { starting: 1, progress: 0.4, message: "loading: 40% weights", lastDurationSeconds: 12.35, signatureKnown: false, lastFailure: { reason: "SetupTimeout", message: "m", time: "2026-01-01T00:00:00Z", worker: "w0" } });
  });

  it("patches only Functions whose setup changed, and keeps the last duration across a gateway restart", () => {
    const response = { functions: [{ namespace: "d", name: "a", starting: 0, lastDurationSeconds: 3 }] };
    const patches = planSetupPatches(
      [
        { namespace: "d", name: "a", current: { lastDurationSeconds: 3, signatureKnown: false } },
        { namespace: "d", name: "b", current: { lastDurationSeconds: 7, message: "loading: 10%", progress: 0.1, starting: 1, signatureKnown: true } },
      ],
      response,
    );
    assert.deepEqual(patches, [{ namespace: "d", name: "b", setup: { lastDurationSeconds: 7, signatureKnown: true } }]);
  });

  it("says whether the handler's signature is known: the gateway's word, kept while it has none", () => {
    const known = { namespace: "d", name: "a", starting: 0, signatureKnown: true };
    assert.equal(setupStatusOf(known, undefined).signatureKnown, true);
    assert.equal(setupStatusOf({ ...known, signatureKnown: false }, { signatureKnown: true }).signatureKnown, false);
    assert.equal(setupStatusOf(undefined, { signatureKnown: true }).signatureKnown, true, "a restarted gateway that heard no worker yet");
    assert.equal(setupStatusOf(undefined, undefined).signatureKnown, false);
    const patches = planSetupPatches([{ namespace: "d", name: "a", current: { signatureKnown: false } }], { functions: [known] });
    assert.deepEqual(patches, [{ namespace: "d", name: "a", setup: { signatureKnown: true } }]);
  });
});

describe("Function conditions from setup", () => {
  it("shows setup progress in the Ready message while workers load", () => {
    const s = statusWith({ setup: { starting: 1, progress: 0.4, message: "loading: 40% weights" } });
    assert.equal(cond(s, "Ready")?.status, "False");
    assert.match(cond(s, "Ready")?.message ?? "", /0 of 1 warm worker ready; waiting for setup\(\) to finish; loading: 40% weights/);
    assert.equal(cond(s, "Degraded")?.status, "False");
  });

  it("a worker's SetupTimeout report makes the Function Degraded with the worker's message", () => {
    const message = "setup() did not finish within startupTimeoutSeconds=5 (last progress: 10% downloading)";
    const s = statusWith({ setup: { lastFailure: { reason: "SetupTimeout", message, worker: "fn-pool-abc" } } });
    assert.equal(cond(s, "Degraded")?.reason, "SetupTimeout");
    assert.equal(cond(s, "Degraded")?.message, `worker fn-pool-abc: ${message}`);
    assert.equal(cond(s, "Ready")?.reason, "SetupTimeout");
  });

  it("a pod whose container exited 124 before ready is SetupTimeout, with its termination message", () => {
    const doc = '{"error":{"type":"Timeout","reason":"SetupTimeout","message":"setup() did not finish within startupTimeoutSeconds=5"}}';
    const pod = podSchema.parse({
      metadata: { name: "echo-pool-x", namespace: "default", labels: { "hearth.dev/function": "echo" } },
      status: { phase: "Running", containerStatuses: [{ name: "worker", ready: false, restartCount: 2, state: { waiting: { reason: "CrashLoopBackOff" } }, lastState: { terminated: { exitCode: 124, message: doc } } }] },
    });
    const p = podProblem(pod);
    assert.equal(p?.reason, "SetupTimeout");
    assert.match(p?.message ?? "", /restarts: 2.*exit code 124.*startupTimeoutSeconds=5/);
    const s = statusWith(undefined, [pod]);
    assert.equal(cond(s, "Degraded")?.reason, "SetupTimeout");
    // The worker's own report replaces the exit-code text but keeps the pod count.
    const merged = withSetupFailure(observePool(undefined, [pod]).problems, { lastFailure: { reason: "SetupTimeout", message: "from the worker", worker: "w" } });
    assert.deepEqual(merged.map((m) => [m.reason, m.pods, m.example, m.message]), [["SetupTimeout", 1, "echo-pool-x", "from the worker"]]);
  });

  it("a BadConfiguration report (handler not importable) names it instead of 'waiting for setup()'", () => {
    const s = statusWith({ setup: { lastFailure: { reason: "BadConfiguration", message: "cannot import handler module \"app\"", worker: "w" } } });
    assert.equal(cond(s, "Degraded")?.reason, "BadConfiguration");
  });
});
