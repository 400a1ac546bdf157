// The Function controller's I/O: gather from informer caches, plan (pure, plan.ts), apply with
// server-side apply under one field manager, write status only when it changed, and record
// Events for transitions. Level-triggered: a crash anywhere converges on the next reconcile.
import type { Logger } from "pino";
import { z } from "zod";
import { API_VERSION, GROUP } from "../../api/v1alpha1/common.ts";
import type { FunctionStatus } from "../../api/v1alpha1/index.ts";
import type { KubeClient } from "../../kube/client.ts";
import type { Informer } from "../../kube/informer.ts";
import { deployment as deploymentSchema, fingerprint as fnv, meta, ownerKeys, pod as podSchema, type Deployment, type Pod, type Secret, type Unstructured } from "../../kube/objects.ts";
import type { ReconcileResult } from "../../kube/queue.ts";
import { deployments, hearthFunctions, pods, resourceType, secrets } from "../../kube/resources.ts";
import type { ControllerContext, Manager, RegisteredController } from "../../operator/manager.ts";
import { watch } from "../../operator/manager.ts";
import type { WorkloadConfig } from "../../workload/config.ts";
import { ANNOTATIONS, LABELS, MANAGED_BY } from "../../workload/labels.ts";
import { WORKER_TOKEN_KEY } from "../../workload/render.ts";
import { functionsCache } from "../shared.ts";
import { CONTROLLER_NAME, deploymentName, FIELD_MANAGER, workerSecretName } from "./names.ts";
import { FunctionMetrics } from "./metrics.ts";
import { podProblem } from "./observe.ts";
import { currentStatus, invalidSpecStatus, parseFunction, planObjects, planStatus, type StatusPlan } from "./plan.ts";
import { statusFingerprint } from "./status.ts";
import { WriteExpectations } from "../../kube/expectations.ts";
import { FINALIZER_RETRY_MS, FUNCTION_FINALIZER, planFinalizer, type TaskDropper } from "./finalizer.ts";

export const BY_FUNCTION = "function";
export const POD_DELETION_COST = "controller.kubernetes.io/pod-deletion-cost";
/** Deployments and Secrets enqueue the Function that controls them. */
const FUNCTION_OWNER = ownerKeys(GROUP, "Function");
/** How long a write we made is trusted over a cache that does not show it yet. */
const EXPECTATION_TTL_MS = 30_000;

export interface FunctionControllerOptions {
  manager: Manager;
  config: WorkloadConfig;
  signingKey: string;
  concurrency?: number;
  timeoutMs?: number;
  resyncMs?: number;
  /** The gateway's cancel route: with it, Functions carry the finalizer (finalizer.ts). */
  tasks?: TaskDropper | undefined;
}

/** Whether a managedFields entry claims a Secret's `data.token`. */
function claimsToken(entry: { fieldsV1?: unknown }): boolean {
  const f = entry.fieldsV1;
  if (typeof f !== "object" || f === null || !("f:data" in f)) return false;
  const data = (f as Record<string, unknown>)["f:data"];
  return typeof data === "object" && data !== null && `f:${WORKER_TOKEN_KEY}` in data;
}

/**
 * Secrets of the watched namespaces, METADATA ONLY (PartialObjectMetadata list/watch): the cache
 * must know every name (to never take over someone else's Secret) but no Secret's value ever
 * reaches the operator. Ours carry a token-hash annotation; when another field manager has
 * written our token (a `kubectl edit`), the hash is dropped from the cached view, so the plan
 * re-applies the right token.
 */
