// The caller authorizer with a table-driven stand-in for the apiserver's TokenReview and
// SubjectAccessReview (the real apiserver is exercised in test/integration/multi-tenancy.test.ts):
// which identity wins, what each may do, 401/403/503, and the review cache's TTLs and bounds.
import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import { describe, it } from "node:test";
import { Authenticator } from "../../src/gateway/auth.ts";
import { Authorizer, reviewsFor, staticAllows, type AccessRequest, type TaskClaims } from "../../src/gateway/authz.ts";
import { DecisionCache } from "../../src/gateway/decision-cache.ts";
import { HttpError } from "../../src/gateway/http.ts";
import type { KubeReviewer, KubeUser, ResourceAttributes } from "../../src/gateway/kube-reviews.ts";
import { FakeClock } from "../../src/kube/clock.ts";

/** Tokens → users, and "user verb resource/subresource namespace" grants; counts the reviews. */
class TableReviewer implements KubeReviewer {
  users = new Map<string, KubeUser>();
  grants = new Set<string>();
  tokenReviews = 0;
  accessReviews = 0;
  down = false;

  async reviewToken(token: string): Promise<KubeUser | undefined> {
    this.tokenReviews++;
    if (this.down) throw new Error("connection refused");
    return this.users.get(token);
  }

  async reviewAccess(user: KubeUser, a: ResourceAttributes): Promise<boolean> {
    this.accessReviews++;
    if (this.down) throw new Error("connection refused");
    const res = a.subresource === undefined ? a.resource : `${a.resource}/${a.subresource}`;
    return this.grants.has(`${user.username} ${a.verb} ${res} ${a.namespace}`) || user.groups.some((g) => this.grants.has(`${g} ${a.verb} ${res} ${a.namespace}`));
  }
}

const req = (token?: string): IncomingMessage => ({ headers: token === undefined ? {} : { authorization: `Bearer ${token}` } }) as IncomingMessage;
const invoke = (namespace: string, name = "fn"): AccessRequest => ({ verb: "invoke", resource: "functions", namespace, name });
const status = async (p: Promise<unknown>): Promise<number> => {
  try {
    await p;
    return 200;
  } catch (err) {
    if (err instanceof HttpError) return err.status;
    throw err;
  }
};

function setup(opts: { tokens?: { token: string; namespaces: "*" | string[] }[]; task?: (t: string) => TaskClaims | undefined } = {}) {
  const clock = new FakeClock();
  const kube = new TableReviewer();
  kube.users.set("sa-a", { username: "system:serviceaccount:team-a:runner", groups: ["system:serviceaccounts", "system:serviceaccounts:team-a"] });
  kube.grants.add("system:serviceaccount:team-a:runner create functions/invoke team-a");
  const authz = new Authorizer({
    auth: new Authenticator({ callerTokens: opts.tokens ?? [] }),
    clock,
    kubernetes: kube,
    taskTokens: opts.task,
    cache: { tokenTtlMs: 60_000, allowTtlMs: 30_000, denyTtlMs: 5_000, maxEntries: 100 },
  });
  return { clock, kube, authz };
}

