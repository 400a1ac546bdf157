// Warm-pool workers prove who they are with a projected ServiceAccount token (as Istio, Linkerd
// and Vault's Kubernetes auth do): the kubelet writes a short-lived token, meant for the gateway
// only (its audience) and bound to the worker's pod, into a file the runtime reads; the gateway
// asks the apiserver (TokenReview) whose it is, then checks that the pod belongs to the Function
// the worker claims (src/gateway/worker-identities.ts). No per-Function Secret. Pure.

/** The audience of worker tokens: the operator projects tokens for it, the gateway reviews them for it. */
export const WORKER_TOKEN_AUDIENCE = "hearth.dev/gateway";
/** Lifetime the pod's projected token asks for; the kubelet refreshes it at 80 %. */
export const WORKER_TOKEN_EXPIRATION_SECONDS = 3600;
/** The projected volume, where it is mounted in worker containers, and the token's file in it. */
export const WORKER_TOKEN_VOLUME = "hearth-worker-token";
export const WORKER_TOKEN_DIR = "/var/run/hearth/worker-token";
export const WORKER_TOKEN_PATH = "token";
export const WORKER_TOKEN_FILE = `${WORKER_TOKEN_DIR}/${WORKER_TOKEN_PATH}`;

/** The user extras a bound ServiceAccount token carries (Kubernetes ≥ 1.30 for the uid, 1.22 for the name). */
export const POD_NAME_EXTRA = "authentication.kubernetes.io/pod-name";
export const POD_UID_EXTRA = "authentication.kubernetes.io/pod-uid";

/** A JWT (three base64url parts): an HMAC worker token (43 base64url characters) never has a dot. */
export function looksLikeJwt(token: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token);
}

/**
 * The `exp` claim (seconds since the epoch) of a JWT, unverified: read only after the apiserver
 * accepted the very same token, to keep its review no longer than the token lives.
 */
export function jwtExpiry(token: string): number | undefined {
  const payload = token.split(".")[1];
  if (payload === undefined) return undefined;
  try {
    const claims: unknown = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
    const exp = typeof claims === "object" && claims !== null ? (claims as Record<string, unknown>)["exp"] : undefined;
    return typeof exp === "number" && Number.isFinite(exp) ? exp : undefined;
  } catch {
    return undefined;
  }
}

export interface ReviewedUser {
  username: string;
  extra?: Record<string, readonly string[]> | undefined;
}

/** The pod a reviewed token is bound to. */
export interface BoundPod {
  namespace: string;
  serviceAccount: string;
  pod: string;
  /** Absent on apiservers before 1.30 (no pod-uid extra). */
  podUid: string | undefined;
}

/**
 * The pod a TokenReview's user is bound to, or why it is no worker: only ServiceAccount tokens
 * bound to a pod speak for a worker.
 */
export function boundPodOf(user: ReviewedUser): BoundPod | { refused: string } {
  const m = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(user.username);
  if (m === null || m[1] === undefined || m[2] === undefined) return { refused: `${user.username} is not a ServiceAccount` };
  const pod = user.extra?.[POD_NAME_EXTRA]?.[0];
  if (pod === undefined || pod === "") return { refused: `the token of ${user.username} is not bound to a pod (a projected serviceAccountToken volume binds it)` };
  const uid = user.extra?.[POD_UID_EXTRA]?.[0];
  return { namespace: m[1], serviceAccount: m[2], pod, podUid: uid === undefined || uid === "" ? undefined : uid };
}

/** What the gateway reads of the bound pod. */
export interface PodFacts {
  uid: string | undefined;
  labels: Readonly<Record<string, string>>;
  deleting: boolean;
}

/**
 * The Function (`namespace/name`) a bound pod works for, or why not: the pod must exist with the
 * token's uid (not a later pod of the same name), not be going away, and be a warm worker pod
 * (its `hearth.dev/function` label; `hearth.dev/worker-mode: warm`).
 */
export function functionOfPod(bound: BoundPod, pod: PodFacts | undefined, labels: { function: string; workerMode: string }): string | { refused: string } {
  const where = `pod ${bound.namespace}/${bound.pod}`;
  if (pod === undefined) return { refused: `${where}, which the token is bound to, does not exist` };
  if (bound.podUid !== undefined && pod.uid !== bound.podUid) return { refused: `${where} is not the pod the token is bound to (uid ${bound.podUid})` };
  if (pod.deleting) return { refused: `${where} is being deleted` };
  const fn = pod.labels[labels.function];
  if (fn === undefined || fn === "") return { refused: `${where} has no ${labels.function} label: not a worker pod` };
  if (pod.labels[labels.workerMode] !== "warm") return { refused: `${where} is not a warm-pool worker (${labels.workerMode} is not warm)` };
  return `${bound.namespace}/${fn}`;
}
