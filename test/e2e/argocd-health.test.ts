// The Argo CD health checks (charts/hearth/argocd) run the way Argo CD tests its own
// resource_customizations: every case of each kind's health_test.yaml, its testdata object given
// to health.lua in gopher-lua (the interpreter Argo CD embeds, built from its Go module by
// hack/lua-health.ts), the status and message compared. Also: the argocd-cm snippet is current.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { ARGOCD_DIR, argocdConfigMap, KINDS } from "../../hack/gen-argocd.ts";
import { runHealthScripts } from "../../hack/lua-health.ts";

interface HealthTest {
  tests: { healthStatus: { status: string; message: string }; inputPath: string }[];
}

describe("Argo CD health checks", () => {
  for (const kind of KINDS) {
    it(`hearth.dev/${kind}: every case of health_test.yaml`, { timeout: 300_000 }, () => {
      const dir = join(ARGOCD_DIR, "hearth.dev", kind);
      const script = readFileSync(join(dir, "health.lua"), "utf8");
      const spec = parse(readFileSync(join(dir, "health_test.yaml"), "utf8")) as HealthTest;
      assert.ok(spec.tests.length >= 4, "several states are covered");
      const results = runHealthScripts(spec.tests.map((t) => ({ script, obj: parse(readFileSync(join(dir, t.inputPath), "utf8")) as unknown })));
      spec.tests.forEach((t, i) => assert.deepEqual(results[i], t.healthStatus, `${kind} ${t.inputPath}`));
      const statuses = new Set(spec.tests.map((t) => t.healthStatus.status));
      assert.ok(statuses.has("Healthy") && statuses.has("Degraded") && statuses.has("Progressing"), `${kind} covers Healthy, Degraded and Progressing`);
    });
  }

  it("the runner refuses what Argo CD would refuse", () => {
    const [bad, broken] = runHealthScripts([
      { script: 'return {status = "Fine"}', obj: {} },
      { script: "return obj.status.conditions[1].type", obj: {} },
    ]);
    assert.match(bad?.error ?? "", /not an Argo CD health status/);
    assert.ok(broken?.error !== undefined, "a script error is reported, not a health");
  });

  it("charts/hearth/argocd/argocd-cm.yaml holds the current scripts", () => {
    assert.equal(readFileSync(join(ARGOCD_DIR, "argocd-cm.yaml"), "utf8"), argocdConfigMap(), "run node hack/gen-argocd.ts");
    const cm = parse(argocdConfigMap()) as { data: Record<string, string> };
    assert.deepEqual(Object.keys(cm.data), KINDS.map((k) => `resource.customizations.health.hearth.dev_${k}`));
  });
});
