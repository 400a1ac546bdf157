// spec.artifacts: validation and what the worker pod gets for each source.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { functionSpec } from "../../src/api/v1alpha1/function.ts";
import { cacheKey } from "../../src/artifacts/fetch.ts";
import { workloadConfigSchema } from "../../src/workload/config.ts";
import { renderPodTemplate } from "../../src/workload/render.ts";
import { aFunction } from "../support/function-builder.ts";

const sha = "a".repeat(64);
const base = { image: "img", handler: "app:Model" };

describe("spec.artifacts validation", () => {
  it("needs exactly one source, unique names and mount paths", () => {
    assert.equal(functionSpec.safeParse({ ...base, artifacts: [{ name: "w", persistentVolumeClaim: { claimName: "c" } }] }).success, true);
    const none = functionSpec.safeParse({ ...base, artifacts: [{ name: "w" }] });
    assert.match(JSON.stringify(none.error?.issues), /exactly one source/);
    const two = functionSpec.safeParse({ ...base, artifacts: [{ name: "w", url: { href: "https://x/y" }, image: { reference: "r" } }] });
    assert.match(JSON.stringify(two.error?.issues), /exactly one source/);
    const dup = functionSpec.safeParse({ ...base, artifacts: [{ name: "w", url: { href: "https://x/y" } }, { name: "w", url: { href: "https://x/z" } }] });
    assert.match(JSON.stringify(dup.error?.issues), /used twice/);
    assert.equal(functionSpec.safeParse({ ...base, artifacts: [{ name: "w", url: { href: "ftp://x/y" } }] }).success, false);
    assert.equal(functionSpec.safeParse({ ...base, artifacts: [{ name: "w", url: { href: "https://x/y", sha256: "abc" } }] }).success, false);
    assert.equal(functionSpec.safeParse({ ...base, artifacts: [{ name: "w", persistentVolumeClaim: { claimName: "c", subPath: "../etc" } }] }).success, false);
  });
});

describe("rendering artifacts", () => {
  const artifacts = [
    { name: "whisper", persistentVolumeClaim: { claimName: "models", subPath: "whisper/large-v3" } },
    { name: "tokenizer", image: { reference: "registry.example.com/tok:1", pullPolicy: "IfNotPresent" as const } },
    { name: "lora", mountPath: "/adapters/lora", url: { href: "https://models.example.com/lora.safetensors", sha256: sha, secretRef: { name: "hf-token" } } },
  ];
  const render = (imageMode: "volume" | "initContainer", cachePvc?: string) => {
    const config = workloadConfigSchema.parse({ artifacts: { imageMode, cache: cachePvc === undefined ? {} : { persistentVolumeClaim: cachePvc } } });
    const r = renderPodTemplate(aFunction().with({ artifacts }).build(), config, { mode: "warm", workerToken: true });
    assert.ok(r.ok, r.ok ? "" : r.message);
    const spec = r.template.spec;
    const worker = spec?.containers[0];
    assert.ok(spec !== undefined && worker !== undefined);
    return { spec, worker };
  };

  it("mounts each source read-only where HEARTH_ARTIFACTS says", () => {
    const { spec, worker } = render("initContainer");
    const env = JSON.parse(worker.env?.find((e) => e.name === "HEARTH_ARTIFACTS")?.value ?? "{}") as Record<string, string>;
    assert.deepEqual(env, { whisper: "/models/whisper", tokenizer: "/models/tokenizer", lora: "/adapters/lora" });
    const mount = (path: string) => worker.volumeMounts?.find((m) => m.mountPath === path);
    assert.deepEqual(mount("/models/whisper"), { name: "artifact-whisper", mountPath: "/models/whisper", readOnly: true, subPath: "whisper/large-v3" });
    assert.deepEqual(spec.volumes?.find((v) => v.name === "artifact-whisper")?.persistentVolumeClaim, { claimName: "models", readOnly: true });
    assert.equal(mount("/adapters/lora")?.subPath, cacheKey("https://models.example.com/lora.safetensors", sha));
    assert.equal(mount("/adapters/lora")?.readOnly, true);
    assert.deepEqual(spec.volumes?.find((v) => v.name === "artifact-cache")?.hostPath, { path: "/var/cache/hearth/artifacts", type: "DirectoryOrCreate" });
    // The fetcher runs first, then the image copy.
    assert.deepEqual(spec.initContainers?.map((c) => c.name), ["fetch-artifacts", "artifact-tokenizer"]);
    const fetch = spec.initContainers?.[0];
    assert.deepEqual(JSON.parse(fetch?.env?.find((e) => e.name === "HEARTH_ARTIFACT_SPECS")?.value ?? "[]"), [
      { name: "lora", href: "https://models.example.com/lora.safetensors", sha256: sha, headersDir: "/var/run/hearth/artifact-secrets/lora" },
    ]);
    assert.ok(fetch?.volumeMounts?.some((m) => m.name === "artifact-lora-secret" && m.readOnly === true));
    // The fetcher reports to the gateway as the worker: same token file, same mount.
    assert.equal(fetch?.env?.find((e) => e.name === "HEARTH_WORKER_TOKEN_FILE")?.value, "/var/run/hearth/worker-token/token");
    assert.ok(fetch?.volumeMounts?.some((m) => m.name === "hearth-worker-token" && m.readOnly === true));
    assert.deepEqual(spec.initContainers?.[1]?.command, ["cp", "-R", "/models/.", "/artifact/"]);
  });

  it("uses an image volume when the cluster has ImageVolume, and a shared cache claim when configured", () => {
    const { spec } = render("volume", "artifact-cache");
    assert.deepEqual((spec.volumes?.find((v) => v.name === "artifact-tokenizer") as { image?: unknown }).image, { reference: "registry.example.com/tok:1", pullPolicy: "IfNotPresent" });
    assert.deepEqual(spec.initContainers?.map((c) => c.name), ["fetch-artifacts"]);
    assert.deepEqual(spec.volumes?.find((v) => v.name === "artifact-cache")?.persistentVolumeClaim, { claimName: "artifact-cache" });
  });

  it("a Function without artifacts gets none of it", () => {
    const r = renderPodTemplate(aFunction().build(), workloadConfigSchema.parse({}), { mode: "warm" });
    assert.ok(r.ok);
    assert.equal(r.template.spec?.containers[0]?.env?.some((e) => e.name === "HEARTH_ARTIFACTS"), false);
    assert.equal(r.template.spec?.initContainers, undefined);
  });
});
