import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { FakeClock } from "../../src/kube/clock.ts";
import { fromKubeconfigFile, loadConnection } from "../../src/kube/kubeconfig.ts";
import { deployment, ownerKeys, splitKey, unstructured } from "../../src/kube/objects.ts";
import { formatBytes, parseQuantity } from "../../src/kube/quantity.ts";
import { backoffDelay, TokenBucket } from "../../src/kube/ratelimit.ts";
import { resourcePath } from "../../src/kube/resources.ts";
import { deployments, hearthFunctions, pods } from "../../src/kube/resources.ts";

describe("quantities", () => {
  it("parses binary, decimal, milli and exponent forms", () => {
    assert.equal(parseQuantity("1Gi"), 2 ** 30);
    assert.equal(parseQuantity("1.5Gi"), 1.5 * 2 ** 30);
    assert.equal(parseQuantity("500m"), 0.5);
    assert.equal(parseQuantity("10G"), 1e10);
    assert.equal(parseQuantity("2e3"), 2000);
    assert.equal(parseQuantity(4), 4);
    assert.equal(parseQuantity("lots"), undefined);
    assert.equal(parseQuantity("1Qi"), undefined);
  });
  it("formats bytes", () => {
    assert.equal(formatBytes(10 * 2 ** 30), "10Gi");
    assert.equal(formatBytes(1536 * 2 ** 20), "1536Mi");
    assert.equal(formatBytes(100), "100");
  });
});

describe("rate limits", () => {
  it("backoff doubles from the base up to the cap", () => {
    const d = (n: number) => backoffDelay(n, { baseMs: 10, maxMs: 1_000, jitter: 0 });
    assert.deepEqual([0, 1, 2, 3, 10].map(d), [10, 20, 40, 80, 1_000]);
    assert.equal(backoffDelay(0, { baseMs: 100, jitter: 0.5 }, () => 1), 150);
  });

  it("the token bucket allows a burst, then the rate", () => {
    const clock = new FakeClock();
    const b = new TokenBucket(clock, 10, 3);
    assert.deepEqual([b.reserve(), b.reserve(), b.reserve()], [0, 0, 0]);
    assert.equal(b.reserve(), 100);
    assert.equal(b.reserve(), 200);
    assert.equal(new TokenBucket(clock, 0, 1).reserve(), 0, "rate 0 = unlimited");
  });
});

describe("kubeconfig", () => {
  const dir = mkdtempSync(join(tmpdir(), "hearth-kc-"));

  it("reads token, CA data and insecure-skip-tls-verify from the current context", async () => {
    const path = join(dir, "token.yaml");
    writeFileSync(
      path,
      `apiVersion: v1
kind: Config
current-context: b
clusters:
- name: one
  cluster: {server: "https://127.0.0.1:6443/", certificate-authority-data: ${Buffer.from("CA").toString("base64")}}
- name: two
  cluster: {server: "https://127.0.0.2:6443", insecure-skip-tls-verify: true}
users:
- name: u
  user: {token: abc}
contexts:
- name: a
  context: {cluster: one, user: u}
- name: b
  context: {cluster: two, user: u, namespace: ml}
`,
    );
    const c = await fromKubeconfigFile(path);
    assert.equal(c.server, "https://127.0.0.2:6443");
    assert.equal(c.tls.rejectUnauthorized, false);
    assert.equal(c.namespace, "ml");
    assert.deepEqual(await c.headers(), { authorization: "Bearer abc" });
    const a = await fromKubeconfigFile(path, "a");
    assert.equal(a.server, "https://127.0.0.1:6443");
    assert.equal(a.tls.ca?.toString(), "CA");
    assert.equal(a.tls.rejectUnauthorized, true);
  });

  it("reads client certificates from files relative to the kubeconfig", async () => {
    writeFileSync(join(dir, "c.crt"), "CERT");
    writeFileSync(join(dir, "c.key"), "KEY");
    const path = join(dir, "certs.yaml");
    writeFileSync(
      path,
      `clusters: [{name: c, cluster: {server: "https://x:1"}}]
users: [{name: u, user: {client-certificate: c.crt, client-key: c.key}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`,
    );
    const c = await loadConnection({ kubeconfig: path });
    assert.equal(c.tls.cert?.toString(), "CERT");
    assert.equal(c.tls.key?.toString(), "KEY");
    assert.deepEqual(await c.headers(), {});
  });

  it("fails with the file and what is missing", async () => {
    const path = join(dir, "bad.yaml");
    writeFileSync(path, "contexts: [{name: c, context: {cluster: nowhere}}]\ncurrent-context: c\n");
    await assert.rejects(fromKubeconfigFile(path), /cluster "nowhere" not found/);
    await assert.rejects(fromKubeconfigFile(join(dir, "absent.yaml")), /cannot read kubeconfig/);
  });

  it("uses $KUBECONFIG when no path is given", async () => {
    const c = await loadConnection({ env: { KUBECONFIG: `${join(dir, "token.yaml")}:/other` } });
    assert.equal(c.server, "https://127.0.0.2:6443");
  });
});

