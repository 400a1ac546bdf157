import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { Counter, Registry } from "prom-client";
import { ConfigError, loadOperatorConfig, parseOperatorConfig } from "../../src/operator/config.ts";
import { startHealthServer } from "../../src/operator/server.ts";

const dir = mkdtempSync(join(tmpdir(), "hearth-opcfg-"));
const file = (name: string, text: string): string => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

describe("operator config", () => {
  it("fills defaults around the few required settings", () => {
    const c = parseOperatorConfig({ workerTokens: { signingKey: "0123456789abcdef" } });
    assert.equal(c.gpu.strategy, "none");
    assert.equal(c.gateway.url, "http://hearth-gateway.hearth-system:8080");
    assert.deepEqual(c.namespaces, []);
    assert.equal(c.leaderElection.enabled, true);
    assert.equal(c.leaderElection.leaseDurationSeconds, 6);
    assert.equal(c.controllers.function.concurrency, 32);
    assert.equal(c.runtimes.python.command[0], "python");
    assert.ok("a100-80gb" in c.gpuTypes);
  });

  it("loads YAML with a GPU strategy, GPU types and a signing key file", async () => {
    const key = file("key", "  a-signing-key-of-enough-length\n");
    const path = file(
      "ok.yaml",
      `namespaces: [ml, batch]
gateway: {url: "http://gw.hearth-system:8080"}
workerTokens: {signingKeyFile: ${key}}
gpu:
  strategy: timeSlicing
  timeSlicing: {replicas: 8, resourceName: nvidia.com/gpu.shared, failRequestsGreaterThanOne: true}
gpuTypes:
  t4: {products: [Tesla-T4], memory: 15Gi}
`,
    );
    const { config, signingKey } = await loadOperatorConfig(path);
    assert.equal(signingKey, "a-signing-key-of-enough-length");
    assert.deepEqual(config.namespaces, ["ml", "batch"]);
    assert.equal(config.gpu.timeSlicing.replicas, 8);
    assert.deepEqual(Object.keys(config.gpuTypes), ["t4"]);
  });

  it("lists every problem with its path", () => {
    assert.throws(
      () =>
        parseOperatorConfig({
          workerTokens: { signingKey: "short" },
          gpu: { strategy: "sharing-please" },
          gateway: { url: "nope" },
          namespaces: ["Bad_NS"],
          leaderElection: { leaseDurationSeconds: 2, renewDeadlineSeconds: 3 },
        }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, /workerTokens\.signingKey: workerTokens\.signingKey must be at least 16 characters/);
        assert.match(err.message, /gpu\.strategy: .*"timeSlicing"/);
        assert.match(err.message, /gateway\.url: gateway\.url must be an http\(s\) URL/);
        assert.match(err.message, /namespaces\.0: must be a namespace name/);
        assert.match(err.message, /leaderElection: leaderElection needs retryPeriodSeconds < renewDeadlineSeconds < leaseDurationSeconds/);
        return true;
      },
    );
  });

  it("needs exactly one way to get the signing key", () => {
    assert.throws(() => parseOperatorConfig({}), /set exactly one of workerTokens\.signingKeyFile or workerTokens\.signingKey/);
  });

  it("fails fast on unreadable files, bad YAML and short keys", async () => {
    await assert.rejects(loadOperatorConfig(join(dir, "missing.yaml")), /cannot read operator config/);
    await assert.rejects(loadOperatorConfig(file("bad.yaml", "gpu: [unclosed")), /not valid YAML/);
    await assert.rejects(loadOperatorConfig(file("nokey.yaml", `workerTokens: {signingKeyFile: ${join(dir, "absent-key")}}`)), /cannot read workerTokens\.signingKeyFile/);
    await assert.rejects(loadOperatorConfig(file("shortkey.yaml", `workerTokens: {signingKeyFile: ${file("short", "abc")}}`)), /needs at least 16/);
  });
});

describe("health server", () => {
  it("serves /healthz, /readyz and /metrics", async () => {
    const registry = new Registry();
    new Counter({ name: "hearth_test_total", help: "x", registers: [registry] }).inc(3);
    let ready = false;
    const s = await startHealthServer({ host: "127.0.0.1", port: 0, registry, healthz: () => ({ ok: true, detail: "ok" }), readyz: () => ({ ok: ready, detail: ready ? "ready" : "caches not synced" }) });
    try {
      assert.equal((await fetch(`${s.url}/healthz`)).status, 200);
      const notReady = await fetch(`${s.url}/readyz`);
      assert.equal(notReady.status, 503);
      assert.match(await notReady.text(), /caches not synced/);
      ready = true;
      assert.equal((await fetch(`${s.url}/readyz`)).status, 200);
      assert.match(await (await fetch(`${s.url}/metrics`)).text(), /hearth_test_total 3/);
      assert.equal((await fetch(`${s.url}/nope`)).status, 404);
      assert.equal((await fetch(`${s.url}/healthz`, { method: "POST" })).status, 405);
    } finally {
      await s.close();
    }
  });
});