describe("caller authorization", () => {
  it("maps calls to SubjectAccessReviews on functions/invoke and workflows/invoke", () => {
    assert.deepEqual(reviewsFor(invoke("a", "f")), [{ namespace: "a", verb: "create", group: "hearth.dev", resource: "functions", subresource: "invoke", name: "f" }]);
    assert.deepEqual(reviewsFor({ verb: "cancel", resource: "tasks", namespace: "a", name: "f" }), [{ namespace: "a", verb: "create", group: "hearth.dev", resource: "functions", subresource: "invoke", name: "f" }]);
    assert.deepEqual(reviewsFor({ verb: "invoke", resource: "workflows", namespace: "a", name: "w" })[0]?.resource, "workflows");
    // Seeing a Function's stats: the invoke right, or reading the Function.
    assert.deepEqual(
      reviewsFor({ verb: "get", resource: "functions", namespace: "a", name: "f" }).map((r) => `${r.verb} ${r.subresource ?? ""}`),
      ["create invoke", "get "],
    );
    assert.equal(staticAllows("*", ""), true);
    assert.equal(staticAllows(["a"], "a"), true);
    assert.equal(staticAllows(["a"], "b"), false);
    assert.equal(staticAllows(["a"], ""), false);
  });

  it("lets a ServiceAccount call in its namespace only, reviewing once per TTL", async () => {
    const { kube, authz, clock } = setup();
    const caller = await authz.authorize(req("sa-a"), invoke("team-a"));
    assert.equal(caller.kind, "kubernetes");
    assert.equal(caller.user, "system:serviceaccount:team-a:runner");
    assert.equal(await status(authz.authorize(req("sa-a"), invoke("team-b"))), 403);
    await authz.authorize(req("sa-a"), invoke("team-a"));
    assert.equal(kube.tokenReviews, 1, "the token is reviewed once");
    assert.equal(kube.accessReviews, 2, "one review per distinct decision");
    // A grant shows after the deny TTL; a revocation after the allow TTL.
    kube.grants.add("system:serviceaccounts:team-a create functions/invoke team-b");
    assert.equal(await status(authz.authorize(req("sa-a"), invoke("team-b"))), 403, "cached denial");
    await clock.advance(5_001);
    assert.equal(await status(authz.authorize(req("sa-a"), invoke("team-b"))), 200);
    kube.grants.clear();
    assert.equal(await status(authz.authorize(req("sa-a"), invoke("team-a"))), 200, "cached allow");
    await clock.advance(30_001);
    assert.equal(await status(authz.authorize(req("sa-a"), invoke("team-a"))), 403);
  });

  it("answers 401 without or with an unknown token, 503 when the apiserver cannot answer", async () => {
    const { kube, authz } = setup();
    assert.equal(await status(authz.authorize(req(), invoke("team-a"))), 401);
    assert.equal(await status(authz.authorize(req("nobody"), invoke("team-a"))), 401);
    kube.down = true;
    assert.equal(await status(authz.authorize(req("sa-a"), invoke("team-a"))), 503);
    kube.down = false;
    assert.equal(await status(authz.authorize(req("sa-a"), invoke("team-a"))), 200, "a failed review is not cached");
  });

  it("binds static tokens to their namespaces without asking the apiserver", async () => {
    const { kube, authz } = setup({ tokens: [{ token: "ci", namespaces: ["team-a"] }, { token: "ops", namespaces: "*" }] });
    assert.equal((await authz.authorize(req("ci"), invoke("team-a"))).kind, "static");
    assert.equal(await status(authz.authorize(req("ci"), invoke("team-b"))), 403);
    assert.equal(await status(authz.authorize(req("ops"), invoke("team-b"))), 200);
    assert.equal(await authz.permits(await authz.authenticate(req("ci")), { verb: "list", resource: "functions", namespace: "" }), false);
    assert.equal(kube.tokenReviews + kube.accessReviews, 0);
  });

  it("accepts task-scoped tokens for calls in the task's own namespace", async () => {
    const { authz } = setup({ task: (t) => (t === "task-token" ? { taskId: "t1", namespace: "team-a", depth: 1 } : undefined) });
    const caller = await authz.authorize(req("task-token"), invoke("team-a", "child"));
    assert.equal(caller.kind, "task");
    assert.equal(caller.parentTaskId, "t1");
    assert.equal(caller.depth, 1);
    assert.equal(await status(authz.authorize(req("task-token"), { verb: "get", resource: "tasks", namespace: "team-a", name: "child" })), 200);
    assert.equal(await status(authz.authorize(req("task-token"), invoke("team-b"))), 403);
  });

  it("refuses everything when nothing is configured, and allows everything only when asked", async () => {
    const clock = new FakeClock();
    const closed = new Authorizer({ auth: new Authenticator({}), clock });
    assert.equal(closed.configured, false);
    assert.equal(await status(closed.authorize(req("x"), invoke("a"))), 401);
    assert.equal(await status(closed.authorize(req(), invoke("a"))), 401);
    const open = new Authorizer({ auth: new Authenticator({ insecureOpen: true }), clock });
    assert.equal((await open.authorize(req(), invoke("a"))).kind, "open");
  });

  it("keeps the decision cache bounded, shares reviews in flight, forgets failures", async () => {
    const clock = new FakeClock();
    const cache = new DecisionCache<number>({ clock, maxEntries: 2, ttlOf: () => 1000 });
    let calls = 0;
    const review = async (): Promise<number> => ++calls;
    const [x, y] = await Promise.all([cache.get("a", review), cache.get("a", review)]);
    assert.equal(x, 1);
    assert.equal(y, 1);
    await cache.get("b", review);
    await cache.get("c", review);
    assert.equal(cache.size, 2);
    assert.equal(await cache.get("a", review), 4, "the least recently used entry was evicted");
    await assert.rejects(cache.get("d", () => Promise.reject(new Error("x"))));
    assert.equal(await cache.get("d", review), 5);
    await clock.advance(1001);
    assert.equal(await cache.get("d", review), 6, "expired");
  });
});
