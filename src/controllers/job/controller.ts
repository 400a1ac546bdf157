// The Job controller's I/O: gather from informer caches (plus the few live reads the plan asks
// for), hand everything to planJob, apply what it decided. Level-triggered: every reconcile
// starts from the current state, so a crash at any line converges on the next run; the batch
// Job's deterministic name is what keeps a retried reconcile from starting the work twice.
import type { GatewayTaskView, WarmInvoker } from "./gateway.ts";
import type { Logger } from "pino";
import {
  API_VERSION,
  hearthFunction,
  hearthJob,
  jobStatus,
  type HearthFunction,
  type HearthJob,
  type JobStatus,
} from "../../api/v1alpha1/index.ts";
import type { ApplyObject, KubeClient } from "../../kube/client.ts";
import type { Clock } from "../../kube/clock.ts";
import { isAlreadyExists } from "../../kube/errors.ts";
import type { EventRecorder } from "../../kube/events.ts";
import type { Informer } from "../../kube/informer.ts";
import { keyOf, splitKey, type Unstructured } from "../../kube/objects.ts";
import { TerminalError, type ReconcileResult, type WorkQueue } from "../../kube/queue.ts";
import { hearthFunctions, hearthJobs, resourceType, secrets, untyped } from "../../kube/resources.ts";
import { watch, type ControllerContext, type ControllerRegistration, type Manager } from "../../operator/manager.ts";
import type { WorkloadConfig } from "../../workload/config.ts";
import { taskToken } from "../../auth/worker-token.ts";
import { functionsCache } from "../shared.ts";
import { batchJobName, LABEL_JOB } from "./batch-job.ts";
import { DEFAULT_JOB_CONTROLLER_CONFIG, isFinished, planJob, type InputCheck, type JobControllerConfig, type JobPlan } from "./plan.ts";
import { batchJobView, podView, type BatchJobView, type PodView } from "./views.ts";

export const FIELD_MANAGER = "hearth-job-controller";
export const CONTROLLER_NAME = "job";

/** batch Jobs and their pods, parsed down to what the plan reads (small caches). */
export const batchJobsResource = resourceType({ group: "batch", version: "v1", kind: "Job", plural: "jobs", namespaced: true, schema: batchJobView });
export const jobPodsResource = resourceType({ group: "", version: "v1", kind: "Pod", plural: "pods", namespaced: true, schema: podView });
export const configMapsResource = untyped({ group: "", version: "v1", kind: "ConfigMap", plural: "configmaps", namespaced: true });

const BY_JOB = "job";
const BY_FUNCTION = "function";

export interface JobControllerOptions {
  /** Pod rendering config (gateway, runtimes, GPU sharing): the same the Function controller renders with. */
  workload: WorkloadConfig;
  config?: Partial<JobControllerConfig>;
  /** The Function informer, shared with the Function controller; absent: the manager gets one more. */
  functions?: Informer<Unstructured>;
  /** Reconciles in parallel. Default 16: a reconcile mostly waits on the apiserver. */
  concurrency?: number;
  timeoutMs?: number;
  resyncMs?: number;
  /** Runs warm Jobs; absent: warm Jobs wait with GatewayUnavailable. */
  warm?: WarmInvoker;
  /** Signs the task tokens of isolated calls (spec.taskId); absent: their pods get none (open worker API). */
  signingKey?: string;
}

const NO_GATEWAY: GatewayTaskView = { state: "unavailable", message: "this operator has no gateway configured for warm Jobs; use invocation: isolated to run it as a batch Job" };

function functionKeyOf(raw: Unstructured): string[] {
  const ref: unknown = (raw["spec"] as { functionRef?: { name?: unknown } } | undefined)?.functionRef?.name;
  return typeof ref === "string" ? [`${raw.metadata.namespace ?? ""}/${ref}`] : [];
}

/** The Hearth Job a batch Job or pod belongs to, by the label both carry. */
function labelledJobKey(o: { metadata: { namespace?: string | undefined; labels?: Record<string, string> | undefined } }): string[] {
  const j = o.metadata.labels?.[LABEL_JOB];
  return j === undefined ? [] : [`${o.metadata.namespace ?? ""}/${j}`];
}

function finishedRaw(raw: Unstructured): boolean {
  const s = jobStatus.safeParse(raw["status"] ?? {});
  return s.success && isFinished(s.data);
}

/** A rendered object as the client's apply/create wants it (name required). */
function toApplyObject(obj: { metadata?: { name?: string | undefined; namespace?: string | undefined } | undefined }): ApplyObject {
  const name = obj.metadata?.name;
  if (name === undefined || name === "") throw new TerminalError("rendered object has no name");
  const copy = JSON.parse(JSON.stringify(obj)) as ApplyObject;
  copy.metadata = { ...copy.metadata, name };
  return copy;
}

