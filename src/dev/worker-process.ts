// Dev mode's stand-in for a kubelet that runs containers: for every warm worker pod that kwok
// runs on a fake node, one real runtime process on this machine, with the pod's environment and
// its projected ServiceAccount tokens (files on this machine the runner fills by TokenRequest).
// Pure: pods, Functions, Secrets and ConfigMaps in → the processes that should run out.
import { tmpdir } from "node:os";
import { basename, dirname, isAbsolute, join, resolve } from "node:path";
import { z } from "zod";
import { FAKE_POD_ANNOTATIONS, FAKE_RUN_EXTERNAL } from "../devcluster/annotations.ts";
import { LABELS, WORKER_CONTAINER } from "../workload/labels.ts";
import { DEV_ARTIFACTS_ANNOTATION, planInitSteps, type InitStep } from "./init-steps.ts";

/** Function annotation naming the local directory that holds the handler's code (dev mode only). */
export const DEV_CODE_PATH_ANNOTATION = "hearth.dev/dev-code-path";

const keyRef = z.looseObject({ name: z.string(), key: z.string(), optional: z.boolean().optional() });
const envVar = z.looseObject({
  name: z.string(),
  value: z.string().optional(),
  valueFrom: z
    .looseObject({
      secretKeyRef: keyRef.optional(),
      configMapKeyRef: keyRef.optional(),
      fieldRef: z.looseObject({ fieldPath: z.string() }).optional(),
    })
    .optional(),
});
const envFrom = z.looseObject({
  prefix: z.string().optional(),
  secretRef: z.looseObject({ name: z.string() }).optional(),
  configMapRef: z.looseObject({ name: z.string() }).optional(),
});

const keyToPath = z.array(z.looseObject({ key: z.string(), path: z.string() })).optional();
const volume = z.looseObject({
  name: z.string(),
  configMap: z.looseObject({ name: z.string(), items: keyToPath }).optional(),
  secret: z.looseObject({ secretName: z.string(), items: keyToPath }).optional(),
  downwardAPI: z.looseObject({ items: z.array(z.looseObject({ path: z.string(), fieldRef: z.looseObject({ fieldPath: z.string() }).optional() })).optional() }).optional(),
  projected: z
    .looseObject({
      sources: z
        .array(z.looseObject({ serviceAccountToken: z.looseObject({ audience: z.string().optional(), expirationSeconds: z.number().optional(), path: z.string() }).optional() }))
        .optional(),
    })
    .optional(),
});

const container = z.looseObject({
  name: z.string(),
  env: z.array(envVar).optional(),
  envFrom: z.array(envFrom).optional(),
  volumeMounts: z.array(z.looseObject({ name: z.string(), mountPath: z.string(), subPath: z.string().optional() })).optional(),
  terminationMessagePolicy: z.string().optional(),
  command: z.array(z.string()).optional(),
});

export const devPod = z.looseObject({
  metadata: z.looseObject({
    name: z.string(),
    namespace: z.string(),
    uid: z.string(),
    labels: z.record(z.string(), z.string()).optional(),
    annotations: z.record(z.string(), z.string()).optional(),
    deletionTimestamp: z.string().optional(),
  }),
  spec: z.looseObject({
    nodeName: z.string().optional(),
    serviceAccountName: z.string().optional(),
    containers: z.array(container),
    initContainers: z.array(container).optional(),
    volumes: z.array(volume).optional(),
  }),
  status: z.looseObject({ phase: z.string().optional() }).optional(),
});
export type DevPod = z.infer<typeof devPod>;

export const devFunction = z.looseObject({
  metadata: z.looseObject({ name: z.string(), namespace: z.string(), annotations: z.record(z.string(), z.string()).optional() }),
  spec: z.looseObject({ runtime: z.enum(["python", "node"]).default("python") }),
});
export type DevFunction = z.infer<typeof devFunction>;

/** Decoded Secret data and ConfigMap data, by "namespace/name". */
export interface DataSources {
  secrets: ReadonlyMap<string, Record<string, string>>;
  configMaps: ReadonlyMap<string, Record<string, string>>;
}

export interface Toolchain {
  repoRoot: string;
  /** The Node binary that runs `hearth worker`. */
  node: string;
  /** The Python interpreter that runs `python -m hearth.runtime`. */
  python: string;
  /** Dev mode's artifact cache (URL artifacts), the stand-in for the nodes' cache. Default <repo>/.hearth/dev/artifacts. */
  artifactCache?: string;
  /** Dev mode's venvs, one per pythonPackages set. Default <repo>/.hearth/dev/python-envs. */
  pythonEnvs?: string;
  /** Where the pods' projected ServiceAccount tokens are written, one directory per pod UID. Default <tmp>/hearth-dev-pods. */
  podFiles?: string;
}

