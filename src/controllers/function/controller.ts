// The Function controller's I/O: gather from informer caches, plan (pure, plan.ts), create the
// pool with POST and change it with server-side apply under one field manager (writeDeployment),
// write status only when it changed, and record
// Events for transitions. Level-triggered: a crash anywhere converges on the next reconcile.
import type { Logger } from "pino";
import { z } from "zod";
import { API_VERSION, GROUP } from "../../api/v1alpha1/common.ts";
import type { FunctionStatus } from "../../api/v1alpha1/index.ts";
import type { ApplyObject, KubeClient } from "../../kube/client.ts";
import { isAlreadyExists } from "../../kube/errors.ts";
import { adoptUpdatedFields } from "../../kube/ownership.ts";
import type { Informer } from "../../kube/informer.ts";
import { fingerprint as fnv, ownerKeys, type Deployment, type Pod, type Unstructured } from "../../kube/objects.ts";
import type { ReconcileResult } from "../../kube/queue.ts";
import { deployments, hearthFunctions, withSchema } from "../../kube/resources.ts";
import type { ControllerContext, Manager, RegisteredController } from "../../operator/manager.ts";
import { randomUUID } from "node:crypto";
import { watch } from "../../operator/manager.ts";
import type { WorkloadConfig } from "../../workload/config.ts";
import { ANNOTATIONS } from "../../workload/labels.ts";
import { autoscalerBoard, functionParses, functionsCache, warmPoolDeployments, warmPoolPods, type AutoscalerBoard } from "../shared.ts";
import { CONTROLLER_NAME, deploymentName, FIELD_MANAGER } from "./names.ts";
import { FunctionMetrics } from "./metrics.ts";
import { podProblem } from "./observe.ts";
import { BY_FUNCTION, functionLabelKey } from "./caches.ts";
import { LegacyWorkerSecrets, poolRolled } from "./legacy-secrets.ts";
import { currentStatus, invalidSpecStatus, planObjects, planStatus, type ParsedFunction, type StatusPlan } from "./plan.ts";
import { autoscalerFingerprint, autoscalerStatusOf, busy, firstStatus, isQuietStart, statusFingerprint, statusTiming, type AutoscalerStatus } from "./status.ts";
import { WriteExpectations } from "../../kube/expectations.ts";
import { FINALIZER_RETRY_MS, FUNCTION_FINALIZER, planFinalizer, type TaskDropper } from "./finalizer.ts";

/** Deployments enqueue the Function that controls them. */
const FUNCTION_OWNER = ownerKeys(GROUP, "Function");
/** How long a write we made is trusted over a cache that does not show it yet. */
const EXPECTATION_TTL_MS = 30_000;
/**
 * Status pacing (status.ts statusTiming): on a busy operator (a mass apply), a new Function's
 * first "workers starting" status waits at most this long for Ready (an idle operator writes it
 * at once; a problem or setup progress is written at once). Generous on purpose: under a mass
 * apply Ready can take minutes (bench/reconcile on a loaded 2-core machine: p50 3.5 min at
 * 1,000 Functions), and each write it saves is one the apiserver would do while busiest.
 */
export const FIRST_STATUS_GRACE_MS = 300_000;
/** Progress alone (replica counts, messages) is written at most this often. */
export const STATUS_PACE_MS = 10_000;
/** The autoscaler applied status under this field manager before it went through this controller. */
const OLD_AUTOSCALER_STATUS_MANAGER = "hearth-autoscaler";
/** A status write's response, read only for who manages status (the cache drops managedFields). */
const statusManagers = hearthFunctions.schema.and(
  z.looseObject({ metadata: z.looseObject({ managedFields: z.array(z.looseObject({ manager: z.string().optional(), subresource: z.string().optional() })).optional() }) }),
);
const functionStatusWrites = withSchema(hearthFunctions, statusManagers);