/** How soon a Job whose final status the cache does not show yet is looked at again. */
const FINISHED_RECHECK_MS = 1000;

export class JobController {
  readonly jobs: Informer<Unstructured>;
  readonly functions: Informer<Unstructured>;
  readonly batchJobs: Informer<BatchJobView>;
  readonly pods: Informer<PodView>;
  readonly queue: WorkQueue;
  private readonly client: KubeClient;
  private readonly clock: Clock;
  private readonly recorder: EventRecorder;
  private readonly workload: WorkloadConfig;
  private readonly config: JobControllerConfig;
  private readonly log: Logger;
  /**
   * Last states of deleted pods, by Hearth Job key, until the status records them. An evicted
   * pod goes Failed and is removed within milliseconds (the Job controller drops its finalizer
   * at once), often before a reconcile reads the cache: without this the attempt it made would
   * vanish. After an operator restart they are gone, and such attempts show as Lost.
   */
  private readonly tombstones = new Map<string, Map<string, PodView>>();
  /** Until when (clock ms) each Job's progress-only status writes are held back. */
  private readonly holdStatusUntil = new Map<string, number>();
  /** Jobs whose final status was written but not yet seen in the cache: nothing to do until it is. */
  private readonly finishedWritten = new Set<string>();

  private readonly warm: WarmInvoker | undefined;
  private readonly signingKey: string | undefined;
  /**
   * Events already recorded for a running Job. A reconcile that plans from a cache not yet showing
   * our last status write sees the same transition again; it must not tell the user twice.
   */
  private readonly emittedEvents = new Map<string, Set<string>>();

  constructor(manager: Manager, opts: JobControllerOptions) {
    this.client = manager.client.as(FIELD_MANAGER);
    this.clock = manager.clock;
    this.recorder = manager.recorder;
    this.workload = opts.workload;
    this.config = { ...DEFAULT_JOB_CONTROLLER_CONFIG, ...opts.config };
    this.warm = opts.warm;
    this.signingKey = opts.signingKey;
    this.log = manager.logger.child({ controller: CONTROLLER_NAME });

    this.jobs = manager.informer(hearthJobs, { name: "hearth-jobs", client: this.client, indexers: { [BY_FUNCTION]: functionKeyOf } });
    this.functions = opts.functions ?? functionsCache(manager);
    // Only objects this controller made carry the label: the caches never hold other batch Jobs or pods.
    this.batchJobs = manager.informer(batchJobsResource, { name: "hearth-batch-jobs", client: this.client, labelSelector: LABEL_JOB });
    this.pods = manager.informer(jobPodsResource, { name: "hearth-job-pods", client: this.client, labelSelector: LABEL_JOB, indexers: { [BY_JOB]: labelledJobKey } });

    // Before the manager subscribes, so the tombstone is there when the enqueued reconcile runs.
    this.pods.on({
      delete: (pod) => {
        for (const key of labelledJobKey(pod)) {
          const job = this.jobs.get(key);
          // Pods going with their Job (cascading delete) or after its end need no record.
          if (job === undefined || finishedRaw(job)) continue;
          let dead = this.tombstones.get(key);
          if (dead === undefined) this.tombstones.set(key, (dead = new Map<string, PodView>()));
          dead.set(pod.metadata.name, pod);
        }
      },
    });
    this.jobs.on({ delete: (j) => this.forget(keyOf(j)) });

    const registration: ControllerRegistration = {
      name: CONTROLLER_NAME,
      watches: [
        watch(this.jobs),
        watch(this.batchJobs, labelledJobKey),
        watch(this.pods, labelledJobKey),
        // A Function appearing or changing unblocks the Jobs that wait for it.
        watch(this.functions, (fn) => this.jobs.byIndex(BY_FUNCTION, keyOf(fn)).filter((j) => !finishedRaw(j)).map(keyOf)),
      ],
      reconcile: (ctx) => this.reconcile(ctx),
      concurrency: opts.concurrency ?? 16,
    };
    if (opts.timeoutMs !== undefined) registration.timeoutMs = opts.timeoutMs;
    if (opts.resyncMs !== undefined) registration.resyncMs = opts.resyncMs;
    this.queue = manager.register(registration).queue;
  }

  private forget(key: string): void {
    this.emittedEvents.delete(key);
    this.tombstones.delete(key);
    this.holdStatusUntil.delete(key);
    this.finishedWritten.delete(key);
  }

  private podsOf(key: string): PodView[] {
    const live = this.pods.byIndex(BY_JOB, key);
    const dead = this.tombstones.get(key);
    if (dead === undefined) return live;
    const names = new Set(live.map((p) => p.metadata.name));
    return [...live, ...[...dead.values()].filter((p) => !names.has(p.metadata.name))];
  }

