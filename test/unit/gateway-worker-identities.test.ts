// Warm workers' projected ServiceAccount tokens at the gateway: which pod a reviewed token is
// bound to, which Function that pod works for, the cache (one review per token, bounded by the
// token's expiry; refusals briefly; apiserver errors never), and the worker routes on a real
// Gateway (refused for another Function, checked before any body is read). The apiserver's
// answers are scripted here; test/integration/trust-rbac.test.ts asks a real one.
import assert from "node:assert/strict";
import { request, type IncomingMessage } from "node:http";
import { after, before, describe, it } from "node:test";
import { boundPodOf, functionOfPod, jwtExpiry, looksLikeJwt, type PodFacts } from "../../src/auth/service-account-token.ts";
import { workerToken } from "../../src/auth/worker-token.ts";
import { Gateway } from "../../src/gateway/gateway.ts";
import type { KubeReviewer, KubeUser } from "../../src/gateway/kube-reviews.ts";
import { StaticRegistry, staticFunction } from "../../src/gateway/registry.ts";
import { positiveTtl, WorkerIdentities } from "../../src/gateway/worker-identities.ts";
import type { GonePod } from "../../src/gateway/worker-pods.ts";
import { FakeClock } from "../../src/kube/clock.ts";
import { KubeError } from "../../src/kube/errors.ts";

const KEY = "worker-identities-signing-key";
const LABELS = { function: "hearth.dev/function", workerMode: "hearth.dev/worker-mode" };

/** A JWT-shaped token (the apiserver's answers are scripted; only the shape and `exp` matter here). */
function jwt(sub: string, exp: number): string {
  const part = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString("base64url");
  return `${part({ alg: "RS256" })}.${part({ sub, exp })}.c2ln`;
}

function saUser(ns: string, pod: string, uid = `${pod}-uid`): KubeUser {
  return { username: `system:serviceaccount:${ns}:default`, groups: ["system:serviceaccounts"], extra: { "authentication.kubernetes.io/pod-name": [pod], "authentication.kubernetes.io/pod-uid": [uid] } };
}

const workerPod = (fn: string, uid: string): PodFacts => ({ uid, labels: { [LABELS.function]: fn, [LABELS.workerMode]: "warm" }, deleting: false });

/** The apiserver, scripted: tokens → users, pods by namespace/name; counts what it is asked. */
class ScriptedApiserver implements KubeReviewer {
  users = new Map<string, KubeUser>();
  pods = new Map<string, PodFacts>();
  tokenReviews = 0;
  podReads = 0;
  failing = false;
  async reviewToken(token: string): Promise<KubeUser | undefined> {
    this.tokenReviews++;
    if (this.failing) throw new Error("apiserver down");
    return this.users.get(token);
  }
  async reviewAccess(): Promise<boolean> {
    return false;
  }
  forbidden = new Set<string>();
  readPod = async (ns: string, name: string): Promise<PodFacts | undefined> => {
    this.podReads++;
    if (this.forbidden.has(ns)) throw new KubeError({ code: 403, reason: "Forbidden", message: `pods "${name}" is forbidden` });
    return this.pods.get(`${ns}/${name}`);
  };
}

describe("projected ServiceAccount tokens: pure parts", () => {
  it("tells a JWT from an HMAC worker token, and reads its expiry", () => {
    assert.equal(looksLikeJwt(jwt("x", 1)), true);
    assert.equal(looksLikeJwt(workerToken(KEY, "ns", "fn")), false);
    assert.equal(jwtExpiry(jwt("x", 1_800_000_000)), 1_800_000_000);
    assert.equal(jwtExpiry("a.b.c"), undefined);
  });

  it("only a ServiceAccount token bound to a pod names a pod", () => {
    assert.deepEqual(boundPodOf(saUser("a", "p1")), { namespace: "a", serviceAccount: "default", pod: "p1", podUid: "p1-uid" });
    assert.match((boundPodOf({ username: "alice" }) as { refused: string }).refused, /not a ServiceAccount/);
    assert.match((boundPodOf({ username: "system:serviceaccount:a:default" }) as { refused: string }).refused, /not bound to a pod/);
  });

  it("a pod works for the Function its label names, in its own namespace, if it is the very pod and a warm worker", () => {
    const bound = { namespace: "a", serviceAccount: "default", pod: "p1", podUid: "u1" };
    assert.equal(functionOfPod(bound, workerPod("echo", "u1"), LABELS), "a/echo");
    assert.match((functionOfPod(bound, undefined, LABELS) as { refused: string }).refused, /does not exist/);
    assert.match((functionOfPod(bound, workerPod("echo", "u2"), LABELS) as { refused: string }).refused, /not the pod the token is bound to/);
    assert.match((functionOfPod(bound, { ...workerPod("echo", "u1"), deleting: true }, LABELS) as { refused: string }).refused, /being deleted/);
    assert.match((functionOfPod(bound, { uid: "u1", labels: {}, deleting: false }, LABELS) as { refused: string }).refused, /no hearth.dev\/function label/);
    assert.match((functionOfPod(bound, { uid: "u1", labels: { [LABELS.function]: "echo", [LABELS.workerMode]: "oneshot" }, deleting: false }, LABELS) as { refused: string }).refused, /not a warm-pool worker/);
  });

  it("keeps a positive answer until shortly before the token expires, bounded", () => {
    assert.equal(positiveTtl(1000, 0, 600_000, 60_000), 600_000);
    assert.equal(positiveTtl(300, 0, 600_000, 60_000), 240_000);
    assert.equal(positiveTtl(30, 0, 600_000, 60_000), 0);
    assert.equal(positiveTtl(undefined, 0, 600_000, 60_000), 60_000);
  });
});

