import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { FunctionStatus } from "../../src/api/v1alpha1/index.ts";
import { currentStatus, parseFunction, planObjects, planStatus, type ObjectsInput } from "../../src/controllers/function/plan.ts";
import { observePool, podProblem } from "../../src/controllers/function/observe.ts";
import { autoscalerStatusOf, busy, BUSY_BACKLOG, firstReadiness, isQuietStart, statusChanged, statusTiming, transitionEvents, withAutoscalerStatus, type AutoscalerStatus, type StatusTimingInput } from "../../src/controllers/function/status.ts";
import { legacyWorkerSecretOf, poolRolled } from "../../src/controllers/function/legacy-secrets.ts";
import { deployment as deploymentSchema, pod as podSchema, unstructured, type Deployment, type Pod } from "../../src/kube/objects.ts";
import { workloadConfigSchema } from "../../src/workload/config.ts";
import { ANNOTATIONS } from "../../src/workload/labels.ts";
import { aFunction, type FunctionBuilder } from "../support/function-builder.ts";

const MANAGER = "hearth-function-controller";
const config = workloadConfigSchema.parse({ gpu: { strategy: "timeSlicing", timeSlicing: { replicas: 4, resourceName: "nvidia.com/gpu.shared" } } });
const NOW = "2026-01-01T00:00:00Z";
const LATER = "2026-01-01T00:05:00Z";

const owner = (uid = "uid-1") => [{ apiVersion: "hearth.dev/v1alpha1", kind: "Function", name: "echo", uid, controller: true }];

function input(b: FunctionBuilder, extra: Partial<ObjectsInput> = {}): ObjectsInput {
  return { fn: b.build(), deployment: undefined, config, fieldManager: MANAGER, answeredDrift: undefined, ...extra };
}

/** The Deployment the apiserver would return after applying `body`, with a status. */
function deploymentFrom(body: unknown, status: Record<string, unknown> = {}, managedFields?: unknown[]): Deployment {
  const b = body as { metadata: Record<string, unknown>; spec: Record<string, unknown> };
  return deploymentSchema.parse({
    ...b,
    metadata: { ...b.metadata, uid: "dep-uid", generation: 1, ...(managedFields !== undefined ? { managedFields } : {}) },
    status: { observedGeneration: 1, ...status },
  });
}

function aPod(name: string, status: Record<string, unknown>): Pod {
  return podSchema.parse({ metadata: { name, namespace: "default", labels: { "hearth.dev/function": "echo" } }, status });
}