export const cachedSecrets = resourceType({
  ...secrets,
  metadataOnly: true,
  schema: z
    .object({ metadata: meta.extend({ managedFields: z.array(z.looseObject({ manager: z.string().optional(), fieldsV1: z.unknown().optional() })).optional() }) })
    .transform((s): Secret => {
      const { labels, annotations, creationTimestamp: _c, managedFields, ...metadata } = s.metadata;
      const ours = labels?.[LABELS.managedBy] === MANAGED_BY;
      const hash = ours ? annotations?.[ANNOTATIONS.tokenHash] : undefined;
      const foreign = (managedFields ?? []).some((e) => e.manager !== FIELD_MANAGER && claimsToken(e));
      return hash !== undefined && !foreign ? { metadata: { ...metadata, annotations: { [ANNOTATIONS.tokenHash]: hash } } } : { metadata };
    }),
});

/**
 * Pods as this controller needs them: the Function label, deletion, and what podProblem reads.
 * Thousands are cached, so everything else (other labels, annotations, healthy conditions,
 * timestamps) is dropped on the way in.
 */
export const cachedPods = resourceType({
  ...pods,
  schema: podSchema.transform((p): Pod => {
    const m = p.metadata;
    const fn = m.labels?.[LABELS.function];
    const metadata: Pod["metadata"] = { name: m.name };
    if (m.namespace !== undefined) metadata.namespace = m.namespace;
    if (m.resourceVersion !== undefined) metadata.resourceVersion = m.resourceVersion;
    if (m.deletionTimestamp !== undefined) metadata.deletionTimestamp = m.deletionTimestamp;
    if (fn !== undefined) metadata.labels = { [LABELS.function]: fn };
    // The autoscaler marks idle workers for scale-down; it reads back what it set.
    const cost = m.annotations?.[POD_DELETION_COST];
    if (cost !== undefined) metadata.annotations = { [POD_DELETION_COST]: cost };
    const status: Pod["status"] = {};
    if (p.status.phase !== undefined) status.phase = p.status.phase;
    const unscheduled = p.status.conditions?.filter((c) => c.type === "PodScheduled" && c.status === "False");
    if (unscheduled !== undefined && unscheduled.length > 0) status.conditions = unscheduled;
    const slim = (cs: Pod["status"]["containerStatuses"]): Pod["status"]["containerStatuses"] =>
      cs?.map((c) => {
        const { running: _running, ...state } = c.state ?? {};
        // The image only appears in an image-pull message.
        const { image, ...rest } = c;
        return state.waiting !== undefined && image !== undefined ? { ...rest, image, state } : { ...rest, state };
      });
    if (p.status.initContainerStatuses !== undefined) status.initContainerStatuses = slim(p.status.initContainerStatuses);
    if (p.status.containerStatuses !== undefined) status.containerStatuses = slim(p.status.containerStatuses);
    return { metadata, spec: {}, status };
  }),
});

/** Deployments without labels and annotations other than ours (the rest is never read). */
export const cachedDeployments = resourceType({
  ...deployments,
  schema: deploymentSchema.transform((d): Deployment => {
    const { labels: _labels, annotations, creationTimestamp: _created, ownerReferences, ...rest } = d.metadata;
    const metadata: Deployment["metadata"] = rest;
    const hash = annotations?.[ANNOTATIONS.appliedHash];
    const owner = ownerReferences?.filter((r) => r.controller === true);
    if (owner !== undefined && owner.length > 0) metadata.ownerReferences = owner;
    if (hash !== undefined) metadata.annotations = { [ANNOTATIONS.appliedHash]: hash };
    // Only two conditions are ever read: a failed rollout and failed pod creation.
    const { conditions: all, ...status } = d.status;
    const conditions = all?.filter((c) => (c.type === "ReplicaFailure" && c.status === "True") || c.reason === "ProgressDeadlineExceeded");
    return { ...d, metadata, status: conditions !== undefined && conditions.length > 0 ? { ...status, conditions } : status };
  }),
});