describe("WorkerIdentities", () => {
  const setup = () => {
    const clock = new FakeClock();
    const api = new ScriptedApiserver();
    const ids = new WorkerIdentities({ reviewer: api, pods: api.readPod, clock });
    return { clock, api, ids };
  };

  it("reviews a token once, then answers from the cache until shortly before it expires", async () => {
    const { clock, api, ids } = setup();
    const token = jwt("a", clock.now() / 1000 + 3600);
    api.users.set(token, saUser("a", "echo-pool-1"));
    api.pods.set("a/echo-pool-1", workerPod("echo", "echo-pool-1-uid"));
    const answers = await Promise.all([ids.functionOf(token), ids.functionOf(token), ids.functionOf(token)]);
    assert.deepEqual(answers, ["a/echo", "a/echo", "a/echo"]);
    assert.equal(api.tokenReviews, 1, "concurrent lookups share one review");
    assert.equal(api.podReads, 1);
    await clock.advance(9 * 60_000);
    assert.equal(await ids.functionOf(token), "a/echo");
    assert.equal(api.tokenReviews, 1);
    await clock.advance(2 * 60_000);
    assert.equal(await ids.functionOf(token), "a/echo");
    assert.equal(api.tokenReviews, 2, "reviewed again after at most 10 minutes");
  });

  it("refuses with the reason, caches the refusal briefly, and never caches an apiserver failure", async () => {
    const { clock, api, ids } = setup();
    const stranger = jwt("s", clock.now() / 1000 + 3600);
    api.users.set(stranger, saUser("a", "debug-pod"));
    api.pods.set("a/debug-pod", { uid: "debug-pod-uid", labels: {}, deleting: false });
    await assert.rejects(ids.functionOf(stranger), (err: Error & { status?: number }) => err.status === 401 && /no hearth.dev\/function label/.test(err.message));
    await assert.rejects(ids.functionOf(stranger));
    assert.equal(api.tokenReviews, 1);
    await clock.advance(11_000);
    await assert.rejects(ids.functionOf(stranger));
    assert.equal(api.tokenReviews, 2);
    const unknown = jwt("u", clock.now() / 1000 + 3600);
    await assert.rejects(ids.functionOf(unknown), (err: Error & { status?: number }) => err.status === 401 && /does not accept it/.test(err.message));
    // A namespace the gateway may not read pods in: refused, not an outage.
    const elsewhere = jwt("e", clock.now() / 1000 + 3600);
    api.users.set(elsewhere, saUser("unwatched", "p"));
    api.forbidden.add("unwatched");
    await assert.rejects(ids.functionOf(elsewhere), (err: Error & { status?: number }) => err.status === 401 && /may not read pods in namespace unwatched/.test(err.message));
    api.failing = true;
    const later = jwt("l", clock.now() / 1000 + 3600);
    await assert.rejects(ids.functionOf(later), (err: Error & { status?: number }) => err.status === 503);
    api.failing = false;
    api.users.set(later, saUser("a", "echo-pool-2"));
    api.pods.set("a/echo-pool-2", workerPod("echo", "echo-pool-2-uid"));
    assert.equal(await ids.functionOf(later), "a/echo", "the failure was not kept");
  });

  it("drops the answers of a deleted pod's tokens at once, and only that pod's (a later pod of the same name keeps its own)", async () => {
    const clock = new FakeClock();
    const api = new ScriptedApiserver();
    let gone = (_pod: GonePod): void => {};
    const deletions = { onGone: (l: (pod: GonePod) => void) => void (gone = l), start: () => {}, stop: () => {} };
    const ids = new WorkerIdentities({ reviewer: api, pods: api.readPod, clock, podDeletions: deletions });
    const exp = clock.now() / 1000 + 3600;
    const [t1, t1b, t2] = [jwt("1", exp), jwt("1b", exp), jwt("2", exp)];
    api.users.set(t1, saUser("a", "echo-pool-1", "uid-1"));
    api.users.set(t1b, saUser("a", "echo-pool-1", "uid-1"));
    api.users.set(t2, saUser("a", "echo-pool-2", "uid-2"));
    api.pods.set("a/echo-pool-1", workerPod("echo", "uid-1"));
    api.pods.set("a/echo-pool-2", workerPod("echo", "uid-2"));
    for (const t of [t1, t1b, t2]) assert.equal(await ids.functionOf(t), "a/echo");
    assert.equal(api.tokenReviews, 3);
    // An older pod of the same name (another uid) is gone: these answers stay.
    gone({ namespace: "a", name: "echo-pool-1", uid: "uid-0" });
    assert.equal(await ids.functionOf(t1), "a/echo");
    assert.equal(api.tokenReviews, 3);
    // The pod is gone: the apiserver refuses its tokens from now on, and so does the gateway, at once.
    api.users.delete(t1);
    api.users.delete(t1b);
    api.pods.delete("a/echo-pool-1");
    gone({ namespace: "a", name: "echo-pool-1", uid: "uid-1" });
    await assert.rejects(ids.functionOf(t1), (err: Error & { status?: number }) => err.status === 401 && /does not accept it/.test(err.message));
    await assert.rejects(ids.functionOf(t1b), (err: Error & { status?: number }) => err.status === 401);
    assert.equal(await ids.functionOf(t2), "a/echo", "another pod's token is untouched");
    assert.equal(api.tokenReviews, 5, "both tokens of the deleted pod were reviewed afresh; the other one was not");
  });
});

