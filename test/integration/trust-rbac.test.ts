// Trust on the real cluster (issue 12): the chart's RBAC as rendered by `helm template` (the
// project's helm, no --kube-version) is applied to the test cluster, and then
//  - the operator runs as a real `hearth operator` process with ONLY its ServiceAccount's token
//    (TokenRequest API) and the namespaced Roles of `operator.watchNamespaces`, and reconciles
//    Functions and Jobs in a watched namespace, writing no per-Function Secret;
//  - the gateway runs as a real `hearth gateway` process with ONLY its ServiceAccount's token, and
//    a caller ServiceAccount allowed in namespace A (the chart's invoker ClusterRole bound there)
//    cannot run, read or cancel anything in namespace B; granting and revoking a RoleBinding take
//    effect within the gateway's decision-cache TTL;
//  - warm workers prove who they are with a projected ServiceAccount token bound to their pod
//    (TokenRequest with the gateway's audience, as the kubelet makes it): the gateway, with only
//    its own ServiceAccount's permissions, accepts it for that pod's Function and refuses it for
//    a Function in another namespace or another Function in the same namespace.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { parseAllDocuments, stringify } from "yaml";
import { workerToken } from "../../src/auth/worker-token.ts";
import { batchJobName } from "../../src/controllers/job/batch-job.ts";
import { kubeconfigYaml } from "../../src/devcluster/plan.ts";
import { Transport } from "../../src/kube/client.ts";
import { SystemClock } from "../../src/kube/clock.ts";
import { loadConnection } from "../../src/kube/kubeconfig.ts";
import { deployments, hearthFunctions, hearthJobs, METADATA_LIST_ACCEPT, pods, secrets, untyped } from "../../src/kube/resources.ts";
import { uniqueName, waitFor } from "../support/cluster.ts";
import { installCrds, kubeconfigPath, parseMetrics, startTestOperator, testClient, TEST_SIGNING_KEY, type TestOperator } from "../support/operator.ts";
import { toolPath } from "../support/tools.ts";

const adminKubeconfig = kubeconfigPath();
const id = uniqueName("tr");
const release = `hearth-${id}`; // the chart's fullname is the release name (it contains "hearth")
const sys = `${id}-sys`;
const nsA = `${id}-a`;
const nsB = `${id}-b`;
const other = `${id}-x`;
const dir = mkdtempSync(join(tmpdir(), "hearth-trust-"));
const AUTH_TTL_S = 3;

function kubectl(args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(toolPath("kubectl"), ["--kubeconfig", adminKubeconfig, ...args], { encoding: "utf8", input });
}