/** What a Deployment event must change to matter to the status or the plan. */
function deploymentView(d: Deployment): string {
  const st = d.status;
  return JSON.stringify([
    d.metadata.uid,
    d.metadata.generation,
    d.metadata.deletionTimestamp,
    d.metadata.annotations?.[ANNOTATIONS.appliedHash],
    d.metadata.ownerReferences,
    d.spec.replicas,
    d.replicasManagers,
    d.specManagers,
    [st.observedGeneration, st.replicas, st.updatedReplicas, st.readyReplicas, st.availableReplicas],
    st.conditions?.map((c) => [c.type, c.status, c.reason]),
  ]);
}

/** status.setup (written by the setup-status controller) feeds the conditions: SetupTimeout, "loading: 40%". */
function setupView(f: Unstructured): string {
  const s = f["status"];
  const setup = typeof s === "object" && s !== null ? (s as Record<string, unknown>)["setup"] : undefined;
  if (typeof setup !== "object" || setup === null) return "";
  const v = setup as Record<string, unknown>;
  return JSON.stringify([v["message"], v["lastFailure"]]);
}

function problemOf(p: Pod): string {
  const problem = p.metadata.deletionTimestamp === undefined ? podProblem(p) : undefined;
  return problem === undefined ? "" : `${problem.reason}: ${problem.message}`;
}

export function functionLabelKey(o: { metadata: { namespace?: string | undefined; labels?: Record<string, string> | undefined } }): string[] {
  const fn = o.metadata.labels?.[LABELS.function];
  return fn === undefined || o.metadata.namespace === undefined ? [] : [`${o.metadata.namespace}/${fn}`];
}

export class FunctionController {
  readonly functions: Informer<Unstructured>;
  readonly deployments: Informer<Deployment>;
  readonly secrets: Informer<Secret>;
  readonly pods: Informer<Pod>;
  readonly registered: RegisteredController;
  private readonly client: KubeClient;
  private readonly opts: FunctionControllerOptions;
  /** Writes not yet visible in the caches (src/kube/expectations.ts): the Deployment's hash, the status fingerprint. */
  private readonly appliedDeployments: WriteExpectations;
  private readonly writtenStatuses: WriteExpectations;
  /** Drift signatures already answered with a forced apply, by Deployment uid. */
  private readonly answeredDrift = new Map<string, string>();
  private readonly metrics: FunctionMetrics;

  constructor(opts: FunctionControllerOptions) {
    this.opts = opts;
    const m = opts.manager;
    this.client = m.client.as(FIELD_MANAGER);
    this.metrics = new FunctionMetrics(m.registry);
    this.appliedDeployments = new WriteExpectations(m.clock, EXPECTATION_TTL_MS);
    this.writtenStatuses = new WriteExpectations(m.clock, EXPECTATION_TTL_MS);
    this.functions = functionsCache(m);
    // Deployments and Secrets unfiltered: a name taken by someone else must be visible in the
    // cache, so that a cache miss means "absent" and creating needs no extra read.
    this.deployments = m.informer(cachedDeployments, { name: "function-deployments" });
    this.secrets = m.informer(cachedSecrets, { name: "function-secrets" });
    this.pods = m.informer(cachedPods, {
      name: "function-pods",
      labelSelector: `${LABELS.function},${LABELS.workerMode}=warm`,
      indexers: { [BY_FUNCTION]: functionLabelKey },
    });
    this.registered = m.register({
      name: CONTROLLER_NAME,
      watches: [
        // Our own status writes come back as updates: only spec (generation) and deletion matter.
        watch(this.functions, undefined, {
          update: (a, b) => a.metadata.generation !== b.metadata.generation || a.metadata.deletionTimestamp !== b.metadata.deletionTimestamp || setupView(a) !== setupView(b),
        }),
        watch(this.deployments, FUNCTION_OWNER, { update: (a, b) => deploymentView(a) !== deploymentView(b) }),
        watch(this.secrets, FUNCTION_OWNER, {
          update: (a, b) => a.metadata.annotations?.[ANNOTATIONS.tokenHash] !== b.metadata.annotations?.[ANNOTATIONS.tokenHash] || JSON.stringify(a.metadata.ownerReferences) !== JSON.stringify(b.metadata.ownerReferences),
        }),
        // Ready counts come from the Deployment; pods only matter for the problems they show.
        watch(this.pods, functionLabelKey, { add: (p) => problemOf(p) !== "", update: (a, b) => problemOf(a) !== problemOf(b), delete: (p) => problemOf(p) !== "" }),
      ],
      reconcile: (ctx) => this.reconcile(ctx),
      concurrency: opts.concurrency ?? 32,
      timeoutMs: opts.timeoutMs ?? 60_000,
      resyncMs: opts.resyncMs ?? 600_000,
    });
  }

