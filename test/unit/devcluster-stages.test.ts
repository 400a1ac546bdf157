import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseAllDocuments } from "yaml";
import {
  FAKE_POD_ANNOTATIONS,
  fakePodAnnotations,
  nodeStages,
  POD_STATE_JQ,
  POD_STATES,
  podStages,
  renderKwokConfig,
  type KwokStage,
} from "../../src/devcluster/index.ts";

describe("pod stages", () => {
  const stages = podStages();

  it("has one stage per classifier state, each selected by that state alone", () => {
    assert.equal(stages.length, POD_STATES.length);
    stages.forEach((s, i) => {
      const exprs = s.spec.selector.matchExpressions;
      assert.equal(exprs.length, 1, s.metadata.name);
      assert.equal(exprs[0]?.jq.key, POD_STATE_JQ);
      assert.equal(exprs[0]?.jq.operator, "In");
      assert.deepEqual(exprs[0]?.jq.values, [POD_STATES[i]]);
    });
    // Mutually exclusive by construction: one jq program yields one state per pod.
    assert.equal(new Set(stages.map((s) => s.spec.selector.matchExpressions[0]?.jq.values?.[0])).size, stages.length);
  });

  it("classifier yields every state, reads every behaviour annotation, and defaults to none", () => {
    for (const state of POD_STATES) assert.ok(POD_STATE_JQ.includes(`"${state}"`), state);
    for (const key of Object.values(FAKE_POD_ANNOTATIONS)) {
      if (key === FAKE_POD_ANNOTATIONS.delay || key === FAKE_POD_ANNOTATIONS.message || key === FAKE_POD_ANNOTATIONS.reason || key === FAKE_POD_ANNOTATIONS.waitingMessage) continue;
      assert.ok(POD_STATE_JQ.includes(JSON.stringify(key)), key);
    }
    assert.match(POD_STATE_JQ, /else "none" end$/);
  });

  const byName = (n: string): KwokStage => {
    const s = stages.find((x) => x.metadata.name === `hearth-pod-${n}`);
    assert.ok(s, n);
    return s;
  };

  it("exits with the annotated code, reason and message after the annotated delay", () => {
    const exit = byName("exit");
    const t = exit.spec.next.statusTemplate ?? "";
    assert.ok(t.includes(FAKE_POD_ANNOTATIONS.exitCode));
    assert.ok(t.includes(FAKE_POD_ANNOTATIONS.message));
    assert.ok(t.includes(FAKE_POD_ANNOTATIONS.reason));
    assert.match(t, /exitCode: \{\{ \$code \}\}/);
    assert.match(t, /phase: \{\{ ternary "Succeeded" "Failed"/);
    assert.doesNotMatch(t, /running:/);
    assert.equal(exit.spec.delay?.durationFrom?.jq.expression, `.metadata.annotations["${FAKE_POD_ANNOTATIONS.delay}"]`);
    assert.equal(exit.spec.delay?.durationMilliseconds, 1000);
  });

  it("keeps waiting pods not ready with the annotated reason", () => {
    const t = byName("waiting").spec.next.statusTemplate ?? "";
    assert.ok(t.includes(FAKE_POD_ANNOTATIONS.waitingReason));
    assert.match(t, /ready: false/);
    assert.match(t, /Back-off pulling image/);
  });

  it("deletes terminal pods without touching finalizers, after terminating running ones", () => {
    assert.equal(byName("delete").spec.next.delete, true);
    assert.equal(byName("delete").spec.next.statusTemplate, undefined);
    assert.match(byName("terminate").spec.next.statusTemplate ?? "", /phase: Failed/);
  });
});

describe("node stages", () => {
  it("initialize and heartbeat are exclusive on the Ready condition", () => {
    const [init, beat] = nodeStages();
    assert.ok(init && beat);
    assert.equal(init.spec.selector.matchExpressions[0]?.jq.operator, "NotIn");
    assert.ok(beat.spec.selector.matchExpressions.some((e) => e.jq.operator === "In" && e.jq.values?.[0] === "True" && e.jq.key === init.spec.selector.matchExpressions[0]?.jq.key));
    assert.match(init.spec.next.statusTemplate ?? "", /with \.status\.allocatable/);
  });
});

describe("renderKwokConfig", () => {
  it("is a YAML stream of every stage that parses back unchanged", () => {
    const docs = parseAllDocuments(renderKwokConfig()).map((d) => d.toJS() as KwokStage);
    assert.deepEqual(docs, [...nodeStages(), ...podStages()]);
    assert.ok(docs.every((d) => d.apiVersion === "kwok.x-k8s.io/v1alpha1" && d.kind === "Stage"));
  });
});

describe("fakePodAnnotations", () => {
  it("maps a behaviour to annotations", () => {
    assert.deepEqual(fakePodAnnotations({ exitCode: 3, message: "bad input", delay: "2s", runForever: true }), {
      [FAKE_POD_ANNOTATIONS.exitCode]: "3",
      [FAKE_POD_ANNOTATIONS.message]: "bad input",
      [FAKE_POD_ANNOTATIONS.delay]: "2s",
      [FAKE_POD_ANNOTATIONS.run]: "forever",
    });
    assert.deepEqual(fakePodAnnotations({}), {});
  });
});
