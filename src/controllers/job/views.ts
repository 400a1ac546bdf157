// The parts of batch Jobs and Pods the Job controller reads, parsed at the boundary. Timestamps
// arrive as Date (client-node's deserializer) or RFC 3339 strings (raw JSON); both become strings.
// Unlisted fields are stripped, which keeps informer caches small.
import { z } from "zod";
import { array, number, object, optArray, optBoolean, optNumber, optObject, optString, optStringMap, put, string, view } from "../../kube/views.ts";

const time = z.union([z.string(), z.date()]).transform((t) => (typeof t === "string" ? t : t.toISOString()));

const meta = z.object({
  name: z.string(),
  namespace: z.string().optional(),
  uid: z.string().optional(),
  // Informers tell updates from replays by it.
  resourceVersion: z.string().optional(),
  creationTimestamp: time.optional(),
  deletionTimestamp: time.optional(),
  labels: z.record(z.string(), z.string()).optional(),
  ownerReferences: z.array(z.object({ uid: z.string(), kind: z.string(), name: z.string(), controller: z.boolean().optional() })).optional(),
});

const condition = z.object({
  type: z.string(),
  status: z.string(),
  reason: z.string().optional(),
  message: z.string().optional(),
  lastTransitionTime: time.optional(),
});

const containerStatus = z.object({
  name: z.string(),
  state: z
    .object({
      waiting: z.object({ reason: z.string().optional(), message: z.string().optional() }).optional(),
      running: z.object({ startedAt: time.optional() }).optional(),
      terminated: z
        .object({
          exitCode: z.number(),
          reason: z.string().optional(),
          message: z.string().optional(),
          startedAt: time.optional(),
          finishedAt: time.optional(),
        })
        .optional(),
    })
    .optional(),
});
export type ContainerStatusView = z.output<typeof containerStatus>;

export const podView = z.object({
  metadata: meta,
  status: z
    .object({
      phase: z.string().optional(),
      reason: z.string().optional(),
      message: z.string().optional(),
      startTime: time.optional(),
      conditions: z.array(condition).optional(),
      containerStatuses: z.array(containerStatus).optional(),
      initContainerStatuses: z.array(containerStatus).optional(),
    })
    .optional(),
});
export type PodView = z.output<typeof podView>;

export const batchJobView = z.object({
  metadata: meta,
  // Only what the outcome needs: the retry budget, the backstop, and (through the exit-code
  // rules) the runtime's container name. Keeping the template out keeps the cache small.
  spec: z
    .object({
      backoffLimit: z.number().optional(),
      activeDeadlineSeconds: z.number().optional(),
      podFailurePolicy: z
        .object({ rules: z.array(z.object({ onExitCodes: z.object({ containerName: z.string().optional() }).optional() })) })
        .optional(),
    })
    .optional(),
  status: z
    .object({
      startTime: time.optional(),
      completionTime: time.optional(),
      conditions: z.array(condition).optional(),
      active: z.number().optional(),
      failed: z.number().optional(),
      succeeded: z.number().optional(),
    })
    .optional(),
});
export type BatchJobView = z.output<typeof batchJobView>;

/** The container the exit-code rules watch: the runtime's. */
export function runtimeContainer(job: BatchJobView): string {
  for (const r of job.spec?.podFailurePolicy?.rules ?? []) if (r.onExitCodes?.containerName !== undefined) return r.onExitCodes.containerName;
  return "";
}

// Hand-written views of the two schemas above (src/kube/views.ts): the informers parse every
// watch event of batch Jobs and pods through them. Same output, same rejections
// (test/unit/kube-views.test.ts).

function timeOf(v: unknown, path: string): string | undefined {
  if (v instanceof Date) return v.toISOString();
  return optString(v, path);
}

function metaOf(v: unknown, path: string): PodView["metadata"] {
  const o = object(v, path);
  const out: PodView["metadata"] = { name: string(o["name"], `${path}.name`) };
  put(out, "namespace", optString(o["namespace"], `${path}.namespace`));
  put(out, "uid", optString(o["uid"], `${path}.uid`));
  put(out, "resourceVersion", optString(o["resourceVersion"], `${path}.resourceVersion`));
  put(out, "creationTimestamp", timeOf(o["creationTimestamp"], `${path}.creationTimestamp`));
  put(out, "deletionTimestamp", timeOf(o["deletionTimestamp"], `${path}.deletionTimestamp`));
  put(out, "labels", optStringMap(o["labels"], `${path}.labels`));
  put(
    out,
    "ownerReferences",
    optArray(o["ownerReferences"], `${path}.ownerReferences`, (r, p) => {
      const ro = object(r, p);
      const ref: NonNullable<PodView["metadata"]["ownerReferences"]>[number] = { uid: string(ro["uid"], `${p}.uid`), kind: string(ro["kind"], `${p}.kind`), name: string(ro["name"], `${p}.name`) };
      put(ref, "controller", optBoolean(ro["controller"], `${p}.controller`));
      return ref;
    }),
  );
  return out;
}

type Condition = NonNullable<NonNullable<PodView["status"]>["conditions"]>[number];

