import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DEFAULT_JOB_CONTROLLER_CONFIG, planJob } from "../../src/controllers/job/plan.ts";
import { batchJobChanged, isFreshPod, podChanged } from "../../src/controllers/job/relevance.ts";
import { batchJobView, podView, type BatchJobView, type PodView } from "../../src/controllers/job/views.ts";
import { aBatchJob, aFunction, aJob, aPod, at, complete, WORKLOAD } from "./job-fixtures.ts";

/** A copy with `edit` applied, parsed again as the informer would. */
function editPod(p: PodView, edit: (copy: PodView & { status: NonNullable<PodView["status"]> }) => void): PodView {
  const copy = structuredClone(p);
  const status = copy.status ?? {};
  edit({ ...copy, status: (copy.status = status) });
  return podView.parse(copy);
}
function editBatch(b: BatchJobView, edit: (status: NonNullable<BatchJobView["status"]>) => void): BatchJobView {
  const copy = structuredClone(b);
  edit((copy.status ??= {}));
  return batchJobView.parse(copy);
}
const cond = (type: string, status: string, more: { reason?: string; message?: string; lastTransitionTime?: string } = {}) => ({ type, status, ...more });

const planWith = (batchJob: BatchJobView, pods: PodView[]) =>
  planJob({ job: aJob(), fn: aFunction(), batchJob, batchJobGone: false, pods, inputCheck: { state: "unchecked" }, now: new Date(at(100)), config: DEFAULT_JOB_CONTROLLER_CONFIG, workload: WORKLOAD });