export interface FunctionControllerOptions {
  manager: Manager;
  config: WorkloadConfig;
  /** The watched namespaces (empty: all): where old worker-token Secrets are looked for (legacy-secrets.ts). */
  namespaces?: readonly string[] | undefined;
  concurrency?: number;
  timeoutMs?: number;
  resyncMs?: number;
  /** The gateway's cancel route: with it, Functions carry the finalizer (finalizer.ts). */
  tasks?: TaskDropper | undefined;
  /** Status pacing; 0 writes every change at once. Defaults FIRST_STATUS_GRACE_MS, STATUS_PACE_MS. */
  statusPacing?: { firstGraceMs: number; paceMs: number } | undefined;
}

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

export { BY_FUNCTION, cachedDeployments, cachedPods, functionLabelKey, POD_DELETION_COST } from "./caches.ts";

export class FunctionController {
  readonly functions: Informer<Unstructured>;
  readonly deployments: Informer<Deployment>;
  readonly pods: Informer<Pod>;
  readonly registered: RegisteredController;
  private readonly client: KubeClient;
  private readonly opts: FunctionControllerOptions;
  /** Writes not yet visible in the caches (src/kube/expectations.ts): the Deployment's hash, the status fingerprint. */
  private readonly appliedDeployments: WriteExpectations;
  /** Worker-token Secrets of an older operator, deleted once their pool has rolled. */
  private readonly legacySecrets: LegacyWorkerSecrets;
  private readonly writtenStatuses: WriteExpectations;
  /** Drift signatures already answered with a forced apply, by Deployment uid. */
  private readonly answeredDrift = new Map<string, string>();
  /** When this process last wrote each Function's status (clock ms), for status pacing. */
  private readonly statusWrittenAt = new Map<string, number>();
  /** New Functions without a first status yet (how busy the operator is: status pacing). */
  private readonly starting = new Set<string>();
  /**
   * Functions whose first status this process wrote as "workers starting" and that have not
   * turned Ready (or shown anything else) since: with `starting`, how many pools start at once.
   * Without them, an operator that keeps up with a mass apply never looks busy (each first
   * status is written at once and leaves `starting`), and writes most Functions' status twice.
   */
  private readonly warming = new Set<string>();
  /** Functions with a paced status write pending (written at a graceful stop). */
  private readonly pendingStatus = new Set<string>();
  /** Set while flushing at a graceful stop: nothing is paced. */
  private flushing = false;
  private readonly board: AutoscalerBoard;
  private readonly metrics: FunctionMetrics;
  /** parseFunction per cached Function object, shared with the autoscaler (shared.ts). */
  private readonly parseFunction: (raw: Unstructured) => ParsedFunction;