function conditionOf(v: unknown, path: string): Condition {
  const o = object(v, path);
  const out: Condition = { type: string(o["type"], `${path}.type`), status: string(o["status"], `${path}.status`) };
  put(out, "reason", optString(o["reason"], `${path}.reason`));
  put(out, "message", optString(o["message"], `${path}.message`));
  put(out, "lastTransitionTime", timeOf(o["lastTransitionTime"], `${path}.lastTransitionTime`));
  return out;
}

function containerStatusOf(v: unknown, path: string): ContainerStatusView {
  const o = object(v, path);
  const out: ContainerStatusView = { name: string(o["name"], `${path}.name`) };
  const s = optObject(o["state"], `${path}.state`);
  if (s === undefined) return out;
  const state: NonNullable<ContainerStatusView["state"]> = {};
  const w = optObject(s["waiting"], `${path}.state.waiting`);
  if (w !== undefined) {
    const waiting: NonNullable<typeof state.waiting> = {};
    put(waiting, "reason", optString(w["reason"], `${path}.state.waiting.reason`));
    put(waiting, "message", optString(w["message"], `${path}.state.waiting.message`));
    state.waiting = waiting;
  }
  const r = optObject(s["running"], `${path}.state.running`);
  if (r !== undefined) {
    const running: NonNullable<typeof state.running> = {};
    put(running, "startedAt", timeOf(r["startedAt"], `${path}.state.running.startedAt`));
    state.running = running;
  }
  const t = optObject(s["terminated"], `${path}.state.terminated`);
  if (t !== undefined) {
    const terminated: NonNullable<typeof state.terminated> = { exitCode: number(t["exitCode"], `${path}.state.terminated.exitCode`) };
    put(terminated, "reason", optString(t["reason"], `${path}.state.terminated.reason`));
    put(terminated, "message", optString(t["message"], `${path}.state.terminated.message`));
    put(terminated, "startedAt", timeOf(t["startedAt"], `${path}.state.terminated.startedAt`));
    put(terminated, "finishedAt", timeOf(t["finishedAt"], `${path}.state.terminated.finishedAt`));
    state.terminated = terminated;
  }
  out.state = state;
  return out;
}

/** `podView`, by hand. */
export const podViewFast = view((raw): PodView => {
  const o = object(raw, "pod");
  const out: PodView = { metadata: metaOf(o["metadata"], "metadata") };
  const s = optObject(o["status"], "status");
  if (s === undefined) return out;
  const status: NonNullable<PodView["status"]> = {};
  put(status, "phase", optString(s["phase"], "status.phase"));
  put(status, "reason", optString(s["reason"], "status.reason"));
  put(status, "message", optString(s["message"], "status.message"));
  put(status, "startTime", timeOf(s["startTime"], "status.startTime"));
  put(status, "conditions", optArray(s["conditions"], "status.conditions", conditionOf));
  put(status, "containerStatuses", optArray(s["containerStatuses"], "status.containerStatuses", containerStatusOf));
  put(status, "initContainerStatuses", optArray(s["initContainerStatuses"], "status.initContainerStatuses", containerStatusOf));
  out.status = status;
  return out;
});

/** `batchJobView`, by hand. */
export const batchJobViewFast = view((raw): BatchJobView => {
  const o = object(raw, "job");
  const out: BatchJobView = { metadata: metaOf(o["metadata"], "metadata") };
  const sp = optObject(o["spec"], "spec");
  if (sp !== undefined) {
    const spec: NonNullable<BatchJobView["spec"]> = {};
    put(spec, "backoffLimit", optNumber(sp["backoffLimit"], "spec.backoffLimit"));
    put(spec, "activeDeadlineSeconds", optNumber(sp["activeDeadlineSeconds"], "spec.activeDeadlineSeconds"));
    const pfp = optObject(sp["podFailurePolicy"], "spec.podFailurePolicy");
    if (pfp !== undefined) {
      const rules = array(pfp["rules"], "spec.podFailurePolicy.rules", (r, p) => {
        const ro = object(r, p);
        const rule: NonNullable<NonNullable<BatchJobView["spec"]>["podFailurePolicy"]>["rules"][number] = {};
        const oe = optObject(ro["onExitCodes"], `${p}.onExitCodes`);
        if (oe !== undefined) {
          const onExitCodes: { containerName?: string } = {};
          put(onExitCodes, "containerName", optString(oe["containerName"], `${p}.onExitCodes.containerName`));
          rule.onExitCodes = onExitCodes;
        }
        return rule;
      });
      spec.podFailurePolicy = { rules };
    }
    out.spec = spec;
  }
  const s = optObject(o["status"], "status");
  if (s !== undefined) {
    const status: NonNullable<BatchJobView["status"]> = {};
    put(status, "startTime", timeOf(s["startTime"], "status.startTime"));
    put(status, "completionTime", timeOf(s["completionTime"], "status.completionTime"));
    put(status, "conditions", optArray(s["conditions"], "status.conditions", conditionOf));
    put(status, "active", optNumber(s["active"], "status.active"));
    put(status, "failed", optNumber(s["failed"], "status.failed"));
    put(status, "succeeded", optNumber(s["succeeded"], "status.succeeded"));
    out.status = status;
  }
  return out;
});