/**
 * A projected serviceAccountToken the kubelet would keep fresh in the pod's volume: the runner
 * asks the TokenRequest API for it (bound to the pod) and writes it to `file`, on this machine.
 */
export interface ProjectedToken {
  file: string;
  serviceAccount: string;
  /** Undefined: the apiserver's own audiences. */
  audience: string | undefined;
  expirationSeconds: number;
}

export interface WorkerProcess {
  /** The pod's UID: a replacement pod is a new process. */
  key: string;
  /**
   * A batch Job's pod: runs once, and its exit code and termination message go back to the fake
   * kubelet (pod annotations). `input` is the content of the pod's input file, if it has one.
   */
  oneshot?: { input: string | undefined; fallbackToLogs: boolean };
  pod: string;
  namespace: string;
  functionName: string;
  /** The pod's init containers, as dev mode runs them first (src/dev/init-steps.ts). */
  init?: InitStep[];
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
  /** Projected ServiceAccount tokens its containers mount, written before anything starts and refreshed like the kubelet does. */
  tokens?: ProjectedToken[];
}

export type PlanResult = { run: WorkerProcess } | { skip: string };

/** The process one pod should have, or why it has none. */
export function planWorkerProcess(pod: DevPod, fn: DevFunction | undefined, data: DataSources, tools: Toolchain): PlanResult {
  const { name, namespace, uid, labels = {} } = pod.metadata;
  const mode = labels[LABELS.workerMode];
  if (mode !== "warm" && mode !== "oneshot") return { skip: "not a worker pod" };
  if (pod.metadata.deletionTimestamp !== undefined) return { skip: "pod is being deleted" };
  const annotations = pod.metadata.annotations ?? {};
  if (mode === "oneshot") {
    if (annotations[FAKE_POD_ANNOTATIONS.run] !== FAKE_RUN_EXTERNAL) return { skip: "the fake kubelet plays this pod (no run: external annotation)" };
    if (annotations[FAKE_POD_ANNOTATIONS.exitCode] !== undefined) return { skip: "already ran" };
  }
  if (pod.status?.phase !== "Running") return { skip: `pod is ${pod.status?.phase ?? "Pending"}` };
  const functionName = labels[LABELS.function];
  if (functionName === undefined) return { skip: `pod has no ${LABELS.function} label` };
  if (fn === undefined) return { skip: `Function ${namespace}/${functionName} not found` };
  const container = pod.spec.containers.find((c) => c.name === WORKER_CONTAINER);
  if (container === undefined) return { skip: `pod has no "${WORKER_CONTAINER}" container` };

  const env = resolveEnv(container, pod, data);
  if ("missing" in env) return { skip: env.missing };
  const projected = projectedTokens(pod, join(tools.podFiles ?? join(tmpdir(), "hearth-dev-pods"), uid));
  localize(env.vars, container.volumeMounts ?? [], projected.dirs);
  const codePath = fn.metadata.annotations?.[DEV_CODE_PATH_ANNOTATION];
  const vars: Record<string, string> = {
    ...env.vars,
    // Many workers share this machine: no health port each (kwok reports readiness for fake pods).
    HEARTH_HEALTH_PORT: "0",
    HEARTH_WORKER_ID: name,
  };
  if (codePath !== undefined) vars["HEARTH_CODE_PATH"] = isAbsolute(codePath) ? codePath : resolve(tools.repoRoot, codePath);

  let init: InitStep[] = [];
  const initContainers: { name: string; env: Record<string, string>; mounts: { name: string; mountPath: string }[]; command: string[] | undefined }[] = [];
  let python: string | undefined;
  for (const ic of pod.spec.initContainers ?? []) {
    const e = resolveEnv(ic, pod, data);
    if ("missing" in e) return { skip: `init container ${ic.name}: ${e.missing}` };
    localize(e.vars, ic.volumeMounts ?? [], projected.dirs);
    initContainers.push({ name: ic.name, env: e.vars, mounts: ic.volumeMounts ?? [], command: ic.command });
  }
  const podArtifacts = parseArtifactPaths(vars["HEARTH_ARTIFACTS"]);
  if (initContainers.length > 0 || Object.keys(podArtifacts).length > 0) {
    const secretVolumes = new Map((pod.spec.volumes ?? []).flatMap((v) => (v.secret === undefined ? [] : [[v.name, data.secrets.get(`${namespace}/${v.secret.secretName}`)] as const])));
    const plan = planInitSteps({
      podUid: uid,
      initContainers,
      workerMounts: container.volumeMounts ?? [],
      secretVolumes,
      artifacts: podArtifacts,
      devArtifacts: fn.metadata.annotations?.[DEV_ARTIFACTS_ANNOTATION],
      baseDir: vars["HEARTH_CODE_PATH"] ?? tools.repoRoot,
      cacheDir: tools.artifactCache ?? join(tools.repoRoot, ".hearth", "dev", "artifacts"),
      envsDir: tools.pythonEnvs ?? join(tools.repoRoot, ".hearth", "dev", "python-envs"),
      python: tools.python,
      node: tools.node,
      cli: join(tools.repoRoot, "src", "cli", "main.ts"),
    });
    if ("missing" in plan) return { skip: plan.missing };
    init = plan.steps;
    python = plan.python;
    if (Object.keys(plan.artifacts).length > 0) vars["HEARTH_ARTIFACTS"] = JSON.stringify(plan.artifacts);
  }

  let oneshot: WorkerProcess["oneshot"];
  if (mode === "oneshot") {
    const input = inputFileContent(pod, container, vars["HEARTH_INPUT_FILE"], data);
    if (input !== undefined && "missing" in input) return { skip: input.missing };
    oneshot = { input: input?.content, fallbackToLogs: container.terminationMessagePolicy === "FallbackToLogsOnError" };
  }
  const runtime = fn.spec.runtime;
  const base = {
    key: uid,
    pod: name,
    namespace,
    functionName,
    cwd: vars["HEARTH_CODE_PATH"] ?? tools.repoRoot,
    ...(oneshot !== undefined ? { oneshot } : {}),
    ...(init.length > 0 ? { init } : {}),
    ...(projected.tokens.length > 0 ? { tokens: projected.tokens } : {}),
  };
  switch (runtime) {
    case "node":
      return { run: { ...base, command: tools.node, args: [join(tools.repoRoot, "src", "cli", "main.ts"), "worker"], env: vars } };
    case "python": {
      const sdk = join(tools.repoRoot, "sdk", "python");
      // The pod's package volume does not exist here: the venv's interpreter has the packages.
      const podPath = (vars["PYTHONPATH"] ?? "").split(":").filter((p) => p !== "" && !p.startsWith("/opt/hearth/packages"));
      const pythonPath = [vars["HEARTH_CODE_PATH"], sdk, ...podPath].filter((p) => p !== undefined && p !== "").join(":");
      return { run: { ...base, command: python ?? tools.python, args: ["-m", "hearth.runtime"], env: { ...vars, PYTHONPATH: pythonPath } } };
    }
  }
}