  constructor(opts: FunctionControllerOptions) {
    this.opts = opts;
    const m = opts.manager;
    this.client = m.client.as(FIELD_MANAGER);
    this.metrics = new FunctionMetrics(m.registry);
    this.appliedDeployments = new WriteExpectations(m.clock, EXPECTATION_TTL_MS);
    this.legacySecrets = new LegacyWorkerSecrets({ client: this.client, namespaces: opts.namespaces ?? [], log: m.logger.child({ controller: CONTROLLER_NAME }) });
    this.writtenStatuses = new WriteExpectations(m.clock, EXPECTATION_TTL_MS);
    this.functions = functionsCache(m);
    // Deployments unfiltered: a name taken by someone else must be visible in the cache, so
    // that a cache miss means "absent" and creating needs no extra read.
    this.deployments = warmPoolDeployments(m);
    this.pods = warmPoolPods(m);
    this.board = autoscalerBoard(m);
    this.parseFunction = functionParses(m);
    this.registered = m.register({
      name: CONTROLLER_NAME,
      watches: [
        // Our own status writes come back as updates: only spec (generation) and deletion matter.
        watch(this.functions, undefined, {
          update: (a, b) => a.metadata.generation !== b.metadata.generation || a.metadata.deletionTimestamp !== b.metadata.deletionTimestamp || setupView(a) !== setupView(b),
        }),
        // The echo of our own apply (the hash we wrote, no status yet) tells the reconcile that
        // made it nothing new: the apply's response already went into that status.
        // A deletion voids what we expected the cache to show: the next reconcile writes again.
        watch(this.deployments, FUNCTION_OWNER, {
          add: (d) => !this.isEcho(d, this.appliedDeployments, ANNOTATIONS.appliedHash) || d.status.observedGeneration !== undefined,
          update: (a, b) => deploymentView(a) !== deploymentView(b),
          delete: (d) => this.forgetFor(d, this.appliedDeployments),
        }),
        // Ready counts come from the Deployment; pods only matter for the problems they show.
        watch(this.pods, functionLabelKey, { add: (p) => problemOf(p) !== "", update: (a, b) => problemOf(a) !== problemOf(b), delete: (p) => problemOf(p) !== "" }),
      ],
      reconcile: (ctx) => this.reconcile(ctx),
      flush: (signal) => this.flush(signal),
      concurrency: opts.concurrency ?? 32,
      timeoutMs: opts.timeoutMs ?? 60_000,
      resyncMs: opts.resyncMs ?? 600_000,
    });
    // The autoscaler published its part of status: write it, unless the Function's first status
    // is held back (pacing: it will carry it) or status already shows it. (Not "no status in the
    // cache": that may lag a first status just written.)
    this.board.subscribe((key) => {
      const raw = this.functions.get(key);
      if (raw === undefined || this.starting.has(key)) return;
      const current = currentStatus(raw);
      const part = this.board.get(key);
      if (autoscalerFingerprint(part ?? undefined) === autoscalerFingerprint(autoscalerStatusOf(current))) return;
      this.registered.queue.add(key);
    });
  }

  /** The autoscaler's part of status: as published, or (not said yet by this process's autoscaler) as it stands. */
  private autoscalerPart(key: string, previous: FunctionStatus | undefined): AutoscalerStatus | undefined {
    if (!this.board.active) return undefined;
    const part = this.board.get(key);
    return part === undefined ? autoscalerStatusOf(previous) : (part ?? undefined);
  }

  /**
   * A graceful stop (the queue drained): the paced status writes still pending are written now,
   * before the lease is released, so the next leader finds nothing left to write. Bounded by `signal`.
   */
  async flush(signal: AbortSignal): Promise<void> {
    const keys = [...this.pendingStatus];
    if (keys.length === 0) return;
    this.flushing = true;
    const log = this.opts.manager.logger.child({ controller: CONTROLLER_NAME });
    let next = 0;
    let failed = 0;
    const worker = async (): Promise<void> => {
      while (next < keys.length && !signal.aborted) {
        const key = keys[next++];
        if (key === undefined) continue;
        try {
          await this.reconcile({ key, signal, failures: 0, reconcileID: randomUUID(), log: log.child({ key }) });
        } catch {
          failed++;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(16, keys.length) }, worker));
    this.flushing = false;
    log.info({ pending: keys.length, written: keys.length - this.pendingStatus.size, failed }, "flushed paced status writes before stopping");
  }

  /**
   * An informer event that shows exactly the write we are still expecting (keyed by the owning
   * Function): the cache has caught up, so the expectation is dropped — a later change by
   * someone else (a forged token) is then answered at once.
   */
  private isEcho(obj: Deployment, expected: WriteExpectations, annotation: string): boolean {
    const value = obj.metadata.annotations?.[annotation];
    if (value === undefined) return false;
    let echo = false;
    for (const key of FUNCTION_OWNER(obj)) {
      if (!expected.satisfied(key, value)) continue;
      expected.forget(key);
      echo = true;
    }
    return echo;
  }

