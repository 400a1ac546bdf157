// The Job controller's I/O: gather from informer caches (plus the few live reads the plan asks
// for), hand everything to planJob, apply what it decided. Level-triggered: every reconcile
// starts from the current state, so a crash at any line converges on the next run; the batch
// Job's deterministic name is what keeps a retried reconcile from starting the work twice.
import type { GatewayTaskView, WarmInvoker } from "./gateway.ts";
import { isDeepStrictEqual } from "node:util";
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
import { Tombstones, WriteExpectations, WrittenState } from "../../kube/expectations.ts";
import type { Informer } from "../../kube/informer.ts";
import { controllerOf, keyOf, splitKey, type Unstructured } from "../../kube/objects.ts";
import { isJsonObject } from "../../kube/views.ts";
import { podFromProtobuf } from "../../kube/pod-protobuf.ts";
import { TerminalError, type ReconcileResult, type WorkQueue } from "../../kube/queue.ts";
import { hearthFunctions, hearthJobs, MANAGED_FIELDS, resourceType, secrets, untyped } from "../../kube/resources.ts";
import { watch, type ControllerContext, type ControllerRegistration, type Manager } from "../../operator/manager.ts";
import type { WorkloadConfig } from "../../workload/config.ts";
import { taskToken } from "../../auth/worker-token.ts";
import { functionsCache } from "../shared.ts";
import { batchJobName, LABEL_JOB } from "./batch-job.ts";
import { batchJobFromProtobuf } from "./batch-job-protobuf.ts";
import { DEFAULT_JOB_CONTROLLER_CONFIG, isFinished, planJob, type InputCheck, type JobControllerConfig, type JobPlan } from "./plan.ts";
import { batchJobChanged, isFreshPod, podChanged } from "./relevance.ts";
import { batchJobView, batchJobViewFast, podView, podViewFast, type BatchJobView, type PodView } from "./views.ts";

export const FIELD_MANAGER = "hearth-job-controller";
export const CONTROLLER_NAME = "job";

/** batch Jobs and their pods, parsed down to what the plan reads (small caches). */
export const batchJobsResource = resourceType({
  group: "batch",
  version: "v1",
  kind: "Job",
  plural: "jobs",
  namespaced: true,
  schema: batchJobView,
  // Its pod template is most of its spec and never read here. Watched in protobuf (the JSON
  // watch had to scan the template to cut it; protobuf skips it by its length).
  view: { schema: batchJobView, parse: batchJobViewFast, elide: [MANAGED_FIELDS, ["spec", "template"]], protobuf: batchJobFromProtobuf },
});
export const jobPodsResource = resourceType({
  group: "",
  version: "v1",
  kind: "Pod",
  plural: "pods",
  namespaced: true,
  schema: podView,
  view: { schema: podView, parse: podViewFast, elide: [MANAGED_FIELDS, ["spec"]], protobuf: podFromProtobuf },
});
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

/** A status write's answer: `sent` when the server stored exactly that (the common case), else the answer parsed. */
function storedStatus(raw: unknown, sent: JobStatus): JobStatus | undefined {
  if (raw === undefined) return undefined;
  if (isDeepStrictEqual(raw, sent)) return sent;
  const parsed = jobStatus.safeParse(raw);
  return parsed.success ? parsed.data : sent;
}

/** A rendered object as the client's apply/create wants it (name required). */
function toApplyObject(obj: { metadata?: { name?: string | undefined; namespace?: string | undefined } | undefined }): ApplyObject {
  const name = obj.metadata?.name;
  if (name === undefined || name === "") throw new TerminalError("rendered object has no name");
  // Shallow: the client only serializes it (a JSON round trip of the rendered batch Job was a
  // deep copy of a pod template per create, for nothing).
  return { ...(obj as Record<string, unknown>), metadata: { ...obj.metadata, name } } as ApplyObject;
}