describe("worker routes with projected ServiceAccount tokens (real Gateway)", () => {
  let gw: Gateway;
  const api = new ScriptedApiserver();
  const exp = Math.floor(Date.now() / 1000) + 3600;
  const tokenA = jwt("a-echo", exp);
  const tokenOther = jwt("a-other", exp);
  const tokenB = jwt("b-echo", exp);

  before(async () => {
    api.users.set(tokenA, saUser("a", "echo-pool-x"));
    api.pods.set("a/echo-pool-x", workerPod("echo", "echo-pool-x-uid"));
    api.users.set(tokenOther, saUser("a", "other-pool-x"));
    api.pods.set("a/other-pool-x", workerPod("other", "other-pool-x-uid"));
    api.users.set(tokenB, saUser("b", "echo-pool-y"));
    api.pods.set("b/echo-pool-y", workerPod("echo", "echo-pool-y-uid"));
    gw = await Gateway.start({
      storePath: ":memory:",
      registry: new StaticRegistry([staticFunction({ namespace: "a", name: "echo" }), staticFunction({ namespace: "a", name: "other" }), staticFunction({ namespace: "b", name: "echo" })]),
      auth: { callerTokens: ["caller"], workerSigningKey: KEY },
      workerIdentities: { reviewer: api, pods: api.readPod },
    });
  });
  after(async () => gw.stop());

  const heartbeat = (token: string, fn: string): Promise<Response> =>
    fetch(`${gw.url}/v1/workers/heartbeat`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify({ function: fn, workerId: "w", state: "ready" }) });

  it("a worker of a/echo speaks for a/echo only: not for b/echo, not for a/other", async () => {
    assert.equal((await heartbeat(tokenA, "a/echo")).status, 200);
    const other = await heartbeat(tokenA, "a/other");
    assert.equal(other.status, 401);
    assert.match(((await other.json()) as { error: { message: string } }).error.message, /speaks for a\/echo/);
    assert.equal((await heartbeat(tokenA, "b/echo")).status, 401);
    assert.equal((await heartbeat(tokenB, "a/echo")).status, 401);
    assert.equal((await heartbeat(tokenOther, "a/echo")).status, 401);
    assert.equal((await heartbeat(tokenB, "b/echo")).status, 200);
    // HMAC worker tokens (dev mode, the operator, older pods) still work, for their Function only.
    assert.equal((await heartbeat(workerToken(KEY, "a", "echo"), "a/echo")).status, 200);
    assert.equal((await heartbeat(workerToken(KEY, "a", "echo"), "b/echo")).status, 401);
  });

  it("per-task routes: a task of b/echo cannot be completed with a/echo's token", async () => {
    const pushed = (await (await fetch(`${gw.url}/v1/namespaces/b/functions/echo:push`, { method: "POST", headers: { authorization: "Bearer caller" }, body: "1" })).json()) as { id: string };
    const lease = await fetch(`${gw.url}/v1/workers/lease`, { method: "POST", headers: { authorization: `Bearer ${tokenB}` }, body: JSON.stringify({ function: "b/echo", workerId: "wb", max: 1, waitMs: 2000 }) });
    assert.equal(lease.status, 200);
    const grant = ((await lease.json()) as { tasks: { id: string; leaseId: string }[] }).tasks[0];
    assert.equal(grant?.id, pushed.id);
    const complete = (token: string): Promise<Response> =>
      fetch(`${gw.url}/v1/tasks/${pushed.id}/complete`, { method: "POST", headers: { authorization: `Bearer ${token}` }, body: JSON.stringify({ leaseId: grant?.leaseId, output: 2 }) });
    assert.equal((await complete(tokenA)).status, 401);
    assert.equal((await complete(tokenB)).status, 200);
  });

  it("each token is reviewed once however many requests it makes", async () => {
    const before = api.tokenReviews;
    for (let i = 0; i < 20; i++) assert.equal((await heartbeat(tokenA, "a/echo")).status, 200);
    assert.equal(api.tokenReviews, before);
    assert.ok(api.tokenReviews <= 3, `one review per token: ${api.tokenReviews}`);
  });

  it("a forged JWT is refused before its body is read", async () => {
    const forged = jwt("forged", exp);
    const res = await fetch(`${gw.url}/v1/workers/results`, { method: "POST", headers: { authorization: `Bearer ${forged}` }, body: "x".repeat(1024) });
    assert.equal(res.status, 401);
    assert.match(((await res.json()) as { error: { message: string } }).error.message, /worker token refused/);
  });
});