  /** Forgets deleted pods whose attempts the stored status now holds as ended. */
  private pruneTombstones(key: string, status: JobStatus): void {
    const dead = this.tombstones.get(key);
    if (dead === undefined) return;
    for (const a of status.attempts ?? []) if (a.pod !== undefined && a.endTime !== undefined) dead.delete(a.pod);
    if (dead.size === 0 || isFinished(status)) this.tombstones.delete(key);
  }

  private parseJob(raw: Unstructured): HearthJob {
    const full = hearthJob.safeParse(raw);
    if (full.success) return full.data;
    // A status this version cannot read is rebuilt rather than blocking the Job forever.
    const specOnly = hearthJob.safeParse({ ...raw, status: undefined });
    if (specOnly.success) return specOnly.data;
    throw new TerminalError(`Job ${keyOf(raw)} does not match the schema: ${full.error.message}`);
  }

  /**
   * The Function from the cache; on a miss, from the apiserver, because a Function applied
   * together with its Job can reach this cache after the Job does, and "not found" would then be
   * a false alarm (an Event and all).
   */
  private async getFunction(namespace: string, name: string | undefined, needed: boolean, signal: AbortSignal): Promise<HearthFunction | undefined> {
    if (name === undefined) return undefined;
    const raw = this.functions.getByName(namespace, name) ?? (needed ? await this.client.get(hearthFunctions, name, namespace, signal) : undefined);
    if (raw === undefined) return undefined;
    const fn = hearthFunction.safeParse(raw);
    if (!fn.success) {
      this.log.warn({ function: `${namespace}/${name}`, error: fn.error.message }, "Function does not match the schema; treating it as absent");
      return undefined;
    }
    return fn.data;
  }


  /** An isolated call's token: bound to its namespace, Function and task (src/auth/worker-token.ts). */
  private taskTokenOf(job: HearthJob): { taskToken?: string } {
    const id = job.spec.taskId;
    const fn = job.spec.functionRef?.name;
    if (id === undefined || fn === undefined || this.signingKey === undefined) return {};
    return { taskToken: taskToken(this.signingKey, job.metadata.namespace ?? "", fn, id) };
  }

  /** The inputFrom key, read live: Secrets are not cached, and this runs once per Job. */
  private async checkInput(job: HearthJob, signal: AbortSignal): Promise<InputCheck> {
    const ns = job.metadata.namespace ?? "";
    const cm = job.spec.inputFrom?.configMapKeyRef;
    if (cm !== undefined) {
      const obj = await this.client.get(configMapsResource, cm.name, ns, signal);
      if (obj === undefined) return { state: "missing", message: `ConfigMap ${cm.name} (spec.inputFrom) not found` };
      const has = (m: unknown): boolean => typeof m === "object" && m !== null && cm.key in m;
      return has(obj["data"]) || has(obj["binaryData"]) ? { state: "present" } : { state: "missing", message: `ConfigMap ${cm.name} has no key ${cm.key}` };
    }
    const sec = job.spec.inputFrom?.secretKeyRef;
    if (sec !== undefined) {
      const obj = await this.client.get(secrets, sec.name, ns, signal);
      if (obj === undefined) return { state: "missing", message: `Secret ${sec.name} (spec.inputFrom) not found` };
      return obj.data !== undefined && sec.key in obj.data ? { state: "present" } : { state: "missing", message: `Secret ${sec.name} has no key ${sec.key}` };
    }
    return { state: "present" };
  }

