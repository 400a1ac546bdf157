// Upgrade: operators before the projected-token design gave each Function a worker-token Secret
// (`<function>-worker`, owned by the Function, read by its pods through secretKeyRef). Pods of
// the new template no longer read it, but pods of the old ReplicaSet do until the rollout ends —
// deleting it earlier would leave a restarting old pod with CreateContainerConfigError. So: one
// metadata-only list of Hearth's Secrets when the controller starts (no Secret value reaches the
// operator; no watch, no cache kept beyond the few names found), then each such Secret is deleted
// by the first reconcile that sees its Function's Deployment fully rolled to the current
// template. Without old Secrets this costs one list per watched namespace, once.
import type { Logger } from "pino";
import { z } from "zod";
import type { KubeClient } from "../../kube/client.ts";
import { toStatus } from "../../kube/errors.ts";
import { meta, type Deployment } from "../../kube/objects.ts";
import { resourceType, secrets } from "../../kube/resources.ts";
import { ANNOTATIONS, LABELS, MANAGED_BY } from "../../workload/labels.ts";

/** Their name, as older operators chose it. */
export function legacyWorkerSecretName(functionName: string): string {
  return `${functionName}-worker`;
}

/** The token-hash annotation older operators put on those Secrets. */
const LEGACY_TOKEN_HASH = ANNOTATIONS.tokenHash;

const legacySecrets = resourceType({
  ...secrets,
  metadataOnly: true,
  schema: z.object({ metadata: meta }).transform((s) => ({ metadata: s.metadata })),
});
type SecretMeta = z.output<typeof legacySecrets.schema>;

/** The Function (`namespace/name`) whose old worker Secret this is, or undefined. Pure. */
export function legacyWorkerSecretOf(s: SecretMeta): { key: string; name: string; uid: string | undefined } | undefined {
  const m = s.metadata;
  if (m.namespace === undefined || m.labels?.[LABELS.managedBy] !== MANAGED_BY || m.annotations?.[LEGACY_TOKEN_HASH] === undefined) return undefined;
  const owner = m.ownerReferences?.find((r) => r.controller === true && r.kind === "Function" && r.apiVersion.startsWith("hearth.dev/"));
  if (owner === undefined || m.name !== legacyWorkerSecretName(owner.name)) return undefined;
  return { key: `${m.namespace}/${owner.name}`, name: m.name, uid: m.uid };
}

/**
 * Whether the pool runs the current template only: the Deployment carries the hash just applied,
 * the Deployment controller has seen that generation, and every replica is an updated one. Pure.
 */
export function poolRolled(d: Deployment | undefined, appliedHash: string): boolean {
  if (d === undefined) return false;
  if (d.metadata.annotations?.[ANNOTATIONS.appliedHash] !== appliedHash) return false;
  const st = d.status;
  const generation = d.metadata.generation;
  if (generation === undefined || (st.observedGeneration ?? 0) < generation) return false;
  return (st.updatedReplicas ?? 0) === (st.replicas ?? 0);
}

export interface LegacySecretsOptions {
  client: KubeClient;
  /** The watched namespaces; empty: all. */
  namespaces: readonly string[];
  log: Logger;
}

export class LegacyWorkerSecrets {
  private readonly o: LegacySecretsOptions;
  /** Function key → its old Secret. */
  private readonly pending = new Map<string, { name: string; uid: string | undefined }>();
  private loaded: Promise<void> | undefined;

  constructor(opts: LegacySecretsOptions) {
    this.o = opts;
  }

  get size(): number {
    return this.pending.size;
  }

  /** Lists the old Secrets once (again after a failure, at the next call). */
  load(signal?: AbortSignal): Promise<void> {
    this.loaded ??= this.list(signal).catch((err: unknown) => {
      this.loaded = undefined;
      this.o.log.warn({ err: err instanceof Error ? err.message : String(err) }, "cannot list old worker-token Secrets yet; retrying at the next reconcile");
    });
    return this.loaded;
  }

  private async list(signal?: AbortSignal): Promise<void> {
    const scopes = this.o.namespaces.length > 0 ? this.o.namespaces : [undefined];
    for (const namespace of scopes) {
      const res = await this.o.client.list(legacySecrets, { namespace, labelSelector: `${LABELS.managedBy}=${MANAGED_BY}`, signal });
      for (const s of res.items) {
        const found = legacyWorkerSecretOf(s);
        if (found !== undefined) this.pending.set(found.key, { name: found.name, uid: found.uid });
      }
    }
    if (this.pending.size > 0) this.o.log.info({ secrets: this.pending.size }, "found worker-token Secrets of an older operator: each goes once its pool has rolled to projected ServiceAccount tokens");
  }

  /** Whether `key` still has an old Secret to delete. */
  has(key: string): boolean {
    return this.pending.has(key);
  }

  /** Forget `key` (its Function is gone: the garbage collector takes the Secret with it). */
  forget(key: string): void {
    this.pending.delete(key);
  }

  /** Deletes `key`'s old Secret (uid precondition: never a Secret someone made since). */
  async delete(key: string, signal?: AbortSignal): Promise<boolean> {
    const s = this.pending.get(key);
    if (s === undefined) return false;
    const [namespace = ""] = key.split("/");
    try {
      await this.o.client.delete(legacySecrets, s.name, namespace, { ...(signal !== undefined ? { signal } : {}), ...(s.uid !== undefined ? { uid: s.uid } : {}) });
    } catch (err) {
      // 409: the uid precondition failed (not our Secret any more): leave it alone.
      if (toStatus(err).code !== 409) throw err;
    }
    this.pending.delete(key);
    return true;
  }
}