type Container = DevPod["spec"]["containers"][number];

/**
 * The pod's projected serviceAccountToken volumes, as files under `podDir` on this machine: the
 * tokens to request, and each volume's local directory (by volume name).
 */
function projectedTokens(pod: DevPod, podDir: string): { tokens: ProjectedToken[]; dirs: Map<string, string> } {
  const tokens: ProjectedToken[] = [];
  const dirs = new Map<string, string>();
  for (const v of pod.spec.volumes ?? []) {
    const sources = (v.projected?.sources ?? []).flatMap((s) => (s.serviceAccountToken === undefined ? [] : [s.serviceAccountToken]));
    if (sources.length === 0) continue;
    const dir = join(podDir, v.name);
    dirs.set(v.name, dir);
    for (const t of sources) {
      tokens.push({ file: join(dir, t.path), serviceAccount: pod.spec.serviceAccountName ?? "default", audience: t.audience, expirationSeconds: t.expirationSeconds ?? 3600 });
    }
  }
  return { tokens, dirs };
}

/** Environment values naming a file in a projected volume name its copy on this machine instead. */
function localize(vars: Record<string, string>, mounts: readonly { name: string; mountPath: string }[], dirs: ReadonlyMap<string, string>): void {
  for (const m of mounts) {
    const local = dirs.get(m.name);
    if (local === undefined) continue;
    const prefix = m.mountPath.replace(/\/+$/, "");
    for (const [k, v] of Object.entries(vars)) {
      if (v === prefix) vars[k] = local;
      else if (v.startsWith(`${prefix}/`)) vars[k] = local + v.slice(prefix.length);
    }
  }
}