  /** Drops the expectations of the Function owning `obj` (it was deleted); always enqueues. */
  private forgetFor(obj: Deployment, expected: WriteExpectations): boolean {
    for (const key of FUNCTION_OWNER(obj)) expected.forget(key);
    return true;
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
      this.legacySecrets.forget(key);
      this.writtenStatuses.forget(key);
      this.statusWrittenAt.delete(key);
      this.starting.delete(key);
      this.warming.delete(key);
      this.pendingStatus.delete(key);
      const [namespace = "", name = ""] = key.split("/");
      this.metrics.observe(namespace, name, undefined);
      return raw === undefined ? undefined : this.finalize(raw, ctx);
    }
    if (planFinalizer({ enabled: this.opts.tasks !== undefined, finalizers: raw.metadata.finalizers, deletionTimestamp: undefined, now: 0 }).action === "add") {
      await this.setFinalizer(raw, true, signal);
    }
    const namespace = raw.metadata.namespace ?? "default";
    const previous = currentStatus(raw);
    const parsed = this.parseFunction(raw);
    if (!parsed.ok) {
      return this.writeStatus(key, raw, previous, invalidSpecStatus(raw, parsed.message, previous, this.now(), this.autoscalerPart(key, previous)), signal, log);
    }
    const fn = parsed.fn;
    const name = fn.metadata.name;

    let deployment = this.deployments.getByName(namespace, deploymentName(name));

    const uid = deployment?.metadata.uid;
    const objects = planObjects({
      fn,
      deployment,
      config: this.opts.config,
      fieldManager: FIELD_MANAGER,
      answeredDrift: uid !== undefined ? this.answeredDrift.get(uid) : undefined,
    });

    const desired = objects.desired;
    if (objects.applyDeployment !== undefined && desired !== undefined) {
      const drifted = objects.driftSignature !== "" && uid !== undefined && this.answeredDrift.get(uid) !== objects.driftSignature;
      if (drifted || !this.appliedDeployments.satisfied(key, desired.deploymentHash)) {
        deployment = await this.writeDeployment(deployment, objects.applyDeployment, signal);
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
      } else if (deployment === undefined) {
        // The Deployment a previous reconcile created is not in the cache yet (a Function update,
        // e.g. the autoscaler setting warmPool.replicas, can beat its watch event). Planning status
        // from "no Deployment" would report the starting pool Ready (ScaledToZero) and cost a
        // second write. Its watch events bring this Function back: the add when it already shows
        // a status, else the controller manager's first status update (deploymentView changes).
        return;
      }
    }
    if (objects.deleteDeployment && deployment !== undefined) {
      await this.client.delete(deployments, deploymentName(name), namespace, { signal, ...(deployment.metadata.uid !== undefined ? { uid: deployment.metadata.uid } : {}) });
      this.event(raw, "Normal", "PoolRemoved", "invocation: isolated needs no warm pool; removed its Deployment");
      deployment = undefined;
    }

    await this.dropLegacySecret(key, desired?.deploymentHash, deployment, signal, log);