describe("objects and paths", () => {
  it("builds API paths", () => {
    assert.equal(resourcePath(pods, { namespace: "ns", name: "p" }), "/api/v1/namespaces/ns/pods/p");
    assert.equal(resourcePath(deployments, {}), "/apis/apps/v1/deployments");
    assert.equal(resourcePath(hearthFunctions, { namespace: "ns", name: "f", subresource: "status" }), "/apis/hearth.dev/v1alpha1/namespaces/ns/functions/f/status");
  });

  it("strips managedFields and kubectl's last-applied annotation from cached objects", () => {
    const o = unstructured.parse({
      metadata: { name: "f", managedFields: [{ manager: "x" }], annotations: { "kubectl.kubernetes.io/last-applied-configuration": "{…}", keep: "1" } },
      spec: { a: 1 },
    });
    assert.equal("managedFields" in o.metadata, false);
    assert.deepEqual(o.metadata.annotations, { keep: "1" });
    assert.deepEqual(o["spec"], { a: 1 });
  });

  it("reduces a Deployment to what controllers read, including who owns replicas", () => {
    const d = deployment.parse({
      metadata: {
        name: "d",
        managedFields: [
          { manager: "hpa", operation: "Update", subresource: "scale", fieldsV1: { "f:spec": { "f:replicas": {} } } },
          { manager: "kcm", operation: "Update", subresource: "status", fieldsV1: { "f:status": {} } },
        ],
      },
      spec: { replicas: 3, template: { spec: { containers: [] } } },
    });
    assert.deepEqual(d.replicasManagers, ["hpa"]);
    assert.deepEqual(d.specManagers, {});
    assert.deepEqual(d.spec, { replicas: 3 });
  });

  it("names the managers that own spec fields through an update (a POST create), not an apply", () => {
    const parse = (entries: unknown[]) => deployment.parse({ metadata: { name: "d", managedFields: entries } });
    const created = parse([
      { manager: "op", operation: "Update", fieldsV1: { "f:spec": { "f:replicas": {}, "f:template": {} } } },
      { manager: "kcm", operation: "Update", subresource: "status", fieldsV1: { "f:status": {} } },
      { manager: "hpa", operation: "Update", subresource: "scale", fieldsV1: { "f:spec": { "f:replicas": {} } } },
    ]);
    assert.deepEqual(created.updateManagers, ["op"]);
    assert.deepEqual(created.replicasManagers, ["op", "hpa"]);
    const applied = parse([{ manager: "op", operation: "Apply", fieldsV1: { "f:spec": { "f:replicas": {} } } }]);
    assert.equal("updateManagers" in applied, false, "absent when every spec owner applied");
  });

  it("maps owned objects to their owner's key", () => {
    const keys = ownerKeys("hearth.dev", "Function");
    assert.deepEqual(keys({ metadata: { name: "x", namespace: "ns", ownerReferences: [{ apiVersion: "hearth.dev/v1alpha1", kind: "Function", name: "f", uid: "u", controller: true }] } }), ["ns/f"]);
    assert.deepEqual(keys({ metadata: { name: "x", namespace: "ns", ownerReferences: [{ apiVersion: "apps/v1", kind: "Function", name: "f", uid: "u", controller: true }] } }), []);
    assert.deepEqual(splitKey("ns/a"), { namespace: "ns", name: "a" });
    assert.deepEqual(splitKey("a"), { namespace: undefined, name: "a" });
  });
});
