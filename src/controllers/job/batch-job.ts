// Renders the one batch/v1 Job (and, for inline input, the ConfigMap holding it) that runs an
// isolated Hearth Job.
import type { V1ConfigMap, V1EnvVar, V1Job, V1OwnerReference, V1Secret, V1Volume } from "@kubernetes/client-node";
import { API_VERSION, type HearthFunction, type HearthJob } from "../../api/v1alpha1/index.ts";
import type { WorkloadConfig } from "../../workload/config.ts";
import { LABELS, MANAGED_BY, WORKER_CONTAINER } from "../../workload/labels.ts";
import { renderPodTemplate } from "../../workload/render.ts";
import { batchBackoffTotalSeconds, podFailurePolicy } from "./exit-codes.ts";

/** Name of the Hearth Job a batch Job, pod or input ConfigMap belongs to (the controller's watches select on it). */
export const LABEL_JOB = "hearth.dev/job";

export const INPUT_VOLUME = "hearth-input";
/** Pod annotation that carries a small inline input (mounted through the downward API). */
export const INPUT_ANNOTATION = "hearth.dev/input";
export const INPUT_DIR = "/var/run/hearth/input";
export const INPUT_FILE_NAME = "input";
export const INPUT_KEY = "input";

/**
 * Deterministic, so that a reconcile retried after a crash finds (or re-applies) the same object
 * instead of making a second one. Hearth names are at most 52 characters, so this stays a valid
 * label value (≤ 63) for the `batch.kubernetes.io/job-name` label the Job controller adds.
 */
export function batchJobName(hearthJobName: string): string {
  return `${hearthJobName}-hearth`;
}

export function inputConfigMapName(hearthJobName: string): string {
  return `${hearthJobName}-hearth-input`;
}

/** The Secret holding an isolated call's task token (Jobs with spec.taskId). */
export function taskSecretName(hearthJobName: string): string {
  return `${hearthJobName}-hearth-task`;
}
export const TASK_TOKEN_KEY = "token";

export function ownerReference(job: HearthJob): V1OwnerReference {
  return {
    apiVersion: API_VERSION,
    kind: "Job",
    name: job.metadata.name,
    uid: job.metadata.uid ?? "",
    controller: true,
    blockOwnerDeletion: true,
  };
}

function labels(job: HearthJob, functionName: string | undefined): Record<string, string> {
  const l: Record<string, string> = { [LABELS.managedBy]: MANAGED_BY, [LABELS.component]: "job", [LABEL_JOB]: job.metadata.name };
  if (functionName !== undefined) l[LABELS.function] = functionName;
  return l;
}

/** Where the pod's input comes from; nothing large ever goes through env. */
export type InputSource =
  | { readonly kind: "none" }
  /** Small: a pod annotation, mounted as a file through the downward API (no extra object). */
  | { readonly kind: "annotation"; readonly data: string }
  /** Larger: a ConfigMap owned by the Job. */
  | { readonly kind: "inline"; readonly data: string }
  | { readonly kind: "configMap"; readonly name: string; readonly key: string }
  | { readonly kind: "secret"; readonly name: string; readonly key: string };

export type InputResolution = { readonly ok: true; readonly source: InputSource } | { readonly ok: false; readonly message: string };

export interface InputLimits {
  /** Up to this size an inline input rides in a pod annotation. */
  readonly maxAnnotationBytes: number;
  /** Up to this size it goes into a ConfigMap (etcd caps objects near 1.5 MiB); beyond, inputFrom. */
  readonly maxInlineBytes: number;
}

/**
 * A small inline input rides in a pod annotation, a larger one in a ConfigMap; inputFrom is
 * mounted from the user's own ConfigMap or Secret. Either way the runtime reads a file. With
 * `encoding: pickle` the file holds base64 pickle (docs/protocol.md), so an inline input must
 * then be that base64 string.
 */
export function resolveInput(job: HearthJob, encoding: "json" | "pickle", limits: InputLimits): InputResolution {
  const from = job.spec.inputFrom;
  if (from?.configMapKeyRef !== undefined) return { ok: true, source: { kind: "configMap", ...from.configMapKeyRef } };
  if (from?.secretKeyRef !== undefined) return { ok: true, source: { kind: "secret", ...from.secretKeyRef } };
  const input = job.spec.input;
  if (input === undefined) return { ok: true, source: { kind: "none" } };
  let data: string;
  if (encoding === "pickle") {
    if (typeof input !== "string" || !/^[A-Za-z0-9+/=\s]*$/.test(input)) {
      return { ok: false, message: "the Function uses encoding: pickle, so spec.input must be a base64 string of the pickled input" };
    }
    data = input;
  } else {
    data = JSON.stringify(input);
  }
  const bytes = Buffer.byteLength(data);
  if (bytes > limits.maxInlineBytes) {
    return {
      ok: false,
      message: `spec.input is ${bytes} bytes; inline input carries at most ${limits.maxInlineBytes} bytes: put it in a ConfigMap or Secret and use spec.inputFrom`,
    };
  }
  return { ok: true, source: { kind: bytes <= limits.maxAnnotationBytes ? "annotation" : "inline", data } };
}

export function renderInputConfigMap(job: HearthJob, functionName: string | undefined, data: string): V1ConfigMap {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: {
      name: inputConfigMapName(job.metadata.name),
      namespace: job.metadata.namespace ?? "",
      labels: labels(job, functionName),
      ownerReferences: [ownerReference(job)],
    },
    data: { [INPUT_KEY]: data },
  };
}

