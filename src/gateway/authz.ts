// Caller authorization, one function for every caller route (seam 1 in the team's SEAMS.md):
// `authorize(req, {verb, resource, namespace, name})` answers who the caller is or throws
// 401 (no credible identity) / 403 (known, not allowed) / 503 (the apiserver cannot say). Call
// it BEFORE reading a body or doing any work.
//
// Who a caller is, tried in order: insecure-open mode (tests, throwaway dev gateways); a static
// token (bound to namespaces); a task-scoped token minted for a running handler (seam 2: may
// call and read in its own namespace); any token the apiserver accepts (TokenReview). What a
// Kubernetes identity may do is asked of the apiserver (SubjectAccessReview, see `reviewsFor`).
// Both reviews are cached briefly, so RBAC changes take effect within the cache TTL.
import { createHash } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Logger } from "pino";
import { Counter, type Registry } from "prom-client";
import type { Clock } from "../kube/clock.ts";
import { bearer, type Authenticator } from "./auth.ts";
import { DecisionCache } from "./decision-cache.ts";
import { HttpError } from "./http.ts";
import type { KubeReviewer, KubeUser, ResourceAttributes } from "./kube-reviews.ts";

export type Verb = "invoke" | "get" | "cancel" | "list";
export type Resource = "functions" | "workflows" | "tasks";

export interface AccessRequest {
  verb: Verb;
  resource: Resource;
  /** The namespace of the Function/Workflow, or of the task's Function. "" = every namespace (list). */
  namespace: string;
  /** The Function/Workflow name (for a task: its Function's name); undefined = any. */
  name?: string | undefined;
}

export interface Caller {
  /** How the caller proved who it is. */
  kind: "open" | "static" | "kubernetes" | "task";
  /** For logs and audit: the Kubernetes user name, `static:<id>` or `task:<id>`. */
  user: string;
  /** Kubernetes callers: the groups TokenReview reported. */
  groups?: readonly string[];
  /** Static tokens: the namespaces the token is bound to. */
  namespaces?: "*" | readonly string[];
  /** Task-scoped tokens: the namespace of the calling task, the task, and the call depth. */
  namespace?: string;
  parentTaskId?: string;
  depth?: number;
}

export type Authorize = (req: IncomingMessage, access: AccessRequest) => Promise<Caller>;

/** Claims of a task-scoped token (seam 2, minted by src/auth/task-token.ts). */
export interface TaskClaims {
  taskId: string;
  namespace: string;
  depth: number;
}

/** Verifies a task-scoped token (signature and expiry); undefined when it is not one. */
export type TaskTokenVerifier = (token: string) => TaskClaims | undefined;

export interface ReviewCacheOptions {
  /** How long a TokenReview answer is kept. Default 60 s (a rejected token: 10 s). */
  tokenTtlMs: number;
  /** How long an allowed / denied SubjectAccessReview answer is kept. Default 30 s / 10 s. */
  allowTtlMs: number;
  denyTtlMs: number;
  /** Most decisions kept (each cache). Default 10,000. */
  maxEntries: number;
}

export const DEFAULT_REVIEW_CACHE: ReviewCacheOptions = { tokenTtlMs: 60_000, allowTtlMs: 30_000, denyTtlMs: 10_000, maxEntries: 10_000 };

export interface AuthorizerOptions {
  auth: Authenticator;
  clock: Clock;
  /** The apiserver's TokenReview/SubjectAccessReview; undefined = no Kubernetes identities. */
  kubernetes?: KubeReviewer | undefined;
  taskTokens?: TaskTokenVerifier | undefined;
  cache?: Partial<ReviewCacheOptions> | undefined;
  registry?: Registry | undefined;
  log?: Logger | undefined;
}

const GROUP = "hearth.dev";

/**
 * The SubjectAccessReviews that decide `access` for a Kubernetes identity; any one allowing is
 * enough. Calling a Function (or reading, cancelling its tasks) is `create` on `functions/invoke`
 * in its namespace; a Workflow likewise on `workflows/invoke`; seeing a Function's queue stats is
 * that right or `get` on the Function.
 */
