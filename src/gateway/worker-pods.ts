// Warm worker pods that are gone, for the worker identities (worker-identities.ts): a worker's
// projected ServiceAccount token is bound to its pod, and the apiserver refuses it once that pod
// is deleted, but the gateway caches its answer for up to 10 minutes. A watch of warm worker pods
// (label-selected, metadata only) ends that answer when the pod's DELETED event arrives, so a
// token copied out of a pod stops working with the pod. A pod being deleted (terminating) is
// still served: its worker drains and reports its tasks' results with the same token.
import type { Logger } from "pino";
import { z } from "zod";
import type { Clock } from "../kube/clock.ts";
import type { KubeClient } from "../kube/client.ts";
import { Informer } from "../kube/informer.ts";
import { podFromProtobuf } from "../kube/pod-protobuf.ts";
import { pods, withSchema } from "../kube/resources.ts";
import { LABELS } from "../workload/labels.ts";

/** A pod that was deleted: namespace, name and (when known) uid. */
export interface GonePod {
  namespace: string;
  name: string;
  uid: string | undefined;
}

/** Where deletions of warm worker pods come from (a watch; tests call the listener themselves). */
export interface PodDeletions {
  onGone(listener: (pod: GonePod) => void): void;
  start(): void;
  stop(): void;
}

/** A warm worker pod as the gateway keeps it: its identity only (a watch of thousands of pods holds ~200 bytes each). */
interface PodIdentity {
  metadata: { name: string; namespace?: string | undefined; uid?: string | undefined; resourceVersion?: string | undefined };
}

const podIdentity = z
  .object({ metadata: z.object({ name: z.string(), namespace: z.string().optional(), uid: z.string().optional(), resourceVersion: z.string().optional() }) })
  .transform((p): PodIdentity => ({ metadata: p.metadata }));

// Watched in protobuf, as the operator's pods are (src/kube/protobuf.ts): a JSON watch of pods
// would make the apiserver encode every pod event in JSON once more for this client.
const workerPods = withSchema(pods, podIdentity, {
  parse: (raw) => {
    const res = podIdentity.safeParse(raw);
    return res.success ? { ok: true, value: res.data } : { ok: false, error: z.prettifyError(res.error) };
  },
  protobuf: podFromProtobuf,
});

/** The label selector of warm worker pods (what the operator puts on a warm pool's pod template). */
export const WARM_WORKER_SELECTOR = `${LABELS.function},${LABELS.workerMode}=warm`;

export class WorkerPodWatch implements PodDeletions {
  private readonly informer: Informer<PodIdentity>;
  private readonly listeners: ((pod: GonePod) => void)[] = [];

  constructor(opts: { client: KubeClient; clock: Clock; logger: Logger; namespaces?: readonly string[] | undefined }) {
    this.informer = new Informer({
      client: opts.client,
      resource: workerPods,
      clock: opts.clock,
      logger: opts.logger,
      namespaces: opts.namespaces,
      labelSelector: WARM_WORKER_SELECTOR,
      name: "gateway-worker-pods",
    });
    this.informer.on({
      delete: (p) => {
        const gone = { namespace: p.metadata.namespace ?? "", name: p.metadata.name, uid: p.metadata.uid };
        for (const l of this.listeners) l(gone);
      },
    });
  }

  onGone(listener: (pod: GonePod) => void): void {
    this.listeners.push(listener);
  }

  start(): void {
    this.informer.start();
  }

  stop(): void {
    void this.informer.stop();
  }
}
