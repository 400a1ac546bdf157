// Which Function a warm worker speaks for, from its projected ServiceAccount token
// (src/auth/service-account-token.ts): a TokenReview with the worker audience says which pod the
// token is bound to, one GET of that pod says which Function it works for. Both answers are
// cached per token digest — a positive one until shortly before the token expires (bounded), a
// refusal briefly — so a worker costs two apiserver requests per token (the kubelet rotates it
// about hourly), never per request or per task. A positive answer ends early when the pod it names
// is deleted (worker-pods.ts: the apiserver refuses the token from then on; so does the gateway).
import { createHash } from "node:crypto";
import type { Logger } from "pino";
import { boundPodOf, functionOfPod, jwtExpiry, WORKER_TOKEN_AUDIENCE, type PodFacts } from "../auth/service-account-token.ts";
import type { KubeClient } from "../kube/client.ts";
import type { Clock } from "../kube/clock.ts";
import { toStatus } from "../kube/errors.ts";
import { untyped } from "../kube/resources.ts";
import { LABELS } from "../workload/labels.ts";
import { DecisionCache } from "./decision-cache.ts";
import { HttpError } from "./http.ts";
import { ApiserverReviewer, type KubeReviewer } from "./kube-reviews.ts";
import { WorkerPodWatch, type GonePod, type PodDeletions } from "./worker-pods.ts";

/** Reads one pod (undefined: it does not exist). */
export type PodReader = (namespace: string, name: string, signal?: AbortSignal) => Promise<PodFacts | undefined>;

export interface WorkerIdentityOptions {
  /** TokenReview with the worker audience (ApiserverReviewer(client, [WORKER_TOKEN_AUDIENCE])). */
  reviewer: KubeReviewer;
  pods: PodReader;
  clock: Clock;
  log?: Logger | undefined;
  /** Counts apiserver requests (cache misses): the Authorizer's hearth_gateway_authz_reviews_total. */
  countReview?: ((review: "worker-token" | "worker-pod", result: string) => void) | undefined;
  /** Longest a positive answer is kept (default 10 min), and how long before the token's expiry it ends (default 60 s). */
  maxTtlMs?: number;
  expiryMarginMs?: number;
  /** How long a refusal is kept (default 10 s). */
  refusalTtlMs?: number;
  maxEntries?: number;
  /** Deleted warm worker pods: their tokens' answers are dropped at once (absent: they last their TTL). */
  podDeletions?: PodDeletions | undefined;
}

/** A positive answer names the pod (namespace/name, uid) the token is bound to, so its deletion can end it. */
type Verdict = { fn: string; pod: string; podUid: string | undefined; ttlMs: number } | { refused: string; ttlMs: number };

/** The Function a worker token speaks for, and the pod (`namespace/name`, uid when known) it is bound to. */
export interface TokenBinding {
  fn: string;
  pod: string;
  podUid: string | undefined;
}

/** Whether the deleted pod is the one a token is bound to (same name; same uid when both are known: a new pod may reuse a name). */
export function isBoundPod(gone: GonePod, bound: { pod: string; podUid: string | undefined }): boolean {
  return bound.pod === `${gone.namespace}/${gone.name}` && (gone.uid === undefined || bound.podUid === undefined || bound.podUid === gone.uid);
}

export class WorkerIdentities {
  private readonly o: WorkerIdentityOptions;
  private readonly cache: DecisionCache<Verdict>;
  private readonly goneListeners = new Set<(pod: GonePod) => void>();

  constructor(opts: WorkerIdentityOptions) {
    this.o = opts;
    this.cache = new DecisionCache<Verdict>({ clock: opts.clock, maxEntries: opts.maxEntries ?? 10_000, ttlOf: (v) => v.ttlMs });
    opts.podDeletions?.onGone((pod) => this.podGone(pod));
  }

  /**
   * The pod is gone: tokens bound to it speak for nobody any more (the next use is reviewed
   * afresh, and refused), and whoever holds something open on such a token hears of it (onPodGone).
   */
  podGone(pod: GonePod): void {
    const name = `${pod.namespace}/${pod.name}`;
    const n = this.cache.deleteWhere((v) => "fn" in v && isBoundPod(pod, v));
    if (n > 0) this.o.log?.info({ pod: name, tokens: n }, "worker pod deleted: its tokens' cached answers dropped");
    for (const listener of [...this.goneListeners]) listener(pod);
  }

  /** Calls `listener` for every warm worker pod deleted from now on; returns how to stop. */
  onPodGone(listener: (pod: GonePod) => void): () => void {
    this.goneListeners.add(listener);
    return () => this.goneListeners.delete(listener);
  }