export function reviewsFor(access: AccessRequest): ResourceAttributes[] {
  const name = access.name === undefined || access.name === "" ? {} : { name: access.name };
  const resource = access.resource === "workflows" ? "workflows" : "functions";
  const invoke: ResourceAttributes = { namespace: access.namespace, verb: "create", group: GROUP, resource, subresource: "invoke", ...name };
  if (access.resource !== "tasks" && (access.verb === "get" || access.verb === "list")) {
    return [invoke, { namespace: access.namespace, verb: access.verb === "list" && access.name === undefined ? "list" : "get", group: GROUP, resource, ...name }];
  }
  return [invoke];
}

/** Whether a static token bound to `namespaces` may reach `namespace` ("" = all of them). */
export function staticAllows(namespaces: "*" | readonly string[], namespace: string): boolean {
  return namespaces === "*" || (namespace !== "" && namespaces.includes(namespace));
}

function digest(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

type TokenVerdict = { user: KubeUser } | { user: undefined };

export class Authorizer {
  private readonly o: AuthorizerOptions;
  private readonly cacheOpts: ReviewCacheOptions;
  // One authentication per request, however many checks a route makes.
  private readonly seen = new WeakMap<IncomingMessage, Promise<Caller>>();
  private readonly kubeUsers = new WeakMap<Caller, KubeUser>();
  private readonly tokens: DecisionCache<TokenVerdict>;
  private readonly access: DecisionCache<boolean>;
  private readonly decisions: Counter<"kind" | "decision"> | undefined;
  private readonly reviews: Counter<"review" | "result"> | undefined;

  constructor(opts: AuthorizerOptions) {
    this.o = opts;
    const c = { ...DEFAULT_REVIEW_CACHE, ...opts.cache };
    this.cacheOpts = c;
    this.tokens = new DecisionCache<TokenVerdict>({ clock: opts.clock, maxEntries: c.maxEntries, ttlOf: (v) => (v.user === undefined ? Math.min(10_000, c.tokenTtlMs) : c.tokenTtlMs) });
    this.access = new DecisionCache<boolean>({ clock: opts.clock, maxEntries: c.maxEntries, ttlOf: (allowed) => (allowed ? c.allowTtlMs : c.denyTtlMs) });
    if (opts.registry !== undefined) {
      this.decisions = new Counter({
        name: "hearth_gateway_authz_decisions_total",
        help: "Caller authorization decisions by how the caller authenticated (open, static, kubernetes, task, none) and the decision (allowed, unauthenticated, forbidden, error).",
        labelNames: ["kind", "decision"],
        registers: [opts.registry],
      });
      this.reviews = new Counter({
        name: "hearth_gateway_authz_reviews_total",
        help: "Reviews sent to the apiserver (cache misses), by review (token, access: callers; worker-token, worker-pod: warm workers' ServiceAccount tokens) and result.",
        labelNames: ["review", "result"],
        registers: [opts.registry],
      });
    }
  }

  /** Whether any caller credential at all is configured (else every call is refused). */
  get configured(): boolean {
    // Task tokens do not count: only a task some other caller started can hold one.
    return this.o.auth.insecureOpen || this.o.auth.staticTokens > 0 || this.o.kubernetes !== undefined;
  }

  get cacheSettings(): ReviewCacheOptions {
    return this.cacheOpts;
  }

  /** Counts one review sent to the apiserver (worker-identities.ts shares the counter). */
  countReview(review: string, result: string): void {
    this.reviews?.inc({ review, result });
  }

  /** Who is calling; throws HttpError 401 when the request carries no credible identity. */
  authenticate(req: IncomingMessage): Promise<Caller> {
    let caller = this.seen.get(req);
    if (caller === undefined) {
      caller = this.identify(req.headers.authorization).catch((err: unknown) => {
        this.decisions?.inc({ kind: "none", decision: err instanceof HttpError && err.status === 401 ? "unauthenticated" : "error" });
        throw err;
      });
      this.seen.set(req, caller);
    }
    return caller;
  }

  /** Whether `caller` may do `access`. Throws HttpError 503 only when the apiserver cannot answer. */
  async permits(caller: Caller, access: AccessRequest): Promise<boolean> {
    switch (caller.kind) {
      case "open":
        return true;
      case "static":
        return staticAllows(caller.namespaces ?? [], access.namespace);
      case "task":
        return caller.namespace !== undefined && access.namespace === caller.namespace;
      case "kubernetes": {
        const user = this.kubeUsers.get(caller);
        if (user === undefined) return false;
        for (const attributes of reviewsFor(access)) {
          if (await this.reviewAccess(user, attributes)) return true;
        }
        return false;
      }
    }
  }

  /** Who is calling, if allowed `access`; throws HttpError 401/403/503 otherwise. */
  authorize: Authorize = async (req, access) => {
    const caller = await this.authenticate(req);
    let ok: boolean;
    try {
      ok = await this.permits(caller, access);
    } catch (err) {
      this.decisions?.inc({ kind: caller.kind, decision: "error" });
      throw err;
    }
    this.decisions?.inc({ kind: caller.kind, decision: ok ? "allowed" : "forbidden" });
    if (!ok) {
      this.o.log?.debug({ user: caller.user, access }, "caller forbidden");
      throw forbidden(caller, access);
    }
    return caller;
  };

  private async identify(authorization: string | undefined): Promise<Caller> {
    const auth = this.o.auth;
    const token = bearer(authorization);
    // A task token first, even when open: the task it starts must record its parent and depth.
    const claims = token === undefined ? undefined : this.o.taskTokens?.(token);
    if (claims !== undefined) return { kind: "task", user: `task:${claims.taskId}`, namespace: claims.namespace, parentTaskId: claims.taskId, depth: claims.depth };
    if (auth.insecureOpen) return { kind: "open", user: "anonymous" };
    if (token === undefined) throw new HttpError(401, "Unauthorized", "missing bearer token (Authorization: Bearer <token>)");
    const fixed = auth.staticCaller(token);
    if (fixed !== undefined) return { kind: "static", user: fixed.user, namespaces: fixed.namespaces };
    const kube = this.o.kubernetes;
    if (kube !== undefined) {
      const verdict = await this.tokens.get(digest(token), async () => {
        try {
          const user = await kube.reviewToken(token);
          this.reviews?.inc({ review: "token", result: user === undefined ? "rejected" : "accepted" });
          return { user };
        } catch (err) {
          this.reviews?.inc({ review: "token", result: "error" });
          this.o.log?.warn({ err }, "TokenReview failed");
          throw new HttpError(503, "Unavailable", "cannot review the bearer token with the Kubernetes API right now; retry");
        }
      });
      if (verdict.user !== undefined) {
        const caller: Caller = { kind: "kubernetes", user: verdict.user.username, groups: verdict.user.groups };
        this.kubeUsers.set(caller, verdict.user);
        return caller;
      }
    }
    throw new HttpError(401, "Unauthorized", "unknown bearer token");
  }

  private reviewAccess(user: KubeUser, attributes: ResourceAttributes): Promise<boolean> {
    const kube = this.o.kubernetes;
    if (kube === undefined) return Promise.resolve(false);
    const key = JSON.stringify([user.username, user.uid ?? "", [...user.groups].sort(), user.extra ?? {}, attributes]);
    return this.access.get(key, async () => {
      try {
        const allowed = await kube.reviewAccess(user, attributes);
        this.reviews?.inc({ review: "access", result: allowed ? "allowed" : "denied" });
        return allowed;
      } catch (err) {
        this.reviews?.inc({ review: "access", result: "error" });
        this.o.log?.warn({ err }, "SubjectAccessReview failed");
        throw new HttpError(503, "Unavailable", "cannot check the caller's access with the Kubernetes API right now; retry");
      }
    });
  }
}

export function forbidden(caller: Caller, access: AccessRequest): HttpError {
  const what = access.name === undefined ? access.resource : `${access.resource}/${access.name}`;
  const where = access.namespace === "" ? "in every namespace" : `in namespace ${access.namespace}`;
  const hint =
    caller.kind === "kubernetes"
      ? ` (needs RBAC: create ${access.resource === "workflows" ? "workflows" : "functions"}/invoke in group hearth.dev, e.g. the hearth-invoker ClusterRole bound in that namespace)`
      : caller.kind === "static"
        ? " (the static token is not bound to that namespace)"
        : caller.kind === "task"
          ? " (a task's token may call only in its own namespace)"
          : "";
  return new HttpError(403, "Forbidden", `${caller.user} may not ${access.verb} ${what} ${where}${hint}`);
}