function parseArtifactPaths(raw: string | undefined): Record<string, string> {
  if (raw === undefined || raw === "") return {};
  try {
    const v: unknown = JSON.parse(raw);
    return typeof v === "object" && v !== null && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).filter((e): e is [string, string] => typeof e[1] === "string")) : {};
  } catch {
    return {};
  }
}

function resolveEnv(container: Container, pod: DevPod, data: DataSources): { vars: Record<string, string> } | { missing: string } {
  const ns = pod.metadata.namespace;
  const vars: Record<string, string> = {};
  for (const from of container.envFrom ?? []) {
    const source = from.secretRef !== undefined ? data.secrets.get(`${ns}/${from.secretRef.name}`) : from.configMapRef !== undefined ? data.configMaps.get(`${ns}/${from.configMapRef.name}`) : undefined;
    for (const [k, v] of Object.entries(source ?? {})) vars[`${from.prefix ?? ""}${k}`] = v;
  }
  for (const e of container.env ?? []) {
    if (e.value !== undefined) {
      vars[e.name] = e.value;
      continue;
    }
    const ref = e.valueFrom;
    if (ref?.fieldRef !== undefined) {
      const field = fieldValue(pod, ref.fieldRef.fieldPath);
      if (field !== undefined) vars[e.name] = field;
      continue;
    }
    const keyRef = ref?.secretKeyRef ?? ref?.configMapKeyRef;
    if (keyRef === undefined) continue;
    const source = ref?.secretKeyRef !== undefined ? data.secrets : data.configMaps;
    const value = source.get(`${ns}/${keyRef.name}`)?.[keyRef.key];
    if (value !== undefined) vars[e.name] = value;
    else if (keyRef.optional !== true) return { missing: `env ${e.name}: ${keyRef.name}/${keyRef.key} not found yet` };
  }
  return { vars };
}

/** What the pod's input file (HEARTH_INPUT_FILE, a mounted volume) would hold, read from the volume's source. */
function inputFileContent(pod: DevPod, container: Container, path: string | undefined, data: DataSources): { content: string } | { missing: string } | undefined {
  if (path === undefined) return undefined;
  const mount = container.volumeMounts?.find((m) => m.mountPath.replace(/\/+$/, "") === dirname(path));
  const vol = mount === undefined ? undefined : pod.spec.volumes?.find((v) => v.name === mount.name);
  if (vol === undefined) return { missing: `no volume is mounted at ${dirname(path)} for HEARTH_INPUT_FILE` };
  const file = basename(path);
  const ns = pod.metadata.namespace;
  const fromMap = (source: Record<string, string> | undefined, items: { key: string; path: string }[] | undefined, what: string): { content: string } | { missing: string } => {
    const key = items?.find((i) => i.path === file)?.key ?? file;
    const value = source?.[key];
    return value === undefined ? { missing: `${what} has no key ${key} yet` } : { content: value };
  };
  if (vol.configMap !== undefined) return fromMap(data.configMaps.get(`${ns}/${vol.configMap.name}`), vol.configMap.items, `ConfigMap ${vol.configMap.name}`);
  if (vol.secret !== undefined) return fromMap(data.secrets.get(`${ns}/${vol.secret.secretName}`), vol.secret.items, `Secret ${vol.secret.secretName}`);
  const item = vol.downwardAPI?.items?.find((i) => i.path === file);
  const m = /^metadata\.annotations\['(.+)'\]$/.exec(item?.fieldRef?.fieldPath ?? "");
  if (m?.[1] !== undefined) return { content: pod.metadata.annotations?.[m[1]] ?? "" };
  return { missing: `volume ${vol.name} is of a kind dev mode cannot read` };
}

function fieldValue(pod: DevPod, path: string): string | undefined {
  switch (path) {
    case "metadata.name":
      return pod.metadata.name;
    case "metadata.namespace":
      return pod.metadata.namespace;
    case "metadata.uid":
      return pod.metadata.uid;
    case "spec.nodeName":
      return pod.spec.nodeName;
    default:
      return undefined;
  }
}

/** Which processes to start and which to stop so that exactly `desired` run. */
export function diffWorkers(desired: readonly WorkerProcess[], running: ReadonlySet<string>): { start: WorkerProcess[]; stop: string[] } {
  const want = new Set(desired.map((w) => w.key));
  return {
    start: desired.filter((w) => !running.has(w.key)),
    stop: [...running].filter((k) => !want.has(k)),
  };
}