function must(args: string[], input?: string): string {
  const r = kubectl(args, input);
  assert.equal(r.status, 0, `kubectl ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

/** A token from the TokenRequest API for a ServiceAccount. */
function saToken(namespace: string, name: string): string {
  return must(["create", "token", name, "-n", namespace, "--duration=2h"]).trim();
}

const client = await testClient();
after(() => client.transport.close());
await installCrds(client);
const server = (await loadConnection({ kubeconfig: adminKubeconfig })).server;

function saKubeconfig(name: string, token: string): string {
  const path = join(dir, `${name}.kubeconfig`);
  writeFileSync(path, kubeconfigYaml(name, server, token), { mode: 0o600 });
  return path;
}

for (const ns of [sys, nsA, nsB, other]) must(["create", "namespace", ns]);
after(() => {
  kubectl(["delete", "namespace", sys, nsA, nsB, other, "--wait=false"]);
  kubectl(["delete", "clusterrole,clusterrolebinding", "-l", `app.kubernetes.io/instance=${release}`, "--wait=false"]);
  rmSync(dir, { recursive: true, force: true });
});

// The chart's RBAC exactly as `helm template` renders it, watching namespaces A and B.
const rendered = spawnSync(toolPath("helm"), ["template", release, "charts/hearth", "--namespace", sys, "--set", `operator.watchNamespaces={${nsA},${nsB}}`], { encoding: "utf8" });
assert.equal(rendered.status, 0, `helm template without --kube-version: ${rendered.stderr}`);
type Doc = { kind?: string; metadata?: { name?: string; namespace?: string }; rules?: { resources?: string[]; verbs?: string[] }[] };
const docs = parseAllDocuments(rendered.stdout)
  .map((d) => d.toJS() as Doc | null)
  .filter((d): d is Doc => d !== null);
const RBAC_KINDS = new Set(["ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"]);
const rbac = docs.filter((d) => RBAC_KINDS.has(d.kind ?? ""));
for (const d of rbac) if (d.metadata !== undefined && d.metadata.namespace === undefined && !d.kind?.startsWith("Cluster")) d.metadata.namespace = sys;
must(["apply", "-f", "-"], rbac.map((d) => stringify(d)).join("---\n"));

const operatorSA = `system:serviceaccount:${sys}:${release}-operator`;
const gatewaySA = `system:serviceaccount:${sys}:${release}-gateway`;

function can(user: string, verb: string, resource: string, namespace?: string): boolean {
  const r = kubectl(["auth", "can-i", verb, resource, "--as", user, ...(namespace === undefined ? ["--all-namespaces"] : ["-n", namespace])]);
  return r.stdout.trim() === "yes";
}

describe("chart RBAC with watchNamespaces", () => {
  it("grants the operator and gateway nothing cluster-wide but reviews; namespaced Roles in the watched namespaces only", () => {
    const clusterRoles = docs.filter((d) => d.kind === "ClusterRole").map((d) => d.metadata?.name);
    assert.ok(!clusterRoles.includes(`${release}-operator`), `no operator ClusterRole: ${clusterRoles.join(", ")}`);
    const roles = docs.filter((d) => d.kind === "Role").map((d) => `${d.metadata?.namespace}/${d.metadata?.name}`);
    for (const ns of [nsA, nsB]) for (const c of ["operator", "gateway"]) assert.ok(roles.includes(`${ns}/${release}-${c}`), `${ns}/${c} in ${roles.join(", ")}`);
    for (const [verb, res] of [["create", "secrets"], ["list", "secrets"], ["create", "deployments"], ["create", "jobs.batch"], ["list", "configmaps"]] as const) {
      assert.equal(can(operatorSA, verb, res), false, `operator may ${verb} ${res} cluster-wide`);
      assert.equal(can(operatorSA, verb, res, other), false, `operator may ${verb} ${res} in an unwatched namespace`);
      assert.equal(can(operatorSA, verb, res, nsA), true, `operator may not ${verb} ${res} in ${nsA}`);
    }
    assert.equal(can(operatorSA, "list", "nodes"), false, "the operator reads no Nodes");
    assert.equal(can(gatewaySA, "list", "functions.hearth.dev", other), false);
    assert.equal(can(gatewaySA, "list", "functions.hearth.dev", nsB), true);
    assert.equal(can(gatewaySA, "create", "tokenreviews.authentication.k8s.io"), true);
    assert.equal(can(gatewaySA, "get", "secrets", nsA), false, "the gateway reads no Secrets");
    assert.equal(can(gatewaySA, "get", "pods", nsA), true, "the gateway reads the pod a worker token is bound to");
    assert.equal(can(gatewaySA, "watch", "pods", nsA), true, "… and watches worker pods, to drop a deleted pod's tokens");
    assert.equal(can(gatewaySA, "list", "pods", other), false);
    assert.equal(can(gatewaySA, "get", "pods", other), false);
  });
});

describe("operator with only its ServiceAccount's namespaced permissions", () => {
  let op: TestOperator | undefined;
  let opKubeconfig = "";
  after(async () => op?.stop());

  it("reconciles a Function and a Job in a watched namespace; writes no worker Secret; lists Secrets metadata-only", { timeout: 240_000 }, async () => {
    opKubeconfig = saKubeconfig("operator", saToken(sys, `${release}-operator`));
    op = await startTestOperator({
      namespace: nsA,
      mode: "process",
      kubeconfig: opKubeconfig,
      config: {
        namespaces: [nsA, nsB],
        leaderElection: { enabled: true, namespace: sys, name: `${release}-operator`, leaseDurationSeconds: 5, renewDeadlineSeconds: 4, retryPeriodSeconds: 1 },
      },
    });
    const running = op;
    await waitFor(() => running.isLeader(), { timeoutMs: 60_000, what: "the operator leads" });

    await client.apply(hearthFunctions, {
      apiVersion: "hearth.dev/v1alpha1",
      kind: "Function",
      metadata: { name: "echo", namespace: nsA },
      spec: { image: "registry.example.com/echo:1", handler: "app:Model", resources: { cpu: "10m", memory: "16Mi" }, warmPool: { minReplicas: 1, maxReplicas: 1 } },
    });
    const dep = await waitFor(() => client.get(deployments, "echo-pool", nsA), { timeoutMs: 90_000, what: "the warm pool Deployment" });
    assert.ok(dep.metadata.ownerReferences?.some((o) => o.kind === "Function"));
    // Workers carry a projected ServiceAccount token for the gateway: no Secret per Function.
    const rawDeployment = await client.get(untyped({ group: "apps", version: "v1", kind: "Deployment", plural: "deployments", namespaced: true }), "echo-pool", nsA);
    const template = JSON.stringify((rawDeployment?.["spec"] as { template?: unknown } | undefined)?.template);
    assert.match(template, /"audience":"hearth.dev\/gateway"/);
    assert.doesNotMatch(template, /secretKeyRef/);
    assert.equal(await client.get(secrets, "echo-worker", nsA), undefined);
    await waitFor(
      async () => {
        const f = await client.get(hearthFunctions, "echo", nsA);
        const s = f?.["status"] as { observedGeneration?: number; conditions?: unknown[] } | undefined;
        return s?.observedGeneration === f?.metadata.generation && (s?.conditions?.length ?? 0) > 0;
      },
      { timeoutMs: 60_000, what: "the Function's status written" },
    );

    // The apiserver answers the operator's metadata-only list (old worker Secrets) without any Secret value.
    const transport = new Transport({ connection: await loadConnection({ kubeconfig: opKubeconfig }), clock: new SystemClock(), qps: 0 });
    try {
      const list = (await transport.request("GET", `/api/v1/namespaces/${nsA}/secrets`, { verb: "list", resource: "secrets", accept: METADATA_LIST_ACCEPT })) as { kind: string; items: Record<string, unknown>[] | null };
      assert.equal(list.kind, "PartialObjectMetadataList");
      const items = list.items ?? [];
      assert.ok(!items.some((i) => (i["metadata"] as { name: string }).name === "echo-worker"));
      for (const item of items) assert.equal(item["data"], undefined);
    } finally {
      transport.close();
    }

    // A Job of an isolated Function becomes one batch Job.
    await client.apply(hearthFunctions, {
      apiVersion: "hearth.dev/v1alpha1",
      kind: "Function",
      metadata: { name: "batch", namespace: nsA },
      spec: { image: "registry.example.com/batch:1", handler: "app:Model", invocation: "isolated", resources: { cpu: "10m", memory: "16Mi" } },
    });
    await client.create(hearthJobs, { metadata: { name: "j1", namespace: nsA }, spec: { functionRef: { name: "batch" }, input: { x: 1 } } });
    const batchJobs = untyped({ group: "batch", version: "v1", kind: "Job", plural: "jobs", namespaced: true });
    await waitFor(() => client.get(batchJobs, batchJobName("j1"), nsA), { timeoutMs: 90_000, what: "the batch Job" });

    // A Function outside the watched namespaces is not touched (nor could it be).
    await client.apply(hearthFunctions, {
      apiVersion: "hearth.dev/v1alpha1",
      kind: "Function",
      metadata: { name: "echo", namespace: other },
      spec: { image: "registry.example.com/echo:1", handler: "app:Model", resources: { cpu: "10m", memory: "16Mi" } },
    });
    await sleep(2000);
    assert.equal(await client.get(deployments, "echo-pool", other), undefined);

    // Nothing the operator asked for was forbidden.
    const forbidden = (parseMetrics(await running.metrics()).get("hearth_kube_requests_total") ?? []).filter((s) => s.labels["code"] === "403");
    assert.deepEqual(forbidden, [], `403s: ${JSON.stringify(forbidden)}\n${running.logs().slice(-3000)}`);
    assert.doesNotMatch(running.logs(), /forbidden/i);
  });
});

interface GatewayProc {
  url: string;
  stop(): Promise<void>;
}

async function startGateway(kubeconfig: string, staticToken: string): Promise<GatewayProc> {
  const key = join(dir, "signing-key");
  writeFileSync(key, TEST_SIGNING_KEY);
  const tokens = join(dir, "caller-tokens");
  writeFileSync(tokens, `${staticToken} *\n`);
  const node = join(process.cwd(), "node_modules", ".bin", "node");
  const args = ["src/cli/main.ts", "gateway", "--host", "127.0.0.1", "--port", "0", "--store", join(dir, "gateway.db"), "--kubeconfig", kubeconfig];
  args.push("--namespace", nsA, "--namespace", nsB, "--worker-signing-key-file", key, "--caller-tokens-file", tokens, "--auth-cache-ttl", `${AUTH_TTL_S}s`, "--log-level", "info");
  const proc = spawn(node, args, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  proc.stdout.on("data", (d: Buffer) => (out += d.toString()));
  proc.stderr.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  const url = await waitFor(
    () => {
      if (proc.exitCode !== null) throw new Error(`gateway exited ${proc.exitCode}: ${out}`);
      const line = out.split("\n").find((l) => l.includes("gateway listening"));
      return line === undefined ? undefined : /"url":"(http:\/\/[^"]+)"/.exec(line)?.[1];
    },
    { timeoutMs: 60_000, what: `the gateway's URL in its log` },
  ).catch((err: unknown) => {
    proc.kill("SIGKILL");
    throw new Error(`${String(err)}\n${out}`);
  });
  return {
    url,
    stop: async () => {
      if (proc.exitCode === null) proc.kill("SIGTERM");
      await exited;
    },
  };
}