describe("planObjects", () => {
  it("creates only the Deployment for a new Function: workers carry a projected ServiceAccount token, no Secret", () => {
    const p = planObjects(input(aFunction().replicas(2)));
    assert.equal(p.invalid, undefined);
    assert.deepEqual(Object.keys(p).sort(), ["applyDeployment", "deleteDeployment", "desired", "driftSignature", "invalid"]);
    const template = JSON.stringify((p.applyDeployment as { spec?: { template?: unknown } } | undefined)?.spec?.template);
    assert.match(template, /"serviceAccountToken":\{"audience":"hearth.dev\/gateway","expirationSeconds":3600,"path":"token"\}/);
    assert.doesNotMatch(template, /secretKeyRef/);
    const dep = p.applyDeployment as { metadata: { name: string; ownerReferences: { controller: boolean; uid: string }[] }; spec: Record<string, unknown> };
    assert.equal(dep.metadata.name, "echo-pool");
    assert.deepEqual(dep.metadata.ownerReferences.map((r) => [r.uid, r.controller]), [["uid-1", true]]);
    assert.equal(dep.spec["replicas"], 2);
    assert.deepEqual(dep.spec["selector"], { matchLabels: { "hearth.dev/function": "echo", "hearth.dev/worker-mode": "warm" } });
  });

  it("applies nothing when the cache already shows what it would apply", () => {
    const first = planObjects(input(aFunction()));
    const deployment = deploymentFrom(first.applyDeployment, {}, [{ manager: MANAGER, operation: "Apply", fieldsV1: { "f:spec": { "f:replicas": {}, "f:template": {} } } }]);
    const again = planObjects(input(aFunction(), { deployment }));
    assert.equal(again.applyDeployment, undefined);
  });

  it("re-applies the Deployment when the spec changed", () => {
    const first = planObjects(input(aFunction()));
    const deployment = deploymentFrom(first.applyDeployment);
    const changed = planObjects(input(aFunction().image("registry.example.com/models/echo:2.0"), { deployment }));
    assert.ok(changed.applyDeployment !== undefined);
  });

  it("leaves replicas alone once another manager (an autoscaler) owns them", () => {
    const first = planObjects(input(aFunction()));
    const deployment = deploymentFrom(first.applyDeployment, {}, [
      { manager: MANAGER, operation: "Apply", fieldsV1: { "f:spec": { "f:template": {} } } },
      { manager: "hearth-autoscaler", operation: "Update", subresource: "scale", fieldsV1: { "f:spec": { "f:replicas": {} } } },
    ]);
    const p = planObjects(input(aFunction(), { deployment }));
    const spec = (p.applyDeployment as { spec: Record<string, unknown> } | undefined)?.spec;
    assert.ok(spec !== undefined, "the body changes (replicas dropped), so it is applied once");
    assert.equal("replicas" in spec, false);
  });

  it("re-applies once when someone else edited the pod spec, not again for the same edit", () => {
    const first = planObjects(input(aFunction()));
    const fields = [
      { manager: MANAGER, operation: "Apply", fieldsV1: { "f:spec": { "f:replicas": {} } } },
      { manager: "kubectl-edit", operation: "Update", fieldsV1: { "f:spec": { "f:template": { "f:spec": { "f:containers": {} } } } } },
    ];
    const deployment = deploymentFrom(first.applyDeployment, {}, fields);
    const p = planObjects(input(aFunction(), { deployment }));
    assert.ok(p.applyDeployment !== undefined);
    assert.match(p.driftSignature, /^kubectl-edit:/);
    const answered = planObjects(input(aFunction(), { deployment, answeredDrift: p.driftSignature }));
    assert.equal(answered.applyDeployment, undefined);
  });

  it("does not count kubectl rollout restart (template annotations) as drift", () => {
    const first = planObjects(input(aFunction()));
    const deployment = deploymentFrom(first.applyDeployment, {}, [
      { manager: "kubectl-rollout", operation: "Update", fieldsV1: { "f:spec": { "f:template": { "f:metadata": { "f:annotations": { "f:kubectl.kubernetes.io/restartedAt": {} } } } } } },
    ]);
    assert.equal(planObjects(input(aFunction(), { deployment })).applyDeployment, undefined);
  });

  it("refuses to take over a Deployment it does not own", () => {
    const foreign = deploymentSchema.parse({ metadata: { name: "echo-pool", namespace: "default", uid: "x" } });
    const p = planObjects(input(aFunction(), { deployment: foreign }));
    assert.equal(p.invalid?.reason, "DeploymentConflict");
    assert.equal(p.applyDeployment, undefined);
  });

  it("an invalid GPU request applies nothing", () => {
    const cfg = workloadConfigSchema.parse({ gpu: { strategy: "none" } });
    const p = planObjects({ ...input(aFunction().gpu({ split: 4 })), config: cfg });
    assert.equal(p.invalid?.reason, "InvalidGPU");
    assert.equal(p.applyDeployment, undefined);
  });

  it("isolated Functions get no pool, and an existing pool is removed", () => {
    const iso = aFunction().with({ invocation: "isolated" });
    const none = planObjects(input(iso));
    assert.equal(none.applyDeployment, undefined);
    assert.equal(none.deleteDeployment, false);
    const deployment = deploymentFrom(planObjects(input(aFunction())).applyDeployment);
    assert.equal(planObjects(input(iso, { deployment })).deleteDeployment, true);
  });
});