describe("a worker channel on a projected token (real Gateway)", () => {
  let gw: Gateway;
  const api = new ScriptedApiserver();
  const exp = Math.floor(Date.now() / 1000) + 3600;
  const [token1, token2] = [jwt("ch-1", exp), jwt("ch-2", exp)];
  let gone = (_pod: GonePod): void => {};

  before(async () => {
    api.users.set(token1, saUser("a", "echo-pool-1", "uid-1"));
    api.users.set(token2, saUser("a", "echo-pool-2", "uid-2"));
    api.pods.set("a/echo-pool-1", workerPod("echo", "uid-1"));
    api.pods.set("a/echo-pool-2", workerPod("echo", "uid-2"));
    gw = await Gateway.start({
      storePath: ":memory:",
      registry: new StaticRegistry([staticFunction({ namespace: "a", name: "echo" })]),
      auth: { callerTokens: ["caller"], workerSigningKey: KEY },
      workerIdentities: { reviewer: api, pods: api.readPod, podDeletions: { onGone: (l) => void (gone = l), start: () => {}, stop: () => {} } },
    });
  });
  after(async () => gw.stop());

  /** A streaming channel (POST /v1/workers/channel): the lines the gateway sends, and how to hang up. */
  const openChannel = async (token: string, workerId: string): Promise<{ lines: string[]; close: () => void }> => {
    const lines: string[] = [];
    const req = request(`${gw.url}/v1/workers/channel?function=a/echo&workerId=${workerId}`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/x-ndjson" } });
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      req.on("response", resolve);
      req.on("error", reject);
      req.write('{"want":1}\n');
    });
    assert.equal(res.statusCode, 200);
    let partial = "";
    res.setEncoding("utf8");
    res.on("data", (c: string) => {
      partial += c;
      for (let nl = partial.indexOf("\n"); nl >= 0; nl = partial.indexOf("\n")) {
        lines.push(partial.slice(0, nl));
        partial = partial.slice(nl + 1);
      }
    });
    res.on("error", () => {});
    return { lines, close: () => req.destroy() };
  };

  it("ends a channel when the pod its token is bound to is deleted, and no other (its lifetime is a minute)", async () => {
    const c1 = await openChannel(token1, "w-1");
    const c2 = await openChannel(token2, "w-2");
    try {
      gone({ namespace: "a", name: "echo-pool-1", uid: "uid-0" });
      gone({ namespace: "a", name: "echo-pool-9", uid: "uid-9" });
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(c1.lines.length, 0, "an older pod of the same name, or another pod: nothing");
      gone({ namespace: "a", name: "echo-pool-1", uid: "uid-1" });
      for (let i = 0; i < 100 && !c1.lines.includes('{"end":true}'); i++) await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(c1.lines, ['{"end":true}'], "told to end at once");
      assert.equal(c2.lines.length, 0, "the other pod's channel goes on");
    } finally {
      c1.close();
      c2.close();
    }
  });
});
