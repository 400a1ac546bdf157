// Shared informers: one per name, refused for a different resource type.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Informer } from "../../src/kube/informer.ts";
import type { KubeObject } from "../../src/kube/objects.ts";
import { hearthFunctions, hearthJobs } from "../../src/kube/resources.ts";
import { SharedCaches } from "../../src/operator/caches.ts";

describe("SharedCaches", () => {
  it("creates an informer once per name and hands the same one to every caller", () => {
    const created: string[] = [];
    const caches = new SharedCaches(<T extends KubeObject>(_r: unknown, o: { name: string }) => {
      created.push(o.name);
      return { name: o.name } as unknown as Informer<T>;
    });
    const a = caches.informer("functions", hearthFunctions);
    const b = caches.informer("functions", hearthFunctions);
    assert.equal(a, b);
    assert.deepEqual(created, ["functions"]);
    assert.equal(caches.size, 1);
    assert.throws(() => caches.informer("functions", hearthJobs), /another resource type/);
  });
});
