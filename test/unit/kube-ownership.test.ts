import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { adoptionPatch, planAdoption, unionFields, type ManagedFieldsEntry } from "../../src/kube/ownership.ts";

const NOW = "2026-11-30T12:00:00Z";
const entry = (manager: string, operation: string, fieldsV1: unknown, more: Partial<ManagedFieldsEntry> = {}): ManagedFieldsEntry => ({
  manager,
  operation,
  apiVersion: "apps/v1",
  time: "2026-11-30T11:00:00Z",
  fieldsType: "FieldsV1",
  fieldsV1,
  ...more,
});

describe("adopting a POST's fields into the manager's apply (src/kube/ownership.ts)", () => {
  it("unions nested field sets", () => {
    assert.deepEqual(unionFields({ "f:spec": { "f:a": {}, "f:t": { "f:x": {} } } }, { "f:spec": { "f:b": {}, "f:t": { "f:y": {} } }, "f:metadata": { ".": {} } }), {
      "f:spec": { "f:a": {}, "f:b": {}, "f:t": { "f:x": {}, "f:y": {} } },
      "f:metadata": { ".": {} },
    });
    assert.deepEqual(unionFields(undefined, { "f:a": {} }), { "f:a": {} });
  });

  it("turns the manager's Update entry into its Apply entry, in place, leaving every other entry alone", () => {
    const status = entry("kube-controller-manager", "Update", { "f:status": {} }, { subresource: "status" });
    const other = entry("kubectl-edit", "Update", { "f:spec": { "f:paused": {} } });
    const mine = entry("op", "Update", { "f:spec": { "f:replicas": {} } });
    const next = planAdoption([mine, status, other], "op", NOW);
    assert.deepEqual(next, [{ ...mine, operation: "Apply", time: NOW }, status, other]);
  });

  it("merges into an existing Apply entry (one per manager) and drops the Update entry", () => {
    const applied = entry("op", "Apply", { "f:spec": { "f:a": {} } });
    const updated = entry("op", "Update", { "f:spec": { "f:b": {} } });
    const scale = entry("op", "Update", { "f:spec": { "f:replicas": {} } }, { subresource: "scale" });
    const next = planAdoption([applied, scale, updated], "op", NOW);
    assert.deepEqual(next, [{ ...applied, time: NOW, fieldsV1: { "f:spec": { "f:a": {}, "f:b": {} } } }, scale], "a subresource's entry is not the object's");
  });

  it("has nothing to do when the manager owns nothing through an update, or only in another API version", () => {
    assert.equal(planAdoption([entry("op", "Apply", {}), entry("other", "Update", {})], "op", NOW), undefined);
    assert.equal(planAdoption([entry("op", "Apply", {}), entry("op", "Update", {}, { apiVersion: "apps/v1beta1" })], "op", NOW), undefined);
  });

  it("guards the rewrite with the resourceVersion it was planned from", () => {
    assert.deepEqual(adoptionPatch("42", []), [
      { op: "test", path: "/metadata/resourceVersion", value: "42" },
      { op: "replace", path: "/metadata/managedFields", value: [] },
    ]);
  });
});