/** The token an isolated call's pod claims its task with and posts its output with. */
export function renderTaskSecret(job: HearthJob, functionName: string, token: string): V1Secret {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name: taskSecretName(job.metadata.name),
      namespace: job.metadata.namespace ?? "",
      labels: labels(job, functionName),
      ownerReferences: [ownerReference(job)],
    },
    type: "Opaque",
    data: { [TASK_TOKEN_KEY]: Buffer.from(token).toString("base64") },
  };
}

/** An isolated call's pod talks to the gateway: which task, where, and (with worker auth on) its token. */
function taskEnv(job: HearthJob, workload: WorkloadConfig, withToken: boolean): V1EnvVar[] {
  const id = job.spec.taskId;
  if (id === undefined) return [];
  const env: V1EnvVar[] = [
    { name: "HEARTH_TASK_ID", value: id },
    { name: "HEARTH_GATEWAY_URL", value: workload.gateway.url },
  ];
  if (withToken) env.push({ name: "HEARTH_TASK_TOKEN", valueFrom: { secretKeyRef: { name: taskSecretName(job.metadata.name), key: TASK_TOKEN_KEY } } });
  return env;
}

function inputVolume(job: HearthJob, source: InputSource): V1Volume | undefined {
  const items = (key: string): { key: string; path: string }[] => [{ key, path: INPUT_FILE_NAME }];
  switch (source.kind) {
    case "none":
      return undefined;
    case "annotation":
      return { name: INPUT_VOLUME, downwardAPI: { items: [{ path: INPUT_FILE_NAME, fieldRef: { fieldPath: `metadata.annotations['${INPUT_ANNOTATION}']` } }] } };
    case "inline":
      return { name: INPUT_VOLUME, configMap: { name: inputConfigMapName(job.metadata.name), items: items(INPUT_KEY) } };
    case "configMap":
      return { name: INPUT_VOLUME, configMap: { name: source.name, items: items(source.key) } };
    case "secret":
      return { name: INPUT_VOLUME, secret: { secretName: source.name, items: items(source.key) } };
  }
}

export interface BatchJobSettings {
  readonly maxRetries: number;
  readonly timeoutSeconds: number;
  /** Per attempt, on top of timeoutSeconds: scheduling, image pull, setup(). */
  readonly deadlineSlackSeconds: number;
  readonly ttlSecondsAfterFinished: number | undefined;
  /** Jobs with spec.taskId: the pod reads its token from the task Secret (absent: the gateway's worker API is open). */
  readonly taskToken?: boolean;
}

/**
 * The backstop for a runtime that cannot enforce its own deadline (hung in native code,
 * never started): every attempt's timeout plus slack, plus the Job controller's backoff between
 * attempts, which activeDeadlineSeconds also counts.
 */
export function activeDeadlineSeconds(s: Pick<BatchJobSettings, "maxRetries" | "timeoutSeconds" | "deadlineSlackSeconds">): number {
  return (s.maxRetries + 1) * (s.timeoutSeconds + s.deadlineSlackSeconds) + batchBackoffTotalSeconds(s.maxRetries);
}

export type BatchJobRendering = { readonly ok: true; readonly batchJob: V1Job } | { readonly ok: false; readonly reason: string; readonly message: string };

/**
 * The pod is the Function's worker pod from the shared renderer (same image, env, resources and
 * GPU rendering as the warm pool) in oneshot mode, with the Job's own deadline so that the
 * runtime enforces it, and the input mounted as a file.
 */
export function renderBatchJob(
  job: HearthJob,
  fn: HearthFunction,
  workload: WorkloadConfig,
  input: InputSource,
  settings: BatchJobSettings,
): BatchJobRendering {
  const volume = inputVolume(job, input);
  const rendered = renderPodTemplate(fn, workload, {
    mode: "oneshot",
    timeoutSeconds: settings.timeoutSeconds,
    restartPolicy: "Never",
    labels: { [LABEL_JOB]: job.metadata.name },
    annotations: input.kind === "annotation" ? { [INPUT_ANNOTATION]: input.data } : {},
    env: [...(volume !== undefined ? [{ name: "HEARTH_INPUT_FILE", value: `${INPUT_DIR}/${INPUT_FILE_NAME}` }] : []), ...taskEnv(job, workload, settings.taskToken === true)],
    volumes: volume !== undefined ? [volume] : [],
    volumeMounts: volume !== undefined ? [{ name: INPUT_VOLUME, mountPath: INPUT_DIR, readOnly: true }] : [],
  });
  if (!rendered.ok) return rendered;
  const template = rendered.template;
  for (const c of template.spec?.containers ?? []) {
    // The runtime writes its result document to the termination log; when it dies before that
    // (an import error, say), the log tail is the most useful message an attempt can show.
    if (c.name === WORKER_CONTAINER) c.terminationMessagePolicy = "FallbackToLogsOnError";
  }
  const batchJob: V1Job = {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: {
      name: batchJobName(job.metadata.name),
      namespace: job.metadata.namespace ?? "",
      labels: labels(job, fn.metadata.name),
      ownerReferences: [ownerReference(job)],
    },
    spec: {
      completions: 1,
      parallelism: 1,
      backoffLimit: settings.maxRetries,
      activeDeadlineSeconds: activeDeadlineSeconds(settings),
      podFailurePolicy: podFailurePolicy(WORKER_CONTAINER),
      // Implied by podFailurePolicy; explicit because attempts must not overlap: a replacement
      // starts only once the failed pod has ended.
      podReplacementPolicy: "Failed",
      template,
    },
  };
  if (settings.ttlSecondsAfterFinished !== undefined && batchJob.spec !== undefined) batchJob.spec.ttlSecondsAfterFinished = settings.ttlSecondsAfterFinished;
  return { ok: true, batchJob };
}