    const statusPlan = planStatus({ fn, objects, deployment, pods: this.pods.byIndex(BY_FUNCTION, key), previous, now: this.now(), autoscaler: this.autoscalerPart(key, previous) });
    this.metrics.observe(namespace, name, statusPlan.status);
    return this.writeStatus(key, raw, previous, statusPlan, signal, log);
  }

  /**
   * A new pool is created with a plain POST: for the apiserver a create costs less than an apply
   * that creates (src/controllers/README.md). Changes are applied (server-side apply), after the
   * fields the POST recorded under this manager's Update entry are adopted into its Apply entry
   * (src/kube/ownership.ts), so a field the Function no longer sets is removed as before. A
   * create that finds the name taken (the cache lagged) falls back to that same path.
   */
  private async writeDeployment(cached: Deployment | undefined, desired: ApplyObject, signal: AbortSignal): Promise<Deployment> {
    const { name, namespace } = desired.metadata;
    if (cached === undefined) {
      try {
        return await this.client.create(deployments, desired, signal);
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
      }
    }
    if (cached === undefined || cached.updateManagers?.includes(FIELD_MANAGER) === true) {
      await adoptUpdatedFields(this.client, deployments, name, namespace, this.now(), signal);
    }
    return this.client.apply(deployments, desired, { signal });
  }

  /**
   * Upgrade: the worker-token Secret an older operator wrote for this Function goes once the pool
   * runs the current template only (its pods read a projected token instead). Isolated Functions
   * have no pool: theirs goes at once.
   */
  private async dropLegacySecret(key: string, appliedHash: string | undefined, deployment: Deployment | undefined, signal: AbortSignal, log: Logger): Promise<void> {
    await this.legacySecrets.load(signal);
    if (!this.legacySecrets.has(key)) return;
    const isolated = appliedHash === undefined && deployment === undefined;
    if (!isolated && (appliedHash === undefined || !poolRolled(deployment, appliedHash))) return;
    if (await this.legacySecrets.delete(key, signal)) log.info("deleted the worker-token Secret of an older operator (the pool now uses projected ServiceAccount tokens)");
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

  private async writeStatus(key: string, raw: Unstructured, previous: FunctionStatus | undefined, plan: StatusPlan, signal: AbortSignal, log: Logger): Promise<ReconcileResult> {
    if (!isQuietStart(plan.status)) this.warming.delete(key);
    if (!plan.write) {
      this.writtenStatuses.forget(key);
      this.starting.delete(key);
      this.pendingStatus.delete(key);
      return;
    }
    // A short fingerprint: thousands of these are kept, and a collision only delays a write to the next event.
    const fingerprint = fnv(statusFingerprint(plan.status));
    if (this.writtenStatuses.satisfied(key, fingerprint)) {
      this.pendingStatus.delete(key);
      return; // already written; the cache lags
    }
    const pacing = this.flushing ? { firstGraceMs: 0, paceMs: 0 } : (this.opts.statusPacing ?? { firstGraceMs: FIRST_STATUS_GRACE_MS, paceMs: STATUS_PACE_MS });
    const now = this.opts.manager.clock.now();
    if (firstStatus(previous)) this.starting.add(key);
    const created = Date.parse(String(raw.metadata.creationTimestamp ?? ""));
    const timing = statusTiming({
      previous,
      next: plan.status,
      events: plan.events.length,
      now,
      createdAt: Number.isFinite(created) ? created : undefined,
      lastWrittenAt: this.statusWrittenAt.get(key),
      // Without this one; a flush writes everything.
      busy: !this.flushing && busy(this.starting.size - 1 + this.warming.size, this.registered.queue.depth),
      ...pacing,
    });
    if (timing.write === "later") {
      this.pendingStatus.add(key);
      return { requeueAfterMs: timing.afterMs };
    }
    const target = { name: raw.metadata.name, namespace: raw.metadata.namespace };
    const written = await this.client.applyStatus(functionStatusWrites, target, plan.status satisfies FunctionStatus, { signal });
    this.writtenStatuses.wrote(key, fingerprint);
    this.statusWrittenAt.set(key, now);
    if (firstStatus(previous) && isQuietStart(plan.status)) this.warming.add(key);
    this.starting.delete(key);
    this.pendingStatus.delete(key);
    for (const e of plan.events) this.event(raw, e.type, e.reason, e.message);
    if (written.metadata.managedFields?.some((f) => f.manager === OLD_AUTOSCALER_STATUS_MANAGER && f.subresource === "status") === true) {
      // Upgrade: the autoscaler once applied status under its own field manager. Fields only it
      // still owns (ones this write left out) would stay forever; an empty apply under that
      // manager releases them (fields this write carries stay: this manager owns them now).
      // Once; if it fails, the next status write tries again.
      try {
        await this.client.applyStatus(hearthFunctions, target, undefined, { signal, fieldManager: OLD_AUTOSCALER_STATUS_MANAGER });
        log.info("released the status fields the autoscaler's old field manager held");
      } catch (err) {
        log.warn({ err: err instanceof Error ? err.message : String(err) }, "cannot release the autoscaler's old status fields yet");
      }
    }
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