  async reconcile(ctx: ControllerContext): Promise<ReconcileResult> {
    const raw = this.jobs.get(ctx.key);
    if (raw === undefined) {
      // Deleted: the garbage collector removes its batch Job, pods and input ConfigMap.
      this.forget(ctx.key);
      return;
    }
    const job = this.parseJob(raw);
    if (this.finishedWritten.has(ctx.key)) {
      // The cache is behind our own final write; planning from it would write the end again. Look
      // again shortly: this reconcile's success cancels the TTL requeue the final write scheduled,
      // so the TTL deletion must be planned again from a cache that shows the end.
      if (!isFinished(job.status)) return { requeueAfterMs: FINISHED_RECHECK_MS };
      this.finishedWritten.delete(ctx.key);
    }
    const namespace = splitKey(ctx.key).namespace ?? "";
    const name = job.metadata.name;
    const log = ctx.log;

    let batchJob = this.batchJobs.getByName(namespace, batchJobName(name));
    let batchJobGone = false;
    if (batchJob === undefined && job.status?.batchJob !== undefined && !isFinished(job.status)) {
      // The cache may simply not have caught up with our own create: ask the apiserver before
      // concluding anything, and never create a second batch Job for the same invocation.
      batchJob = await this.client.get(batchJobsResource, batchJobName(name), namespace, ctx.signal);
      batchJobGone = batchJob === undefined;
    }
    const base = {
      job,
      // Only a Job that has not started needs its Function.
      fn: await this.getFunction(namespace, job.spec.functionRef?.name, batchJob === undefined && !isFinished(job.status), ctx.signal),
      batchJob,
      batchJobGone,
      pods: this.podsOf(ctx.key),
      now: new Date(this.clock.now()),
      config: this.config,
      workload: this.workload,
      ...this.taskTokenOf(job),
    };
    let plan = planJob({ ...base, inputCheck: { state: "unchecked" } });
    if (plan.needsInputCheck === true) plan = planJob({ ...base, inputCheck: await this.checkInput(job, ctx.signal) });
    if (plan.enqueue !== undefined) {
      const gatewayTask = this.warm !== undefined ? await this.warm.enqueue(plan.enqueue, ctx.signal) : NO_GATEWAY;
      plan = planJob({ ...base, inputCheck: { state: "unchecked" }, gatewayTask });
    }
    const heldBackMs = await this.apply(ctx.key, job, plan, ctx.signal, log);
    const again = Math.min(plan.requeueAfterMs ?? Infinity, heldBackMs ?? Infinity);
    return Number.isFinite(again) ? { requeueAfterMs: again } : undefined;
  }

  private async writeStatus(key: string, job: HearthJob, plan: JobPlan, signal: AbortSignal, log: Logger): Promise<void> {
    const namespace = job.metadata.namespace ?? "";
    const name = job.metadata.name;
    await this.client.applyStatus(hearthJobs, { name, namespace }, plan.status, { signal });
    log.debug({ urgent: plan.statusUrgent, conditions: plan.status.conditions?.map((c) => `${c.type}=${c.status}/${c.reason}`).join(",") }, "status written");
    if (isFinished(plan.status)) {
      this.holdStatusUntil.delete(key);
      this.finishedWritten.add(key);
    } else {
      this.holdStatusUntil.set(key, this.clock.now() + this.config.statusDebounceMs);
    }
    const subject = { apiVersion: API_VERSION, kind: "Job", name, namespace, uid: job.metadata.uid };
    const seen = this.emittedEvents.get(key) ?? new Set<string>();
    for (const e of plan.events) {
      const id = `${e.reason}\u0000${e.message}`;
      if (seen.has(id)) continue;
      seen.add(id);
      this.recorder.record(subject, e.type, e.reason, e.message);
    }
    // A finished Job plans nothing more (finishedWritten guards the cache lag), so its memory can go.
    if (isFinished(plan.status)) this.emittedEvents.delete(key);
    else this.emittedEvents.set(key, seen);
  }

  /** Applies the plan; returns how long a held-back status write waits, if one does. */
  private async apply(key: string, job: HearthJob, plan: JobPlan, signal: AbortSignal, log: Logger): Promise<number | undefined> {
    const namespace = job.metadata.namespace ?? "";
    const name = job.metadata.name;
    if (plan.inputConfigMap !== undefined) await this.client.apply(configMapsResource, toApplyObject(plan.inputConfigMap), { signal });
    if (plan.taskSecret !== undefined) await this.client.apply(secrets, toApplyObject(plan.taskSecret), { signal });
    if (plan.batchJob !== undefined) {
      try {
        await this.client.create(batchJobsResource, toApplyObject(plan.batchJob), signal);
        log.info({ batchJob: plan.batchJob.metadata?.name }, "created batch Job");
      } catch (err) {
        // Made by an earlier reconcile whose status write never landed: the name makes it the same Job.
        if (!isAlreadyExists(err)) throw err;
      }
      if (!this.holdStatusUntil.has(key)) this.holdStatusUntil.set(key, this.clock.now() + this.config.statusDebounceMs);
    }
    let heldBackMs: number | undefined;
    if (plan.statusChanged) {
      const debounce = plan.statusUrgent === true ? 0 : (this.holdStatusUntil.get(key) ?? 0) - this.clock.now();
      const wait = Math.max(plan.holdStatusMs ?? 0, debounce);
      if (wait > 0) heldBackMs = wait;
      else await this.writeStatus(key, job, plan, signal, log);
    }
    if (heldBackMs === undefined) this.pruneTombstones(key, plan.status);
    if (plan.deleteJob === true) {
      const opts: { uid?: string; signal: AbortSignal } = { signal };
      if (job.metadata.uid !== undefined) opts.uid = job.metadata.uid;
      await this.client.delete(hearthJobs, name, namespace, opts);
      log.info("ttlSecondsAfterFinished passed; deleted the Job");
    }
    return heldBackMs;
  }
}