  /**
   * The Function (`namespace/name`) the token speaks for; HttpError 401 with the reason when it
   * speaks for none, 503 when the apiserver cannot answer now.
   */
  async functionOf(token: string): Promise<string> {
    return (await this.binding(token)).fn;
  }

  /** functionOf(), with the pod the token is bound to (`namespace/name` and uid). */
  async binding(token: string): Promise<TokenBinding> {
    const key = createHash("sha256").update(token).digest("hex");
    const verdict = await this.cache.get(key, () => this.review(token));
    if ("refused" in verdict) throw new HttpError(401, "Unauthorized", `worker token refused: ${verdict.refused}`);
    return { fn: verdict.fn, pod: verdict.pod, podUid: verdict.podUid };
  }

  private async review(token: string): Promise<Verdict> {
    const refusalTtlMs = this.o.refusalTtlMs ?? 10_000;
    const refuse = (refused: string): Verdict => {
      this.o.log?.info({ refused }, "worker token refused");
      return { refused, ttlMs: refusalTtlMs };
    };
    let user;
    try {
      user = await this.o.reviewer.reviewToken(token);
      this.o.countReview?.("worker-token", user === undefined ? "rejected" : "accepted");
    } catch (err) {
      this.o.countReview?.("worker-token", "error");
      this.o.log?.warn({ err }, "TokenReview of a worker token failed");
      throw new HttpError(503, "Unavailable", "cannot review the worker token with the Kubernetes API right now; retry");
    }
    if (user === undefined) return refuse("the Kubernetes API does not accept it for the gateway's audience (expired, or not a worker's projected token)");
    const bound = boundPodOf(user);
    if ("refused" in bound) return refuse(bound.refused);
    let pod: PodFacts | undefined;
    try {
      pod = await this.o.pods(bound.namespace, bound.pod);
      this.o.countReview?.("worker-pod", pod === undefined ? "absent" : "found");
    } catch (err) {
      // Not allowed to read pods there (a namespace the gateway does not serve): a refusal, not an outage.
      if (toStatus(err).code === 403) {
        this.o.countReview?.("worker-pod", "forbidden");
        return refuse(`the gateway may not read pods in namespace ${bound.namespace} (it serves Functions of its watched namespaces only)`);
      }
      this.o.countReview?.("worker-pod", "error");
      this.o.log?.warn({ err, pod: `${bound.namespace}/${bound.pod}` }, "cannot read a worker's pod");
      throw new HttpError(503, "Unavailable", "cannot read the worker's pod from the Kubernetes API right now; retry");
    }
    const fn = functionOfPod(bound, pod, { function: LABELS.function, workerMode: LABELS.workerMode });
    if (typeof fn !== "string") return refuse(fn.refused);
    return { fn, pod: `${bound.namespace}/${bound.pod}`, podUid: bound.podUid ?? pod?.uid, ttlMs: positiveTtl(jwtExpiry(token), this.o.clock.now(), this.o.maxTtlMs ?? 600_000, this.o.expiryMarginMs ?? 60_000) };
  }
}

/** How long a positive answer is kept: until `marginMs` before the token's expiry, at most `maxMs`. */
export function positiveTtl(expSeconds: number | undefined, nowMs: number, maxMs: number, marginMs: number): number {
  if (expSeconds === undefined) return Math.min(maxMs, 60_000);
  return Math.max(0, Math.min(maxMs, expSeconds * 1000 - nowMs - marginMs));
}

const podResource = untyped({ group: "", version: "v1", kind: "Pod", plural: "pods", namespaced: true });

/** Reads a pod from the apiserver (the gateway's RBAC: get pods). */
export function apiserverPods(client: KubeClient): PodReader {
  return async (namespace, name, signal) => {
    const pod = await client.get(podResource, name, namespace, signal);
    if (pod === undefined) return undefined;
    return { uid: pod.metadata.uid, labels: pod.metadata.labels ?? {}, deleting: pod.metadata.deletionTimestamp !== undefined };
  };
}

/**
 * The worker identities of a gateway with a cluster: TokenReview for the worker audience, pods
 * read from the apiserver, and a watch of warm worker pods for their deletions (the gateway's
 * RBAC: get, list, watch pods; the gateway starts and stops the watch).
 */
export function kubeWorkerIdentities(
  client: KubeClient,
  watch: { clock: Clock; logger: Logger; namespaces?: readonly string[] | undefined },
): Omit<WorkerIdentityOptions, "clock" | "log" | "countReview"> {
  return { reviewer: new ApiserverReviewer(client, [WORKER_TOKEN_AUDIENCE]), pods: apiserverPods(client), podDeletions: new WorkerPodWatch({ client, ...watch }) };
}