/** A status this controller wrote, and to which Job (a Job deleted and made again under the same name is another). */
interface WrittenStatus {
  readonly uid: string | undefined;
  readonly status: JobStatus | undefined;
}
const sameStatus = (a: WrittenStatus, b: WrittenStatus): boolean => a.uid === b.uid && isDeepStrictEqual(a.status ?? {}, b.status ?? {});

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
  private readonly tombstones = new Tombstones<PodView>();
  /**
   * The status last written per Job, until the cache shows it: a reconcile in between plans from
   * it (so it neither writes it again nor emits its Events twice, and a final status ends the
   * Job at once), and when it was written (the plan debounces progress-only writes after it).
   */
  private readonly statuses: WrittenState<WrittenStatus>;
  /**
   * The Jobs whose batch Job a reconcile created (by the Hearth Job's UID, its controller), until
   * the watch shows it: that add is the echo of our own create, which the reconcile that made it
   * planned with already.
   */
  private readonly created: WriteExpectations;
  /**
   * The batch Jobs those creates returned, by Hearth Job key, while the watch has not shown them:
   * a reconcile in between (a pod's event beating the batch Job's through the other watch, a
   * requeue) plans with the create's answer instead of asking the apiserver again.
   */
  private readonly createdJobs = new Map<string, { uid: string; job: BatchJobView }>();
  /**
   * Parsed Jobs and Functions by the cached object they came from: the informer replaces an
   * object on every change, so a reconcile of an unchanged object reuses the parse (zod parses of
   * the whole object were most of a reconcile's CPU).
   */
  private readonly parsedJobs = new WeakMap<Unstructured, HearthJob>();
  private readonly parsedFunctions = new WeakMap<Unstructured, HearthFunction | undefined>();

  private readonly warm: WarmInvoker | undefined;
  private readonly signingKey: string | undefined;

  constructor(manager: Manager, opts: JobControllerOptions) {
    this.client = manager.client.as(FIELD_MANAGER);
    this.clock = manager.clock;
    this.recorder = manager.recorder;
    this.workload = opts.workload;
    this.config = { ...DEFAULT_JOB_CONTROLLER_CONFIG, ...opts.config };
    this.warm = opts.warm;
    this.signingKey = opts.signingKey;
    this.log = manager.logger.child({ controller: CONTROLLER_NAME });
    this.statuses = new WrittenState<WrittenStatus>(this.clock, sameStatus);
    this.created = new WriteExpectations(this.clock);

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
          this.tombstones.record(key, pod.metadata.name, pod);
        }
      },
    });
    this.jobs.on({ delete: (j) => this.forget(keyOf(j)) });

    const registration: ControllerRegistration = {
      name: CONTROLLER_NAME,
      watches: [
        // Not the echo of our own status write: the reconcile that wrote it planned with it already.
        watch(this.jobs, (j) => [keyOf(j)], { update: (a, b) => !this.isStatusEcho(a, b) }),
        // Not the add of a batch Job we just created: nothing about it is new to us.
        watch(this.batchJobs, labelledJobKey, { add: (b) => !this.isCreateEcho(b), update: batchJobChanged }),
        // Not the add of a pod merely created for a Job with no status yet: it would plan no write.
        watch(this.pods, labelledJobKey, { add: (p) => !isFreshPod(p) || labelledJobKey(p).some((key) => this.hasStatus(key)), update: podChanged }),
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

  /** `b` differs from `a` only by a status this controller wrote and the cache had not shown yet. */
  private isStatusEcho(a: Unstructured, b: Unstructured): boolean {
    const same = (k: string): boolean => isDeepStrictEqual(a[k], b[k]);
    if (!same("spec") || a.metadata.generation !== b.metadata.generation || a.metadata.deletionTimestamp !== b.metadata.deletionTimestamp) return false;
    const key = keyOf(b);
    const status = this.echoedStatus(key, b.metadata.uid, b["status"] ?? {});
    if (status === undefined) return false;
    // The cache shows the end: nothing about this Job needs remembering any more.
    if (isFinished(status)) this.forget(key);
    return true;
  }

  /**
   * The cached `raw` status when it is the one last written for `key`, else undefined. Compared
   * as it came first: what was written is a parsed status (no defaults, no transforms), so a raw
   * status deep-equal to it is that very status, and the schema would only copy it; zod (about
   * 0.1 ms a status) decides only the rest — a status with fields this version does not know.
   */
  private echoedStatus(key: string, uid: string | undefined, raw: unknown): JobStatus | undefined {
    // Only compared: equal to what was written, it is a JobStatus.
    const asIs = raw as JobStatus;
    if (isJsonObject(raw) && this.statuses.isEcho(key, { uid, status: asIs })) return asIs;
    const parsed = jobStatus.safeParse(raw);
    return parsed.success && this.statuses.isEcho(key, { uid, status: parsed.data }) ? parsed.data : undefined;
  }

  /** The Job has a status, in the cache or written and not shown yet (or is not cached: then the add is news). */
  private hasStatus(key: string): boolean {
    const raw = this.jobs.get(key);
    if (raw === undefined) return true;
    const cached = raw["status"] as { conditions?: unknown } | undefined;
    if (cached?.conditions !== undefined) return true;
    return this.statuses.current(key, { uid: raw.metadata.uid, status: undefined }).status !== undefined;
  }

  /** `b` is the batch Job a reconcile of its Hearth Job is creating or created (controlled by that very Job). */
  private isCreateEcho(b: BatchJobView): boolean {
    const owner = controllerOf(b)?.uid;
    if (owner === undefined) return false;
    for (const key of labelledJobKey(b)) {
      if (b.metadata.name === batchJobName(splitKey(key).name) && this.created.satisfied(key, owner)) {
        this.created.forget(key);
        this.createdJobs.delete(key);
        return true;
      }
    }
    return false;
  }

  private forget(key: string): void {
    this.tombstones.forget(key);
    this.statuses.forget(key);
    this.created.forget(key);
    this.createdJobs.delete(key);
  }

  private podsOf(key: string): PodView[] {
    const live = this.pods.byIndex(BY_JOB, key);
    const dead = this.tombstones.of(key, new Set(live.map((p) => p.metadata.name)));
    return dead.length === 0 ? live : [...live, ...dead];
  }

  /** Forgets deleted pods whose attempts the stored status now holds as ended. */
  private pruneTombstones(key: string, status: JobStatus): void {
    if (isFinished(status)) this.tombstones.forget(key);
    else this.tombstones.drop(key, (status.attempts ?? []).flatMap((a) => (a.pod !== undefined && a.endTime !== undefined ? [a.pod] : [])));
  }

  private parseJob(raw: Unstructured): HearthJob {
    const seen = this.parsedJobs.get(raw);
    if (seen !== undefined) return seen;
    const full = hearthJob.safeParse(raw);
    // A status this version cannot read is rebuilt rather than blocking the Job forever.
    const parsed = full.success ? full : hearthJob.safeParse({ ...raw, status: undefined });
    if (!parsed.success) throw new TerminalError(`Job ${keyOf(raw)} does not match the schema: ${full.error?.message ?? parsed.error.message}`);
    this.parsedJobs.set(raw, parsed.data);
    return parsed.data;
  }

  /**
   * The Function from the cache; on a miss, from the apiserver, because a Function applied
   * together with its Job can reach this cache after the Job does, and "not found" would then be
   * a false alarm (an Event and all).
   */
  private async getFunction(namespace: string, name: string | undefined, signal: AbortSignal): Promise<HearthFunction | undefined> {
    if (name === undefined) return undefined;
    const cached = this.functions.getByName(namespace, name);
    if (cached !== undefined && this.parsedFunctions.has(cached)) return this.parsedFunctions.get(cached);
    const raw = cached ?? (await this.client.get(hearthFunctions, name, namespace, signal));
    if (raw === undefined) return undefined;
    const fn = hearthFunction.safeParse(raw);
    if (!fn.success) this.log.warn({ function: `${namespace}/${name}`, error: fn.error.message }, "Function does not match the schema; treating it as absent");
    const parsed = fn.success ? fn.data : undefined;
    if (cached !== undefined) this.parsedFunctions.set(cached, parsed);
    return parsed;
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
    const cached = this.parseJob(raw);
    // The cache may not show our last status write yet: plan from what was written (to this very Job).
    const uid = cached.metadata.uid;
    const written = this.statuses.current(ctx.key, { uid, status: cached.status });
    if (written.uid !== uid) this.forget(ctx.key);
    const status = written.uid === uid ? written.status : cached.status;
    const job: HearthJob = status === cached.status ? cached : { ...cached, status };
    // A Job whose end the cache shows needs nothing more remembered (the TTL is planned from the status).
    if (isFinished(cached.status)) this.forget(ctx.key);
    const namespace = splitKey(ctx.key).namespace ?? "";
    const name = job.metadata.name;
    const log = ctx.log;

    let batchJob = this.batchJobs.getByName(namespace, batchJobName(name));
    let batchJobGone = false;
    const madeIt = uid !== undefined && this.created.satisfied(ctx.key, uid);
    if (!madeIt) this.createdJobs.delete(ctx.key);
    else if (batchJob === undefined) {
      // Made by this process a moment ago, not shown by the watch yet: as the create returned it.
      const made = this.createdJobs.get(ctx.key);
      if (made !== undefined && made.uid === uid) batchJob = made.job;
    }
    if (batchJob === undefined && (job.status?.batchJob !== undefined || madeIt) && !isFinished(job.status)) {
      // The cache may simply not have caught up with our own create (the status names it, or this
      // process made it a moment ago): ask the apiserver before concluding anything, and never
      // create a second batch Job for the same invocation.
      batchJob = await this.client.get(batchJobsResource, batchJobName(name), namespace, ctx.signal);
      batchJobGone = batchJob === undefined;
    }
    const base = {
      job,
      // Only a Job that has not started needs its Function (the plan reads it only then).
      fn: batchJob === undefined && !isFinished(job.status) ? await this.getFunction(namespace, job.spec.functionRef?.name, ctx.signal) : undefined,
      batchJob,
      batchJobGone,
      pods: this.podsOf(ctx.key),
      now: new Date(this.clock.now()),
      config: this.config,
      ...this.lastStatusWrite(ctx.key),
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

  private lastStatusWrite(key: string): { lastStatusWrite?: Date } {
    const at = this.statuses.lastWriteAt(key);
    return at === undefined ? {} : { lastStatusWrite: new Date(at) };
  }

  /** Writes the status, then its Events (the plan derived them from the status last written: each transition once). */
  private async writeStatus(key: string, job: HearthJob, plan: JobPlan, signal: AbortSignal, log: Logger): Promise<void> {
    const namespace = job.metadata.namespace ?? "";
    const name = job.metadata.name;
    // Recorded before the write: its watch event can arrive before the response does.
    const write = this.statuses.writing(key, { uid: job.metadata.uid, status: plan.status });
    let written: Unstructured;
    try {
      written = await this.client.applyStatus(hearthJobs, { name, namespace }, plan.status, { signal });
    } catch (err) {
      write.failed();
      throw err;
    }
    // As the server stored it, so that the cache showing it is recognised: normally exactly what
    // was sent (then no parse); otherwise parsed as isStatusEcho parses the cache's.
    write.done({ uid: job.metadata.uid, status: storedStatus(written["status"], plan.status) });
    log.debug({ urgent: plan.statusUrgent, conditions: plan.status.conditions?.map((c) => `${c.type}=${c.status}/${c.reason}`).join(",") }, "status written");
    const subject = { apiVersion: API_VERSION, kind: "Job", name, namespace, uid: job.metadata.uid };
    for (const e of plan.events) this.recorder.record(subject, e.type, e.reason, e.message);
  }

  /** Applies the plan; returns how long a held-back status write waits, if one does. */
  private async apply(key: string, job: HearthJob, plan: JobPlan, signal: AbortSignal, log: Logger): Promise<number | undefined> {
    const namespace = job.metadata.namespace ?? "";
    const name = job.metadata.name;
    if (plan.inputConfigMap !== undefined) await this.client.apply(configMapsResource, toApplyObject(plan.inputConfigMap), { signal });
    if (plan.taskSecret !== undefined) await this.client.apply(secrets, toApplyObject(plan.taskSecret), { signal });
    if (plan.batchJob !== undefined) {
      try {
        // Before the create: its watch event can arrive before the response does.
        const uid = job.metadata.uid;
        if (uid !== undefined) this.created.wrote(key, uid);
        const made = await this.client.create(batchJobsResource, toApplyObject(plan.batchJob), signal);
        // Unless its watch event came first (isCreateEcho forgot the expectation).
        if (uid !== undefined && this.created.satisfied(key, uid)) this.createdJobs.set(key, { uid, job: made });
        log.info({ batchJob: plan.batchJob.metadata?.name }, "created batch Job");
      } catch (err) {
        // Not made now: its add (whenever it comes) is news to the next reconcile.
        this.created.forget(key);
        this.createdJobs.delete(key);
        // Made by an earlier reconcile whose status write never landed: the name makes it the same Job.
        if (!isAlreadyExists(err)) throw err;
      }
      // Its first progress (a pod pending, then running) is debounced from here.
      this.statuses.touch(key);
    }
    let heldBackMs: number | undefined;
    if (plan.statusChanged) {
      const wait = plan.holdStatusMs ?? 0;
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