describe("Job controller watch predicates", () => {
  const running = aPod("p1", { created: 90 });
  const pending = aPod("p1", { created: 90, phase: "Pending" });
  const ended = aPod("p1", { created: 90, exitCode: 0, message: '{"output":1}' });

  const noise: [string, Parameters<typeof editPod>[1]][] = [
    ["resourceVersion", (p) => void (p.metadata.resourceVersion = "2")],
    ["Ready condition", (p) => void (p.status.conditions ??= []).push(cond("ContainersReady", "True"))],
    ["pod IP", (p) => void Object.assign(p.status, { podIP: "127.0.0.9" })],
    ["PodScheduled True", (p) => void (p.status.conditions ??= []).push(cond("PodScheduled", "True"))],
  ];
  for (const [what, edit] of noise) {
    it(`skips a pod update that only changes ${what}, and planning from either gives the same plan`, () => {
      for (const p of [running, pending, ended]) {
        const q = editPod(p, edit);
        assert.equal(podChanged(p, q), false);
        assert.deepEqual(planWith(aBatchJob(), [q]), planWith(aBatchJob(), [p]));
      }
    });
  }

  it("skips a pod's first conditions when none is one the plan reads (no list and a list without them are alike)", () => {
    const bare = editPod(pending, (p) => void delete p.status.conditions);
    const scheduled = editPod(bare, (p) => void (p.status.conditions = [cond("PodScheduled", "True")]));
    assert.equal(podChanged(bare, scheduled), false);
    assert.deepEqual(planWith(aBatchJob(), [scheduled]), planWith(aBatchJob(), [bare]));
    const unschedulable = editPod(bare, (p) => void (p.status.conditions = [cond("PodScheduled", "False", { reason: "Unschedulable", message: "no node" })]));
    assert.equal(podChanged(bare, unschedulable), true, "control: a condition the plan reads");
  });

  it("a merely created pod is fresh, and planning with it writes no status for a Job without one (its add wakes nothing)", () => {
    // As kube-controller-manager creates it: Pending, no node, no container states yet.
    const created = editPod(pending, (p) => {
      delete p.status.conditions;
      delete p.status.containerStatuses;
    });
    for (const p of [created, pending, editPod(pending, (q) => void (q.status.conditions = [cond("PodScheduled", "True")]))]) {
      assert.equal(isFreshPod(p), true);
      const plan = planWith(aBatchJob(), [p]);
      assert.equal(plan.statusChanged, false, "no status for a merely pending first attempt");
      assert.equal(plan.requeueAfterMs, undefined);
      assert.deepEqual(plan.events, []);
    }
    const notFresh: [string, PodView][] = [
      ["running", running],
      ["ended", ended],
      ["unschedulable", editPod(pending, (p) => void (p.status.conditions = [cond("PodScheduled", "False", { reason: "Unschedulable", message: "no node" })]))],
      ["disrupted", aPod("p1", { created: 90, phase: "Pending", disrupted: true })],
      ["pulling an image that fails", aPod("p1", { created: 90, phase: "Pending", waiting: { reason: "ImagePullBackOff", message: "not found" } })],
      ["being deleted", editPod(pending, (p) => void (p.metadata.deletionTimestamp = at(99)))],
      ["failed before starting", editPod(pending, (p) => Object.assign(p.status, { phase: "Failed", reason: "Evicted", message: "node pressure" }))],
    ];
    for (const [what, p] of notFresh) assert.equal(isFreshPod(p), false, what);
    // Control: the unschedulable one does change what is planned.
    assert.equal(planWith(aBatchJob(), [notFresh[2]?.[1] ?? running]).statusChanged, true);
  });

  it("passes pod updates the plan reads", () => {
    assert.equal(podChanged(pending, running), true, "started");
    assert.equal(podChanged(running, ended), true, "ended");
    assert.equal(podChanged(running, aPod("p1", { created: 90, disrupted: true })), true, "disrupted");
    assert.equal(podChanged(running, editPod(running, (p) => void (p.metadata.deletionTimestamp = at(99)))), true, "deleting");
    const unschedulable = editPod(pending, (p) => void (p.status.conditions ??= []).push(cond("PodScheduled", "False", { reason: "Unschedulable", message: "0/3 nodes have a free GPU" })));
    assert.equal(podChanged(pending, unschedulable), true, "unschedulable");
    assert.notDeepEqual(planWith(aBatchJob(), [unschedulable]).status, planWith(aBatchJob(), [pending]).status, "control: that one does change the plan");
  });

  it("skips batch Job updates of counts and interim conditions, passes its end", () => {
    const b = aBatchJob();
    const counts = editBatch(b, (st) => void Object.assign(st, { active: 1, ready: 1, uncountedTerminatedPods: { succeeded: ["x"] } }));
    assert.equal(batchJobChanged(b, counts), false);
    const interim = editBatch(b, (st) => void (st.conditions ??= []).push(cond("SuccessCriteriaMet", "True", { lastTransitionTime: at(9) })));
    assert.equal(batchJobChanged(b, interim), false);
    assert.deepEqual(planWith(interim, [ended]), planWith(b, [ended]));
    const done = aBatchJob([complete(at(9))], { completionTime: at(9) });
    assert.equal(batchJobChanged(b, done), true);
  });

  it("skips a batch Job's first interim conditions (it had none: kube-controller-manager's first status)", () => {
    const b = editBatch(aBatchJob(), (st) => void delete st.conditions);
    const interim = editBatch(b, (st) => void (st.conditions = [cond("SuccessCriteriaMet", "True", { lastTransitionTime: at(9) })]));
    assert.equal(batchJobChanged(b, interim), false);
    assert.deepEqual(planWith(interim, [ended]), planWith(b, [ended]));
  });

  it("skips the batch Job's startTime appearing: a fresh Job writes nothing either way, and the next write carries it", () => {
    const unstarted = editBatch(aBatchJob(), (st) => void delete st.startTime);
    const started = editBatch(unstarted, (st) => void (st.startTime = at(2)));
    assert.equal(batchJobChanged(unstarted, started), false);
    for (const pods of [[], [pending]]) {
      assert.equal(planWith(unstarted, pods).statusChanged, false);
      assert.equal(planWith(started, pods).statusChanged, false);
    }
    const end = aBatchJob([complete(at(9))], { completionTime: at(9), startTime: at(2) });
    assert.equal(planWith(end, [ended]).status.startTime, at(2), "the end's write takes it from the cache");
  });
});

describe("Job controller cache views", () => {
  it("keep only what the plan reads: no pod template, no pod IPs, no counts nobody reads", () => {
    const b = batchJobView.parse({
      metadata: { name: "b", uid: "u", managedFields: [{ manager: "kcm" }], annotations: { a: "1" } },
      spec: { backoffLimit: 1, template: { spec: { containers: [{ name: "worker", image: "x" }] } }, selector: {} },
      status: { active: 1, ready: 1, uncountedTerminatedPods: { succeeded: ["x"] }, conditions: [] },
    });
    assert.deepEqual(b, { metadata: { name: "b", uid: "u" }, spec: { backoffLimit: 1 }, status: { active: 1, conditions: [] } });
    const p = podView.parse({
      metadata: { name: "p" },
      spec: { nodeName: "n" },
      status: { phase: "Running", podIP: "127.0.0.9", qosClass: "Burstable", containerStatuses: [{ name: "worker", image: "x", containerID: "c", state: { running: { startedAt: at(1) } } }] },
    });
    assert.deepEqual(p, { metadata: { name: "p" }, status: { phase: "Running", containerStatuses: [{ name: "worker", state: { running: { startedAt: at(1) } } }] } });
  });
});