  private now(): string {
    return new Date(this.opts.manager.clock.now()).toISOString().replace(/\.\d{3}Z$/, "Z");
  }

  async reconcile(ctx: ControllerContext): Promise<ReconcileResult> {
    const { key, signal, log } = ctx;
    const raw = this.functions.get(key);
    if (raw === undefined || raw.metadata.deletionTimestamp !== undefined) {
      // Deleted: the garbage collector removes what we own (ownerReferences).
      this.appliedDeployments.forget(key);
      this.writtenStatuses.forget(key);
      const [namespace = "", name = ""] = key.split("/");
      this.metrics.observe(namespace, name, undefined);
      return raw === undefined ? undefined : this.finalize(raw, ctx);
    }
    if (planFinalizer({ enabled: this.opts.tasks !== undefined, finalizers: raw.metadata.finalizers, deletionTimestamp: undefined, now: 0 }).action === "add") {
      await this.setFinalizer(raw, true, signal);
    }
    const namespace = raw.metadata.namespace ?? "default";
    const previous = currentStatus(raw);
    const parsed = parseFunction(raw);
    if (!parsed.ok) {
      await this.writeStatus(key, raw, invalidSpecStatus(raw, parsed.message, previous, this.now()), signal, log);
      return;
    }
    const fn = parsed.fn;
    const name = fn.metadata.name;

    let deployment = this.deployments.getByName(namespace, deploymentName(name));
    const secret = this.secrets.getByName(namespace, workerSecretName(name));

    const uid = deployment?.metadata.uid;
    const objects = planObjects({
      fn,
      deployment,
      secret,
      config: this.opts.config,
      signingKey: this.opts.signingKey,
      fieldManager: FIELD_MANAGER,
      answeredDrift: uid !== undefined ? this.answeredDrift.get(uid) : undefined,
    });

    if (objects.applySecret !== undefined) {
      await this.client.apply(secrets, objects.applySecret, { signal });
      log.debug("applied worker Secret");
    }
    const desired = objects.desired;
    if (objects.applyDeployment !== undefined && desired !== undefined) {
      const drifted = objects.driftSignature !== "" && uid !== undefined && this.answeredDrift.get(uid) !== objects.driftSignature;
      if (drifted || !this.appliedDeployments.satisfied(key, desired.deploymentHash)) {
        deployment = await this.client.apply(deployments, objects.applyDeployment, { signal });
        this.appliedDeployments.wrote(key, desired.deploymentHash);
        if (deployment.metadata.uid !== undefined) {
          // Our forced apply took back what we own; whatever foreign fields remain are not ours to fight over.
          const after = Object.entries(deployment.specManagers)
            .filter(([mgr]) => mgr !== FIELD_MANAGER)
            .map(([mgr, fp]) => `${mgr}:${fp}`)
            .sort()
            .join(",");
          if (after !== "") this.answeredDrift.set(deployment.metadata.uid, after);
          else this.answeredDrift.delete(deployment.metadata.uid);
        }
        log.debug({ configHash: desired.configHash }, "applied warm pool Deployment");
      }
    }
    if (objects.deleteDeployment && deployment !== undefined) {
      await this.client.delete(deployments, deploymentName(name), namespace, { signal, ...(deployment.metadata.uid !== undefined ? { uid: deployment.metadata.uid } : {}) });
      this.event(raw, "Normal", "PoolRemoved", "invocation: isolated needs no warm pool; removed its Deployment");
      deployment = undefined;
    }

    const statusPlan = planStatus({ fn, objects, deployment, pods: this.pods.byIndex(BY_FUNCTION, key), previous, now: this.now() });
    this.metrics.observe(namespace, name, statusPlan.status);
    await this.writeStatus(key, raw, statusPlan, signal, log);
  }