function statusOf(b: FunctionBuilder, deploymentStatus: Record<string, unknown> | undefined, pods: Pod[] = [], previous?: FunctionStatus, extra: Partial<ObjectsInput> = {}): FunctionStatus {
  const objects = planObjects(input(b, extra));
  const deployment = deploymentStatus === undefined ? undefined : deploymentFrom(objects.applyDeployment, deploymentStatus);
  return planStatus({ fn: b.build(), objects, deployment, pods, previous, now: NOW }).status;
}

const cond = (s: FunctionStatus, type: string) => s.conditions?.find((c) => c.type === type);

describe("planStatus", () => {
  it("a pool with every worker ready is Ready, not Progressing, not Degraded", () => {
    const s = statusOf(aFunction().replicas(2), { replicas: 2, readyReplicas: 2, updatedReplicas: 2, availableReplicas: 2 });
    assert.equal(cond(s, "Ready")?.status, "True");
    assert.equal(cond(s, "Ready")?.reason, "WorkersReady");
    assert.equal(cond(s, "Progressing")?.status, "False");
    assert.equal(cond(s, "Degraded")?.status, "False");
    assert.equal(s.readyReplicas, 2);
    assert.equal(s.endpoint, "/v1/namespaces/default/functions/echo");
    assert.equal(s.deployment, "echo-pool");
    assert.equal(s.observedGeneration, 1);
    assert.ok(s.conditions?.every((c) => c.observedGeneration === 1 && c.lastTransitionTime === NOW));
  });

  it("a new pool is Progressing and not Ready yet", () => {
    const s = statusOf(aFunction(), {});
    assert.equal(cond(s, "Ready")?.status, "False");
    assert.equal(cond(s, "Ready")?.reason, "WorkersStarting");
    assert.equal(cond(s, "Progressing")?.status, "True");
  });

  it("reports the GPU summary", () => {
    const s = statusOf(aFunction().gpu({ type: "t4", split: 4 }), {});
    assert.deepEqual(s.gpu, { resource: "nvidia.com/gpu.shared", units: 1, fraction: "0.25", strategy: "timeSlicing" });
  });

  it("InvalidGPU explains the strategy's rule in Ready and Degraded", () => {
    const cfg = workloadConfigSchema.parse({ gpu: { strategy: "timeSlicing", timeSlicing: { replicas: 4, failRequestsGreaterThanOne: true } } });
    const s = statusOf(aFunction().gpu({ split: 2 }), undefined, [], undefined, { config: cfg });
    assert.equal(cond(s, "Degraded")?.reason, "InvalidGPU");
    assert.match(cond(s, "Degraded")?.message ?? "", /coarsest fraction is 1\/4/);
    assert.equal(cond(s, "Ready")?.status, "False");
  });

  it("an invalid change keeps reporting the previous pool that still serves", () => {
    const cfg = workloadConfigSchema.parse({ gpu: { strategy: "none" } });
    const good = planObjects(input(aFunction()));
    const deployment = deploymentFrom(good.applyDeployment, { replicas: 1, readyReplicas: 1, updatedReplicas: 1 });
    const bad = aFunction().gpu({ split: 4 });
    const objects = planObjects({ ...input(bad, { deployment }), config: cfg });
    const s = planStatus({ fn: bad.build(), objects, deployment, pods: [], previous: undefined, now: NOW }).status;
    assert.equal(cond(s, "Ready")?.status, "True");
    assert.equal(cond(s, "Ready")?.reason, "PreviousSpecServing");
    assert.match(cond(s, "Degraded")?.message ?? "", /previous warm pool keeps running/);
  });

  it("ImagePullBackOff is a Degraded reason naming the pod and image", () => {
    const pod = aPod("echo-pool-abc-1", {
      phase: "Pending",
      containerStatuses: [{ name: "worker", ready: false, restartCount: 0, image: "r.example/x:9", state: { waiting: { reason: "ImagePullBackOff", message: 'Back-off pulling image "r.example/x:9"' } } }],
    });
    const s = statusOf(aFunction(), { replicas: 1, updatedReplicas: 1 }, [pod]);
    assert.equal(cond(s, "Degraded")?.reason, "ImagePullBackOff");
    assert.match(cond(s, "Degraded")?.message ?? "", /echo-pool-abc-1.*cannot pull its image r\.example\/x:9/);
    assert.equal(cond(s, "Ready")?.reason, "ImagePullBackOff");
  });

  it("crash loops are SetupFailing with the exit code's meaning", () => {
    const pod = aPod("echo-pool-abc-2", {
      phase: "Running",
      containerStatuses: [
        {
          name: "worker",
          ready: false,
          restartCount: 4,
          state: { waiting: { reason: "CrashLoopBackOff" } },
          lastState: { terminated: { exitCode: 2, reason: "Error", message: "cannot import app.model" } },
        },
      ],
    });
    const s = statusOf(aFunction(), { replicas: 1, updatedReplicas: 1 }, [pod]);
    assert.equal(cond(s, "Degraded")?.reason, "SetupFailing");
    assert.match(cond(s, "Degraded")?.message ?? "", /exit code 2 \(BadConfiguration.*cannot import app\.model/);
  });

  it("pods waiting for GPU capacity say which GPU resource and type they wait for, with the scheduler's words and counts", () => {
    const pending = (n: string) =>
      aPod(n, { phase: "Pending", conditions: [{ type: "PodScheduled", status: "False", reason: "Unschedulable", message: "0/3 nodes are available: 3 Insufficient nvidia.com/gpu.shared." }] });
    const s = statusOf(aFunction().replicas(6).gpu({ type: "t4", split: 4 }), { replicas: 6, readyReplicas: 4, updatedReplicas: 6 }, [pending("p-b"), pending("p-a")]);
    assert.equal(cond(s, "Degraded")?.reason, "WaitingForGPU");
    assert.match(cond(s, "Degraded")?.message ?? "", /2 workers \(e\.g\. p-a\): waiting for nvidia\.com\/gpu\.shared on t4 \(0\/3 nodes are available: 3 Insufficient nvidia\.com\/gpu\.shared\.\); queued calls wait/);
    const cpu = statusOf(aFunction().replicas(1), { replicas: 1 }, [pending("p-c")]);
    assert.equal(cond(cpu, "Degraded")?.reason, "Unschedulable", "a CPU Function is plainly Unschedulable");
    assert.equal(cond(s, "Ready")?.status, "False");
    assert.match(cond(s, "Ready")?.message ?? "", /4 of 6 warm workers ready/);
    assert.equal(s.readyReplicas, 4);
  });

  it("the worst problem names the reason; the others stay in the message", () => {
    const pull = aPod("a", { containerStatuses: [{ name: "worker", state: { waiting: { reason: "ErrImagePull", message: "not found" } } }] });
    const unsched = aPod("b", { conditions: [{ type: "PodScheduled", status: "False", reason: "Unschedulable", message: "no GPU" }] });
    const s = statusOf(aFunction().replicas(2), { replicas: 2 }, [unsched, pull]);
    assert.equal(cond(s, "Degraded")?.reason, "ImagePullBackOff");
    assert.match(cond(s, "Degraded")?.message ?? "", /no GPU/);
  });

  it("a scale-up is Progressing: ScalingUp, not a rollout", () => {
    const s = statusOf(aFunction().replicas(3), { replicas: 3, readyReplicas: 2, updatedReplicas: 3 });
    assert.equal(cond(s, "Progressing")?.reason, "ScalingUp");
  });

  it("a rollout in progress is Progressing: RollingOut", () => {
    const s = statusOf(aFunction().replicas(2), { replicas: 3, readyReplicas: 2, updatedReplicas: 1 });
    assert.equal(cond(s, "Progressing")?.reason, "RollingOut");
    assert.match(cond(s, "Progressing")?.message ?? "", /1 of 2 workers on the current spec, 2 old workers still running/);
  });

  it("minReplicas 0 is Ready: ScaledToZero", () => {
    const s = statusOf(aFunction().with({ warmPool: { minReplicas: 0, maxReplicas: 3 } }), {});
    assert.equal(cond(s, "Ready")?.reason, "ScaledToZero");
  });

  it("isolated Functions are Ready with a reason saying they run as Jobs", () => {
    const s = statusOf(aFunction().with({ invocation: "isolated" }), undefined);
    assert.equal(cond(s, "Ready")?.status, "True");
    assert.equal(cond(s, "Ready")?.reason, "IsolatedInvocation");
    assert.match(cond(s, "Ready")?.message ?? "", /batch Job/);
    assert.equal(s.deployment, undefined);
  });

  it("is written only when it changed, keeping lastTransitionTime of unchanged conditions", () => {
    const b = aFunction().replicas(1);
    const ds = { replicas: 1, readyReplicas: 1, updatedReplicas: 1 };
    const first = statusOf(b, ds);
    const objects = planObjects(input(b));
    const dep = deploymentFrom(objects.applyDeployment, ds);
    const again = planStatus({ fn: b.build(), objects, deployment: dep, pods: [], previous: first, now: LATER });
    assert.equal(again.write, false);
    assert.deepEqual(again.events, []);
    const degraded = planStatus({ fn: b.build(), objects, deployment: deploymentFrom(objects.applyDeployment, { replicas: 1 }), pods: [], previous: first, now: LATER });
    assert.equal(degraded.write, true);
    assert.equal(cond(degraded.status, "Degraded")?.lastTransitionTime, NOW, "Degraded stayed False");
    assert.equal(cond(degraded.status, "Ready")?.lastTransitionTime, LATER);
  });

  it("a status read back from the apiserver compares equal to what was planned", () => {
    const s = statusOf(aFunction().gpu({ split: 4 }), { replicas: 1, readyReplicas: 1, updatedReplicas: 1 });
    const roundTrip = currentStatus(unstructured.parse({ metadata: { name: "echo" }, status: JSON.parse(JSON.stringify(s)) as unknown }));
    assert.equal(statusChanged(roundTrip, s), false);
  });
});

describe("statusTiming (status pacing)", () => {
  const T0 = Date.parse(NOW);
  const starting = () => statusOf(aFunction(), {});
  const progressing = () => statusOf(aFunction().replicas(2), { replicas: 2, updatedReplicas: 2, readyReplicas: 0 });
  const ready = () => statusOf(aFunction(), { replicas: 1, readyReplicas: 1, updatedReplicas: 1, availableReplicas: 1 });
  const timing = (over: Partial<StatusTimingInput>) =>
    statusTiming({ previous: undefined, next: starting(), events: 0, now: T0, createdAt: T0, lastWrittenAt: undefined, busy: true, firstGraceMs: 10_000, paceMs: 5_000, ...over });

  it("on an idle operator writes a new Function's first status at once", () => {
    assert.deepEqual(timing({ busy: false, now: T0 + 2_000 }), { write: "now" });
    // The operator is busy once BUSY_BACKLOG new Functions or queued reconciles are waiting.
    assert.equal(busy(0, 0), false);
    assert.equal(busy(BUSY_BACKLOG - 1, 0), false);
    assert.equal(busy(BUSY_BACKLOG - 3, 3), true);
  });

  it("knows a status that only says workers are starting (those count toward busy while they last)", () => {
    assert.equal(isQuietStart(starting()), true);
    assert.equal(isQuietStart(progressing()), true);
    assert.equal(isQuietStart(ready()), false);
  });

  it("on a busy operator holds a new Function's 'workers starting' status until the grace after its creation", () => {
    assert.deepEqual(timing({ now: T0 + 2_000 }), { write: "later", afterMs: 8_000 });
    assert.deepEqual(timing({ now: T0 + 10_000 }), { write: "now" });
    // Unknown creation time: no pacing.
    assert.deepEqual(timing({ createdAt: undefined }), { write: "now" });
    // setup() progress reported by the workers (status.setup): shown at once.
    assert.deepEqual(timing({ previous: { setup: { message: "loading: 10% weights" } }, now: T0 + 2_000 }), { write: "now" });
  });

  it("writes a first status that says more than 'starting' at once (Ready, a problem, an Event)", () => {
    assert.deepEqual(timing({ next: ready(), events: 1 }), { write: "now" });
    assert.deepEqual(timing({ next: ready() }), { write: "now" });
    const broken = statusOf(aFunction().gpu({ split: 2 }), undefined, [], undefined, { config: workloadConfigSchema.parse({ gpu: { strategy: "timeSlicing", timeSlicing: { replicas: 4, failRequestsGreaterThanOne: true } } }) });
    assert.deepEqual(timing({ next: broken }), { write: "now" });
  });

  it("paces progress alone (counts, messages) to one write per paceMs after the last", () => {
    const previous = statusOf(aFunction().replicas(2), { replicas: 1, updatedReplicas: 1, readyReplicas: 0 });
    const next = progressing();
    assert.equal(statusChanged(previous, next), true);
    assert.deepEqual(timing({ previous, next, now: T0 + 60_000, lastWrittenAt: T0 + 58_000 }), { write: "later", afterMs: 3_000 });
    assert.deepEqual(timing({ previous, next, now: T0 + 60_000, lastWrittenAt: T0 + 55_000 }), { write: "now" });
    // This process never wrote it (a restart): write.
    assert.deepEqual(timing({ previous, next, now: T0 + 60_000, lastWrittenAt: undefined }), { write: "now" });
  });

  it("writes a transition at once however recent the last write", () => {
    const previous = starting();
    assert.deepEqual(timing({ previous, next: ready(), now: T0 + 60_000, lastWrittenAt: T0 + 59_999 }), { write: "now" });
    // A new generation is a transition too.
    const newer = { ...previous, observedGeneration: 2 };
    assert.deepEqual(timing({ previous, next: newer, now: T0 + 60_000, lastWrittenAt: T0 + 59_999 }), { write: "now" });
  });

  it("writes what the autoscaler published at once (it paces itself), but not before a new Function's first status", () => {
    const previous = withAutoscalerStatus(ready(), scaling(1));
    const next = withAutoscalerStatus(ready(), scaling(3));
    assert.equal(statusChanged(previous, next), true);
    assert.deepEqual(timing({ previous, next, now: T0 + 60_000, lastWrittenAt: T0 + 59_999 }), { write: "now" });
    // No status of ours yet: the autoscaler's part alone does not make the first write early.
    assert.deepEqual(timing({ previous: withAutoscalerStatus({}, scaling(1)), next: withAutoscalerStatus(starting(), scaling(1)), now: T0 + 2_000 }), { write: "later", afterMs: 8_000 });
  });
});

/** The autoscaler's part of status, as it publishes it (AutoscalerBoard). */
function scaling(desired: number, queueDepth = 0): AutoscalerStatus {
  return { condition: { type: "Autoscaling", status: "True", reason: "Observing", message: `${desired} workers`, lastTransitionTime: NOW }, desiredReplicas: desired, queueDepth, inFlight: 0 };
}

describe("the autoscaler's part of status (one write, one field manager)", () => {
  const ready = () => statusOf(aFunction(), { replicas: 1, readyReplicas: 1, updatedReplicas: 1, availableReplicas: 1 });

  it("is carried in the Function controller's status and read back unchanged", () => {
    const s = withAutoscalerStatus(ready(), scaling(2, 5));
    assert.deepEqual(s.conditions?.map((c) => c.type), ["Ready", "Progressing", "Degraded", "Autoscaling"]);
    assert.equal(s.desiredReplicas, 2);
    assert.equal(s.queueDepth, 5);
    assert.deepEqual(autoscalerStatusOf(s), scaling(2, 5));
    const roundTrip = currentStatus(unstructured.parse({ metadata: { name: "echo" }, status: JSON.parse(JSON.stringify(s)) as unknown }));
    assert.equal(statusChanged(roundTrip, s), false);
  });

  it("a change in it alone is a change of status; without it the fields go", () => {
    const s = withAutoscalerStatus(ready(), scaling(2));
    assert.equal(statusChanged(s, withAutoscalerStatus(ready(), scaling(2))), false);
    assert.equal(statusChanged(s, withAutoscalerStatus(ready(), scaling(2, 1))), true);
    assert.equal(statusChanged(s, ready()), true, "no autoscaler part (not autoscaled): written without it");
    assert.equal(autoscalerStatusOf(ready()), undefined);
  });

  it("planStatus merges it", () => {
    const b = aFunction();
    const objects = planObjects(input(b));
    const deployment = deploymentFrom(objects.applyDeployment, { replicas: 1, readyReplicas: 1, updatedReplicas: 1, availableReplicas: 1 });
    const plan = planStatus({ fn: b.build(), objects, deployment, pods: [], previous: ready(), now: NOW, autoscaler: scaling(1) });
    assert.equal(plan.write, true);
    assert.deepEqual(plan.events, []);
    assert.deepEqual(autoscalerStatusOf(plan.status), scaling(1));
  });
});

describe("transitionEvents", () => {
  const ready = statusOf(aFunction(), { replicas: 1, readyReplicas: 1, updatedReplicas: 1 });
  const starting = statusOf(aFunction(), {});
  const pulling = statusOf(aFunction(), { replicas: 1, updatedReplicas: 1 }, [aPod("x", { containerStatuses: [{ name: "worker", state: { waiting: { reason: "ImagePullBackOff" } } }] })]);

  it("no Event for a new Function's first readiness (the condition shows it)", () => {
    assert.equal(firstReadiness(undefined), true);
    assert.equal(firstReadiness(starting), true);
    assert.deepEqual(transitionEvents(starting, ready), []);
    assert.deepEqual(transitionEvents(undefined, ready), []);
  });

  it("Ready again after an outage (workers lost, no problem shown)", () => {
    // Ready turned False later than Degraded last changed.
    const objects = planObjects(input(aFunction()));
    const lost = planStatus({ fn: aFunction().build(), objects, deployment: deploymentFrom(objects.applyDeployment, { replicas: 1, updatedReplicas: 1 }), pods: [], previous: ready, now: LATER }).status;
    assert.equal(cond(lost, "Ready")?.reason, "WorkersStarting");
    assert.deepEqual(
      transitionEvents(ready, lost).map((e) => [e.type, e.reason]),
      [["Normal", "NotReady"]],
    );
    assert.equal(firstReadiness(lost), false);
    assert.deepEqual(
      transitionEvents(lost, ready).map((e) => [e.type, e.reason]),
      [["Normal", "Ready"]],
    );
  });

  it("a Warning with the Degraded reason, then Recovered", () => {
    assert.deepEqual(
      transitionEvents(ready, pulling).map((e) => [e.type, e.reason]),
      [["Warning", "ImagePullBackOff"]],
    );
    assert.deepEqual(
      transitionEvents(pulling, ready).map((e) => [e.type, e.reason]),
      [
        ["Normal", "Recovered"],
        ["Normal", "Ready"],
      ],
    );
  });

  it("nothing when nothing changed", () => {
    assert.deepEqual(transitionEvents(ready, ready), []);
  });
});

describe("parseFunction", () => {
  it("applies defaults", () => {
    const p = parseFunction(unstructured.parse(aFunction().manifest()));
    assert.ok(p.ok);
    assert.equal(p.fn.spec.warmPool.minReplicas, 1);
    assert.equal(p.fn.spec.timeoutSeconds, 300);
  });

  it("says which fields are wrong", () => {
    const p = parseFunction(unstructured.parse({ ...aFunction().manifest(), spec: { image: "x", handler: "nope", concurrency: 0 } }));
    assert.ok(!p.ok);
    assert.match(p.message, /spec\.handler/);
    assert.match(p.message, /spec\.concurrency/);
  });
});

describe("observePool", () => {
  it("ignores terminating and finished pods", () => {
    const gone = podSchema.parse({
      metadata: { name: "old", deletionTimestamp: "2026-01-01T00:00:00Z" },
      status: { containerStatuses: [{ name: "worker", state: { waiting: { reason: "ImagePullBackOff" } } }] },
    });
    assert.deepEqual(observePool(undefined, [gone]).problems, []);
  });

  it("reports pod creation failures from the Deployment (quota, admission)", () => {
    const d = deploymentSchema.parse({
      metadata: { name: "d" },
      status: { conditions: [{ type: "ReplicaFailure", status: "True", reason: "FailedCreate", message: 'pods "x" is forbidden: exceeded quota' }] },
    });
    assert.equal(observePool(d, []).problems[0]?.reason, "PodCreateFailed");
  });

  it("a worker that restarted once but is ready again is fine", () => {
    const p = aPod("ok", { containerStatuses: [{ name: "worker", ready: true, restartCount: 1, lastState: { terminated: { exitCode: 75 } } }] });
    assert.equal(podProblem(p), undefined);
  });

  it("OOMKilled says to raise memory", () => {
    const p = aPod("oom", { containerStatuses: [{ name: "worker", ready: false, restartCount: 1, lastState: { terminated: { exitCode: 137, reason: "OOMKilled" } } }] });
    assert.match(podProblem(p)?.message ?? "", /raise spec\.resources\.memory/);
  });
});

describe("old worker-token Secrets (upgrade)", () => {
  const meta = (m: Record<string, unknown>) => ({ metadata: { name: "echo-worker", namespace: "default", uid: "s-1", labels: { "app.kubernetes.io/managed-by": "hearth" }, annotations: { [ANNOTATIONS.tokenHash]: "abc" }, ownerReferences: owner(), ...m } });

  it("recognises the Secret an older operator wrote for a Function, and nothing else", () => {
    assert.deepEqual(legacyWorkerSecretOf(meta({})), { key: "default/echo", name: "echo-worker", uid: "s-1" });
    assert.equal(legacyWorkerSecretOf(meta({ name: "other" })), undefined, "another name");
    assert.equal(legacyWorkerSecretOf(meta({ labels: {} })), undefined, "not Hearth's");
    assert.equal(legacyWorkerSecretOf(meta({ annotations: {} })), undefined, "no token hash");
    assert.equal(legacyWorkerSecretOf(meta({ ownerReferences: [{ apiVersion: "hearth.dev/v1alpha1", kind: "Job", name: "echo", uid: "j", controller: true }] })), undefined, "a Job's task Secret");
  });

  it("waits for the pool to run the current template only", () => {
    const first = planObjects(input(aFunction()));
    const hash = first.desired?.deploymentHash ?? "";
    const at = (status: Record<string, unknown>, generation = 1): Deployment => deploymentSchema.parse({ ...deploymentFrom(first.applyDeployment, status), metadata: { ...deploymentFrom(first.applyDeployment).metadata, generation } });
    assert.equal(poolRolled(undefined, hash), false);
    assert.equal(poolRolled(at({ replicas: 2, updatedReplicas: 1 }), hash), false, "old pods still run");
    assert.equal(poolRolled(at({ replicas: 1, updatedReplicas: 1 }, 2), hash), false, "the new generation is not observed yet");
    assert.equal(poolRolled(at({ replicas: 1, updatedReplicas: 1 }), "another-hash"), false, "not the template just applied");
    assert.equal(poolRolled(at({ replicas: 1, updatedReplicas: 1 }), hash), true);
    assert.equal(poolRolled(at({}), hash), true, "scaled to zero");
  });
});
