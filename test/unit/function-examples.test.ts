// The example Functions stay valid: they parse against the API, and render under the example
// operator config with the GPU requests the README promises.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { parse as parseYaml } from "yaml";
import { hearthFunction } from "../../src/api/v1alpha1/index.ts";
import { parseOperatorConfig } from "../../src/operator/config.ts";
import { renderPodTemplate } from "../../src/workload/render.ts";

const examples = join(dirname(dirname(import.meta.dirname)), "examples");
const config = parseOperatorConfig({ ...(parseYaml(readFileSync(join(examples, "operator", "config.yaml"), "utf8")) as object), workerTokens: { signingKey: "0123456789abcdef" } });

function load(name: string) {
  const raw = parseYaml(readFileSync(join(examples, name, "function.yaml"), "utf8")) as { metadata: Record<string, unknown> };
  const fn = hearthFunction.parse({ ...raw, metadata: { ...raw.metadata, namespace: "default", uid: "u" } });
  const r = renderPodTemplate(fn, config, { mode: "warm", workerToken: true });
  assert.ok(r.ok, r.ok ? "" : r.message);
  const [module] = fn.spec.handler.split(":");
  const file = fn.spec.runtime === "python" ? `${module ?? ""}.py` : `${module ?? ""}.ts`;
  assert.ok(existsSync(join(examples, name, file)), `${name} has its handler ${file}`);
  return { fn, r, limits: r.template.spec?.containers[0]?.resources?.limits ?? {} };
}

describe("examples", () => {
  it("echo-cpu is a CPU Node function", () => {
    const { fn, limits } = load("echo-cpu");
    assert.equal(fn.spec.runtime, "node");
    assert.equal(fn.spec.gpu, undefined);
    assert.deepEqual(Object.keys(limits).sort(), ["ephemeral-storage", "memory"]);
  });

  it("sentiment-t4-split takes a quarter of a time-sliced T4", () => {
    const { r, limits } = load("sentiment-t4-split");
    assert.equal(limits["nvidia.com/gpu.shared"], "1");
    assert.ok(r.ok && r.gpu?.fraction === "0.25");
  });

  it("llm-a100 takes one whole A100 80GB", () => {
    const { r, limits } = load("llm-a100");
    assert.equal(limits["nvidia.com/gpu"], "1");
    const terms = r.ok ? r.template.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms : undefined;
    assert.deepEqual(terms?.[0]?.matchExpressions?.[0]?.values, ["NVIDIA-A100-SXM4-80GB", "NVIDIA-A100-80GB-PCIe"]);
  });
});