describe("multi-tenancy through the gateway, on the real apiserver", () => {
  let gw: GatewayProc | undefined;
  after(async () => gw?.stop());

  it("a ServiceAccount allowed in A cannot run, read or cancel in B; RoleBinding changes take effect within the cache TTL", { timeout: 240_000 }, async (t) => {
    const admin = `admin-${randomBytes(12).toString("hex")}`;
    gw = await startGateway(saKubeconfig("gateway", saToken(sys, `${release}-gateway`)), admin);
    const base = gw.url;
    for (const ns of [nsA, nsB]) {
      await client.apply(hearthFunctions, {
        apiVersion: "hearth.dev/v1alpha1",
        kind: "Function",
        metadata: { name: "tenant", namespace: ns },
        spec: { image: "registry.example.com/tenant:1", handler: "app:Model", resources: { cpu: "10m", memory: "16Mi" }, warmPool: { minReplicas: 0, maxReplicas: 1 } },
      });
    }
    const hearthWorkflows = untyped({ group: "hearth.dev", version: "v1alpha1", kind: "Workflow", plural: "workflows", namespaced: true });
    for (const ns of [nsA, nsB]) {
      await client.apply(hearthWorkflows, {
        apiVersion: "hearth.dev/v1alpha1",
        kind: "Workflow",
        metadata: { name: "flow", namespace: ns },
        spec: { start: "one", steps: [{ name: "one", functionRef: { name: "tenant" } }] },
      });
    }
    must(["-n", nsA, "create", "serviceaccount", "team-a"]);
    must(["-n", nsA, "create", "serviceaccount", "nobody"]);
    must(["-n", nsA, "create", "rolebinding", "team-a-invoke", `--clusterrole=${release}-invoker`, `--serviceaccount=${nsA}:team-a`]);
    const teamA = saToken(nsA, "team-a");
    const nobody = saToken(nsA, "nobody");

    const call = async (token: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> => {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      let json: Record<string, unknown> = {};
      try {
        json = JSON.parse(text) as Record<string, unknown>;
      } catch {
        json = { raw: text };
      }
      return { status: res.status, json };
    };
    const push = (token: string, ns: string) => call(token, "POST", `/v1/namespaces/${ns}/functions/tenant:push`, { n: 1 });
    const errorType = (r: { json: Record<string, unknown> }): unknown => (r.json["error"] as { type?: unknown } | undefined)?.type;

    // The gateway knows both Functions (503 until its registry is loaded).
    await waitFor(async () => (await push(admin, nsA)).status === 202 && (await push(admin, nsB)).status === 202, { timeoutMs: 60_000, what: "the gateway serves both namespaces" });
    const taskB = (await push(admin, nsB)).json["id"];
    assert.equal(typeof taskB, "string");

    // Team A in A: push, read, cancel.
    const mine = await push(teamA, nsA);
    assert.equal(mine.status, 202, JSON.stringify(mine.json));
    const mineId = String(mine.json["id"]);
    assert.equal((await call(teamA, "GET", `/v1/tasks/${mineId}`)).status, 200);
    assert.equal((await call(teamA, "DELETE", `/v1/tasks/${mineId}`)).status, 200);

    // Team A in B: nothing.
    const denied = await push(teamA, nsB);
    assert.equal(denied.status, 403, JSON.stringify(denied.json));
    assert.match(String((denied.json["error"] as { message?: unknown } | undefined)?.message), /functions\/invoke/);
    assert.equal((await call(teamA, "POST", `/v1/namespaces/${nsB}/functions/tenant:run?timeout=1s`, { n: 1 })).status, 403);
    assert.equal((await call(teamA, "GET", `/v1/tasks/${String(taskB)}`)).status, 403);
    assert.equal((await call(teamA, "GET", `/v1/tasks/${String(taskB)}/events`)).status, 403);
    assert.equal((await call(teamA, "DELETE", `/v1/tasks/${String(taskB)}`)).status, 403);
    assert.equal((await call(teamA, "DELETE", `/v1/namespaces/${nsB}/functions/tenant/tasks`)).status, 403);
    const flowB = `/v1/namespaces/${nsB}/workflows/flow:push`;
    assert.equal((await call(teamA, "POST", flowB, { n: 1 })).status, 403, "a Workflow in B");
    const flowA = await call(teamA, "POST", `/v1/namespaces/${nsA}/workflows/flow:push`, { n: 1 });
    assert.equal(flowA.status, 202, `a Workflow in A: ${JSON.stringify(flowA.json)}`);
    // The console's read routes: B's Function and its tasks are hidden; lists show A only.
    assert.equal((await call(teamA, "GET", `/v1/namespaces/${nsB}/functions/tenant`)).status, 403);
    assert.equal((await call(teamA, "GET", `/v1/namespaces/${nsB}/functions/tenant/tasks`)).status, 403);
    assert.equal((await call(teamA, "GET", `/v1/namespaces/${nsA}/functions/tenant`)).status, 200);
    const listed = await call(teamA, "GET", "/v1/functions");
    assert.equal(listed.status, 200);
    const listedNs = ((listed.json["functions"] as { namespace: string }[] | undefined) ?? []).map((f) => f.namespace);
    assert.ok(listedNs.includes(nsA) && !listedNs.includes(nsB), `GET /v1/functions shows only A: ${JSON.stringify(listedNs)}`);
    const stillQueued = await call(admin, "GET", `/v1/tasks/${String(taskB)}`);
    assert.equal(stillQueued.json["status"], "queued", "B's task was not cancelled");
    const stats = await call(teamA, "GET", "/v1/stats");
    assert.equal(stats.status, 200);
    const seen = ((stats.json["functions"] as { namespace: string }[] | undefined) ?? []).map((f) => f.namespace);
    assert.ok(seen.includes(nsA) && !seen.includes(nsB), `stats show only A: ${JSON.stringify(seen)}`);

    // No binding, no access; a token the apiserver does not know is not an identity.
    assert.equal((await push(nobody, nsA)).status, 403);
    const forged = await push(`${teamA.slice(0, -4)}AAAA`, nsA);
    assert.equal(forged.status, 401, JSON.stringify(forged.json));
    assert.equal(errorType(forged), "Unauthorized");

    // Grant in B: allowed within the cache TTL (a cached denial lasts at most the TTL).
    let started = Date.now();
    must(["-n", nsB, "create", "rolebinding", "team-a-invoke", `--clusterrole=${release}-invoker`, `--serviceaccount=${nsA}:team-a`]);
    await waitFor(async () => (await push(teamA, nsB)).status === 202, { timeoutMs: 60_000, intervalMs: 200, what: "the grant takes effect" });
    const grantS = (Date.now() - started) / 1000;

    // Revoke in A: refused within the cache TTL (the allow decision was just cached).
    assert.equal((await push(teamA, nsA)).status, 202);
    started = Date.now();
    must(["-n", nsA, "delete", "rolebinding", "team-a-invoke"]);
    await waitFor(async () => (await push(teamA, nsA)).status === 403, { timeoutMs: 60_000, intervalMs: 200, what: "the revocation takes effect" });
    const revokeS = (Date.now() - started) / 1000;
    t.diagnostic(`grant took effect after ${grantS.toFixed(1)} s, revocation after ${revokeS.toFixed(1)} s (cache TTL ${AUTH_TTL_S} s)`);
    // The TTL plus the apiserver's own RBAC informer lag, with room for a loaded machine.
    assert.ok(grantS <= AUTH_TTL_S + 10, `grant after ${grantS} s`);
    assert.ok(revokeS <= AUTH_TTL_S + 10, `revocation after ${revokeS} s`);
  });

  it("a warm worker's projected ServiceAccount token speaks for its pod's Function only, and not after the pod is deleted", { timeout: 120_000 }, async (t) => {
    const running = gw;
    assert.ok(running !== undefined, "the gateway of the test above");
    await client.apply(hearthFunctions, {
      apiVersion: "hearth.dev/v1alpha1",
      kind: "Function",
      metadata: { name: "other", namespace: nsA },
      spec: { image: "registry.example.com/other:1", handler: "app:Model", resources: { cpu: "10m", memory: "16Mi" }, warmPool: { minReplicas: 0, maxReplicas: 1 } },
    });
    // A pod of A's "tenant" pool as the Deployment would make it, and a pod that is no worker.
    const podOf = async (name: string, labels: Record<string, string>): Promise<string> => {
      const created = await client.create(pods, { metadata: { name, namespace: nsA, labels }, spec: { containers: [{ name: "worker", image: "registry.example.com/tenant:1" }] } });
      return created.metadata.uid ?? "";
    };
    const workerUid = await podOf("tenant-pool-5d8f7c9b4-x2x7q", { "hearth.dev/function": "tenant", "hearth.dev/worker-mode": "warm" });
    const strangerUid = await podOf("debug-shell", { app: "debug" });
    // kube-controller-manager creates the namespace's default ServiceAccount.
    await waitFor(() => kubectl(["-n", nsA, "get", "serviceaccount", "default"]).status === 0 || undefined, { timeoutMs: 60_000, what: "the default ServiceAccount" });
    const projected = (pod: string, uid: string, audience = "hearth.dev/gateway"): string =>
      must(["create", "token", "default", "-n", nsA, `--audience=${audience}`, "--bound-object-kind=Pod", `--bound-object-name=${pod}`, `--bound-object-uid=${uid}`, "--duration=1h"]).trim();
    const worker = projected("tenant-pool-5d8f7c9b4-x2x7q", workerUid);
    const heartbeat = async (token: string, fn: string): Promise<{ status: number; message: string }> => {
      const res = await fetch(`${running.url}/v1/workers/heartbeat`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ function: fn, workerId: "w-1", state: "ready" }),
      });
      const body = (await res.json()) as { error?: { message?: string } };
      return { status: res.status, message: body.error?.message ?? "" };
    };

    assert.equal((await heartbeat(worker, `${nsA}/tenant`)).status, 200, "its own Function");
    const otherNs = await heartbeat(worker, `${nsB}/tenant`);
    assert.equal(otherNs.status, 401, "the same Function name in another namespace");
    assert.match(otherNs.message, new RegExp(`speaks for ${nsA}/tenant`));
    assert.equal((await heartbeat(worker, `${nsA}/other`)).status, 401, "another Function in the same namespace");
    // Not meant for the gateway (the apiserver's audience), not bound to a pod, or bound to a pod that is no worker: refused.
    const apiAudience = must(["create", "token", "default", "-n", nsA, "--bound-object-kind=Pod", "--bound-object-name=tenant-pool-5d8f7c9b4-x2x7q", `--bound-object-uid=${workerUid}`]).trim();
    assert.equal((await heartbeat(apiAudience, `${nsA}/tenant`)).status, 401, "the apiserver's audience");
    const unbound = must(["create", "token", "default", "-n", nsA, "--audience=hearth.dev/gateway"]).trim();
    const unboundAnswer = await heartbeat(unbound, `${nsA}/tenant`);
    assert.equal(unboundAnswer.status, 401);
    assert.match(unboundAnswer.message, /not bound to a pod/);
    const stranger = await heartbeat(projected("debug-shell", strangerUid), `${nsA}/tenant`);
    assert.equal(stranger.status, 401);
    assert.match(stranger.message, /no hearth.dev\/function label/);
    // HMAC worker tokens (dev mode, the operator's finalizer, pods of an older operator) still work, for their Function only.
    assert.equal((await heartbeat(workerToken(TEST_SIGNING_KEY, nsA, "tenant"), `${nsA}/tenant`)).status, 200);
    assert.equal((await heartbeat(workerToken(TEST_SIGNING_KEY, nsA, "tenant"), `${nsB}/tenant`)).status, 401);
    // The pod is deleted: its token stops working within the watch's latency, not when the gateway's
    // cached answer (up to 10 minutes, just renewed above) would have expired.
    assert.equal((await heartbeat(worker, `${nsA}/tenant`)).status, 200, "cached and still valid");
    const deleted = Date.now();
    must(["-n", nsA, "delete", "pod", "tenant-pool-5d8f7c9b4-x2x7q", "--grace-period=0", "--force", "--wait=false"]);
    let last = { status: 0, message: "" };
    await waitFor(
      async () => {
        last = await heartbeat(worker, `${nsA}/tenant`);
        return last.status === 401;
      },
      { timeoutMs: 30_000, intervalMs: 200, what: "the deleted pod's token is refused" },
    );
    assert.match(last.message, /worker token refused/);
    const revokedS = (Date.now() - deleted) / 1000;
    t.diagnostic(`the deleted pod's token was refused ${revokedS.toFixed(1)} s after the deletion`);
    assert.ok(revokedS < 30, `refused ${revokedS} s after the pod's deletion`);
  });
});