  /** A deleted Function: its gateway tasks end first, then our finalizer goes. */
  private async finalize(raw: Unstructured, ctx: ControllerContext): Promise<ReconcileResult> {
    const plan = planFinalizer({ enabled: this.opts.tasks !== undefined, finalizers: raw.metadata.finalizers, deletionTimestamp: raw.metadata.deletionTimestamp, now: this.opts.manager.clock.now() });
    if (plan.action === "none" || plan.action === "add") return;
    const namespace = raw.metadata.namespace ?? "default";
    if (plan.action === "drop") {
      const tasks = this.opts.tasks;
      if (tasks === undefined) {
        // The finalizer of an operator that had a gateway: nothing to ask now.
        await this.setFinalizer(raw, false, ctx.signal);
        return;
      }
      try {
        const n = await tasks.dropTasks(namespace, raw.metadata.name, ctx.signal);
        if (n > 0) this.event(raw, "Normal", "CallsCancelled", `the Function is being deleted: the gateway cancelled its ${n} unfinished call${n === 1 ? "" : "s"}`);
      } catch (err) {
        ctx.log.info({ err: err instanceof Error ? err.message : String(err) }, "gateway cannot cancel the deleted Function's calls yet; retrying");
        return { requeueAfterMs: FINALIZER_RETRY_MS };
      }
    } else {
      this.event(raw, "Warning", "GatewayUnreachable", "the gateway could not be reached to cancel the deleted Function's unfinished calls; they stay queued until their deadline or a cancel");
    }
    await this.setFinalizer(raw, false, ctx.signal);
  }

  /** Adds or releases our finalizer with server-side apply: other finalizers are not touched. */
  private async setFinalizer(raw: Unstructured, present: boolean, signal: AbortSignal): Promise<void> {
    const metadata = { name: raw.metadata.name, namespace: raw.metadata.namespace ?? "default", ...(present ? { finalizers: [FUNCTION_FINALIZER] } : {}) };
    await this.client.apply(hearthFunctions, { apiVersion: API_VERSION, kind: "Function", metadata }, { signal });
  }

  private async writeStatus(key: string, raw: Unstructured, plan: StatusPlan, signal: AbortSignal, log: Logger): Promise<void> {
    if (!plan.write) {
      this.writtenStatuses.forget(key);
      return;
    }
    // A short fingerprint: thousands of these are kept, and a collision only delays a write to the next event.
    const fingerprint = fnv(statusFingerprint(plan.status));
    if (this.writtenStatuses.satisfied(key, fingerprint)) return; // already written; the cache lags
    await this.client.applyStatus(hearthFunctions, { name: raw.metadata.name, namespace: raw.metadata.namespace }, plan.status satisfies FunctionStatus, { signal });
    this.writtenStatuses.wrote(key, fingerprint);
    for (const e of plan.events) this.event(raw, e.type, e.reason, e.message);
    log.debug({ ready: plan.status.conditions?.find((c) => c.type === "Ready")?.status }, "status written");
  }

  private event(raw: Unstructured, type: "Normal" | "Warning", reason: string, message: string): void {
    this.opts.manager.recorder.record(
      { apiVersion: API_VERSION, kind: "Function", name: raw.metadata.name, namespace: raw.metadata.namespace ?? "default", uid: raw.metadata.uid },
      type,
      reason,
      message,
    );
  }
}
