// Artifacts in dev mode, on the real test cluster, with real processes: the local runner runs a
// worker pod's init containers as dev mode can — `hearth artifacts fetch` with the pod's own
// environment into dev mode's artifact cache — before it starts the worker, and maps the rest
// (a PersistentVolumeClaim) to a local directory named by the hearth.dev/dev-artifacts
// annotation. A local HTTP server serves the "model". Checked: the handler reads the files in
// setup(); two workers download once (the cache and its lock); progress reaches the gateway's
// setup summary and the Function's status.setup and Ready message while a slow download runs;
// a checksum mismatch makes the Function Degraded with reason ChecksumMismatch and the worker
// never starts.
import { it } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { createClient } from "../../src/client/index.ts";
import { kubeConfigFromEnv, waitFor, withNamespace } from "../support/cluster.ts";
import { startDevMode } from "../support/dev-process.ts";

type Condition = { type: string; status: string; reason?: string; message?: string };
const GROUP = { group: "hearth.dev", version: "v1alpha1" };

it("dev mode fetches URL artifacts for real before the worker starts, maps a PVC to a local directory, reports progress and a checksum mismatch", { timeout: 300_000 }, async (t) => {
  const kubeconfig = process.env["HEARTH_KUBECONFIG"];
  assert.ok(kubeconfig, "HEARTH_KUBECONFIG must be set");
  const kc = kubeConfigFromEnv();
  const ns = await withNamespace(t, kc, "artifacts");

  // The "model": 3 MB, served fast at /model.bin and slowly at /slow/model.bin: half of it in
  // about 4 s, then a trickle (5 KB every 0.4 s, so the fetcher keeps reporting progress) until
  // the test has seen the download in the Function's status and sets `releaseSlow`, then the rest.
  const model = randomBytes(3_000_000);
  const sha = createHash("sha256").update(model).digest("hex");
  const gets: string[] = [];
  let releaseSlow = false;
  const server = createServer((req, res) => {
    gets.push(req.url ?? "");
    res.writeHead(200, { "content-length": String(model.length), "content-type": "application/octet-stream" });
    if (!(req.url ?? "").startsWith("/slow/")) {
      res.end(model);
      return;
    }
    let sent = 0;
    const timer = setInterval(() => {
      if (res.destroyed) return clearInterval(timer);
      const step = releaseSlow ? model.length : sent < model.length / 2 ? 150_000 : 5_000;
      // The last byte waits for the release (the trickle lasts 120 s at most).
      const end = releaseSlow ? model.length : Math.min(sent + step, model.length - 1);
      res.write(model.subarray(sent, end));
      sent = end;
      if (sent >= model.length) {
        clearInterval(timer);
        res.end();
      }
    }, 400);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const addr = server.address();
  const base = `http://127.0.0.1:${typeof addr === "object" && addr !== null ? addr.port : 0}`;

  // A "PVC" with weights, for dev mode a local directory.
  const stateDir = mkdtempSync(join(tmpdir(), "hearth-artifacts-test-"));
  t.after(() => rmSync(stateDir, { recursive: true, force: true }));
  const local = join(stateDir, "local-weights");
  mkdirSync(local);
  writeFileSync(join(local, "weights.txt"), "local weights");

  const dm = await startDevMode(t, { kubeconfig, namespace: ns, stateDir });
  const { token } = dm;
  // On a timeout, say what dev mode printed meanwhile.
  const until = async <T>(fn: () => Promise<T | undefined | false>, what: string, timeoutMs = 120_000): Promise<T> => {
    try {
      return await waitFor(fn, { timeoutMs, what });
    } catch (err) {
      throw new Error(`${err instanceof Error ? err.message : String(err)}\n--- dev output ---\n${dm.output.slice(-4000)}`, { cause: err });
    }
  };

  // The claim a PVC artifact names, bound to a PersistentVolume, as on a real cluster (the
  // scheduler does not place pods whose claims are unbound). Dev mode reads a local directory instead.
  const core = kc.makeApiClient(CoreV1Api);
  const pvName = `${ns}-weights`;
  await core.createPersistentVolume({ body: { metadata: { name: pvName }, spec: { capacity: { storage: "1Gi" }, accessModes: ["ReadOnlyMany"], storageClassName: "manual", hostPath: { path: "/srv/weights" }, claimRef: { namespace: ns, name: "weights" } } } });
  t.after(() => core.deletePersistentVolume({ name: pvName }).then(() => undefined, () => undefined));
  await core.createNamespacedPersistentVolumeClaim({ namespace: ns, body: { metadata: { name: "weights" }, spec: { accessModes: ["ReadOnlyMany"], storageClassName: "manual", volumeName: pvName, resources: { requests: { storage: "1Gi" } } } } });
  await until(async () => (await core.readNamespacedPersistentVolumeClaim({ namespace: ns, name: "weights" })).status?.phase === "Bound", "PVC weights Bound");

  const custom = kc.makeApiClient(CustomObjectsApi);
  const codePath = resolve("test/integration/handlers/artifacts");
  const create = (name: string, artifacts: unknown[], replicas: number, annotations: Record<string, string> = {}): Promise<unknown> =>
    custom.createNamespacedCustomObject({
      ...GROUP,
      namespace: ns,
      plural: "functions",
      body: {
        apiVersion: "hearth.dev/v1alpha1",
        kind: "Function",
        metadata: { name, namespace: ns, annotations: { "hearth.dev/dev-code-path": codePath, ...annotations } },
        spec: { image: "example/reader:1", handler: "reader:Reader", runtime: "node", resources: { cpu: "100m", memory: "128Mi" }, artifacts, warmPool: { minReplicas: replicas, maxReplicas: replicas } },
      },
    });
  const fnStatus = async (name: string): Promise<{ conditions?: Condition[]; warmWorkers?: number; setup?: { progress?: number; message?: string; lastFailure?: { reason: string; message: string } } }> =>
    ((await custom.getNamespacedCustomObject({ ...GROUP, namespace: ns, plural: "functions", name })) as { status?: never }).status ?? {};

  // Two workers, one URL artifact (verified) and one PVC mapped to a local directory.
  await create("reader", [{ name: "model", url: { href: `${base}/model.bin`, sha256: sha } }, { name: "weights", persistentVolumeClaim: { claimName: "weights" } }], 2, { "hearth.dev/dev-artifacts": JSON.stringify({ weights: local }) });
  await until(async () => {
    const s = await fnStatus("reader");
    return s.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true && s.warmWorkers === 2;
  }, "Function reader Ready with 2 warm workers");
  // On the cluster: the pods mount the claim read-only at /models/weights, and the scheduler placed them.
  const pods = (await core.listNamespacedPod({ namespace: ns, labelSelector: "hearth.dev/function=reader" })).items;
  assert.equal(pods.length, 2);
  for (const pod of pods) {
    assert.ok(pod.spec?.nodeName, "scheduled with its bound claim");
    assert.deepEqual({ ...pod.spec?.volumes?.find((v) => v.persistentVolumeClaim !== undefined)?.persistentVolumeClaim }, { claimName: "weights", readOnly: true });
    const mount = pod.spec?.containers.find((c) => c.name === "worker")?.volumeMounts?.find((m) => m.mountPath === "/models/weights");
    assert.equal(mount?.readOnly, true);
  }
  const client = createClient({ url: dm.url, token });
  t.after(() => client.close());
  const answer = (await client.function(`${ns}/reader`).run(null, { timeoutMs: 60_000 })) as { artifacts: Record<string, Record<string, string>>; paths: Record<string, string> };
  assert.deepEqual(answer.artifacts["model"], { "model.bin": sha }, "setup() read the downloaded file");
  assert.deepEqual(answer.artifacts["weights"], { "weights.txt": createHash("sha256").update("local weights").digest("hex") });
  assert.ok(answer.paths["model"]?.startsWith(join(stateDir, "artifacts")), `the model is in dev mode's cache: ${answer.paths["model"]}`);
  assert.equal(gets.filter((g) => g === "/model.bin").length, 1, `two workers, one download (the node cache): ${gets.join(", ")}`);

  // A slow first download: the gateway's setup summary shows its progress while it runs.
  const setupOf = async (name: string): Promise<{ starting: number; progress?: { value: number; message?: string } } | undefined> => {
    const res = await fetch(`${dm.url}/v1/setup`, { headers: { authorization: `Bearer ${token}` } });
    return ((await res.json()) as { functions: { name: string; starting: number; progress?: { value: number; message?: string } }[] }).functions.find((f) => f.name === name);
  };
  // (No sha256: the cache entry is keyed by the URL, so this is a new download, not reader's file.)
  await create("slow", [{ name: "model", url: { href: `${base}/slow/model.bin` } }], 1);
  const progress = await until(async () => {
    const s = await setupOf("slow");
    return s?.progress !== undefined && s.progress.value > 0 && s.progress.value < 1 ? s.progress : undefined;
  }, "download progress in GET /v1/setup", 60_000);
  assert.match(progress.message ?? "", /^downloading model \(3\.0 MB\)$/);
  // …and so does the Function's status (the setup-status controller polls the gateway every 10 s,
  // the Function controller folds status.setup into Ready): the download is held until seen.
  const loading = /^loading: \d+% downloading model \(3\.0 MB\)$/;
  let last: unknown;
  try {
    const seen = await until(async () => {
      const s = await fnStatus("slow");
      last = s;
      const ready = s.conditions?.find((c) => c.type === "Ready");
      return s.setup?.message !== undefined && loading.test(s.setup.message) && /; loading: \d+% downloading model \(3\.0 MB\)$/.test(ready?.message ?? "") ? { setup: s.setup, ready } : undefined;
    }, "Function slow status.setup and Ready message showing the download", 120_000).catch((err: unknown) => {
      throw new Error(`${err instanceof Error ? err.message : String(err)}\n--- last status of slow ---\n${JSON.stringify(last)}`, { cause: err });
    });
    // (Ready's status is not asserted: dev mode's runner reports the pod ready while its init
    // step runs, so the message reads "1 of 1 warm worker ready; loading: …" with warmWorkers 0.)
    assert.ok((seen.setup.progress ?? 0) > 0 && (seen.setup.progress ?? 1) < 1, JSON.stringify(seen));
  } finally {
    releaseSlow = true;
  }
  await until(async () => (await fnStatus("slow")).conditions?.some((c) => c.type === "Ready" && c.status === "True") === true && ((await fnStatus("slow")).warmWorkers ?? 0) >= 1, "Function slow Ready after its download");

  // A checksum mismatch: Degraded with the reason, and no worker process ever runs (so no call is served).
  await create("corrupt", [{ name: "model", url: { href: `${base}/model.bin`, sha256: "0".repeat(64) } }], 1);
  const degraded = await until(async () => (await fnStatus("corrupt")).conditions?.find((c) => c.type === "Degraded" && c.status === "True"), "Function corrupt Degraded");
  assert.equal(degraded.reason, "ChecksumMismatch", JSON.stringify(degraded));
  assert.match(degraded.message ?? "", /sha256 of .*model\.bin is [0-9a-f]{64}, expected 0{64}/);
  await assert.rejects(client.function(`${ns}/corrupt`).run(null, { timeoutMs: 5_000 }));

  assert.ok(dm.process.pid !== undefined);
  process.kill(dm.process.pid, "SIGINT");
  assert.equal(await dm.exited, 0, dm.output.slice(-2000));
});
