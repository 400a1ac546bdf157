import { generateKeyPair, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { CoreV1Api, KubeConfig, type V1Node } from "@kubernetes/client-node";
import { createFakeNode, DEFAULT_NODES, parseNodesFlag, type FakeNodeSpec } from "./nodes.ts";
import {
  COMPONENTS,
  kubeconfigYaml,
  planCluster,
  schedulerConfig,
  tokenFile,
  validateClusterName,
  type ClusterPlan,
  type ComponentName,
} from "./plan.ts";
import { freePorts, httpsStatus, pollUntil } from "./probe.ts";
import { groupMembers, spawnInGroup, stopGroups, type RunningProcess, type SpawnedProcess } from "./process.ts";
import { readClusterState, writeClusterState, type ClusterState } from "./state.ts";
import { renderKwokConfig } from "./stages.ts";

export interface StartDevClusterOptions {
  /** Default "dev". */
  readonly name?: string;
  /** Directory with the binaries (see `resolveBinaries`). */
  readonly binDir: string;
  /**
   * Config, certificates, kubeconfig, logs and `state.json`. Default: a fresh temp dir.
   * Removed on stop unless `keepDir`.
   */
  readonly dir?: string;
  readonly keepDir?: boolean;
  /** Parent of etcd's data dir. Default /dev/shm when writable (tmpfs), else the OS temp dir. */
  readonly etcdParentDir?: string;
  /** Fake nodes to create. Default {@link DEFAULT_NODES}. */
  readonly nodes?: readonly FakeNodeSpec[];
  /** Progress lines (what is starting, how long it took). Default: none. */
  readonly onProgress?: (line: string) => void;
  /** Recorded in the state file: a cluster whose owner died can be pruned by another run. */
  readonly ownerPid?: number;
  /** Default 120 s. */
  readonly timeoutMs?: number;
  readonly serviceCIDR?: string;
  readonly podCIDR?: string;
  /** Serve the apiserver's /debug/pprof (PlanInput.profiling). */
  readonly profiling?: boolean;
  /** Aborting stops whatever was started and rejects. */
  readonly signal?: AbortSignal;
}

export interface DevCluster {
  readonly name: string;
  readonly server: string;
  /** Bearer token of the `system:masters` user in the kubeconfig. */
  readonly token: string;
  readonly kubeconfigPath: string;
  readonly dir: string;
  readonly state: ClusterState;
  readonly nodes: readonly V1Node[];
  /** Milliseconds from the call to a ready cluster. */
  readonly startMs: number;
  /** Settles with the first component that exits on its own (not through stop()); dev mode reports it. */
  readonly failure: Promise<Error>;
  kubeConfig(): KubeConfig;
  /** Stops every component's process group and removes the temp dirs. Idempotent. */
  stop(): Promise<void>;
}

const pemKeyPair = promisify(generateKeyPair);

function defaultEtcdParent(): string {
  return existsSync("/dev/shm") ? "/dev/shm" : tmpdir();
}

function progressClock(onProgress: ((line: string) => void) | undefined, name: string): (msg: string) => void {
  const t0 = performance.now();
  return (msg) => onProgress?.(`[hearth-dev ${name} +${((performance.now() - t0) / 1000).toFixed(1)}s] ${msg}`);
}

function tail(file: string, lines = 20): string {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

/**
 * Starts a loopback control plane (etcd, kube-apiserver, kube-controller-manager,
 * kube-scheduler, kwok) with fake nodes, and waits until it serves: /readyz, the `default`
 * ServiceAccount (controller manager working), scheduler healthz, every fake node Ready (kwok).
 */
export async function startDevCluster(options: StartDevClusterOptions): Promise<DevCluster> {
  const t0 = performance.now();
  const name = validateClusterName(options.name ?? "dev");
  const progress = progressClock(options.onProgress, name);
  const timeoutMs = options.timeoutMs ?? 120_000;
  const dir = resolve(options.dir ?? mkdtempSync(join(tmpdir(), `hearth-${name}-`)));
  const previous = readClusterState(dir);
  if (previous !== undefined && previous.processes.some((p) => groupMembers(p.pgid).length > 0)) {
    throw new Error(`a cluster is already running from ${dir}; stop it first`);
  }
  const etcdDir = mkdtempSync(join(options.etcdParentDir ?? defaultEtcdParent(), `hearth-etcd-${name}-`));
  const [ports, keys] = await Promise.all([freePorts(5), pemKeyPair("rsa", { modulusLength: 2048 })]);
  const [etcdClient = 0, etcdPeer = 0, apiserver = 0, controllerManager = 0, scheduler = 0] = ports;
  const token = randomBytes(24).toString("hex");
  const plan = planCluster({
    name,
    binDir: options.binDir,
    dir,
    etcdDir,
    token,
    ports: { etcdClient, etcdPeer, apiserver, controllerManager, scheduler },
    ...(options.serviceCIDR === undefined ? {} : { serviceCIDR: options.serviceCIDR }),
    ...(options.podCIDR === undefined ? {} : { podCIDR: options.podCIDR }),
    ...(options.profiling === true ? { profiling: true } : {}),
  });
  writeClusterFiles(plan, token, keys.privateKey.export({ type: "pkcs8", format: "pem" }).toString());

  const started: SpawnedProcess[] = [];
  const startedAt = new Date().toISOString();
  const stateOf = (): ClusterState => ({
    version: 1,
    name,
    server: plan.server,
    kubeconfig: plan.files.kubeconfig,
    dir,
    etcdDir,
    removeDir: options.keepDir !== true,
    ...(options.ownerPid === undefined ? {} : { ownerPid: options.ownerPid }),
    startedAt,
    processes: started.map(({ name: n, pid, pgid, bin, logFile }) => ({ name: n, pid, pgid, bin, logFile })),
  });
  const launch = (component: ComponentName): SpawnedProcess => {
    const c = plan.components[component];
    const p = spawnInGroup(c.name, c.bin, c.args, c.logFile);
    started.push(p);
    // Written after every spawn, so `down` can clean up even if this process dies mid-start.
    writeClusterState(dir, stateOf());
    return p;
  };
  // Rejects as soon as any started component exits: a failed start is reported at once.
  const abort = new AbortController();
  const onAbort = (): void => abort.abort(options.signal?.reason ?? new Error("aborted"));
  if (options.signal?.aborted === true) onAbort();
  options.signal?.addEventListener("abort", onAbort, { once: true });
  const crashed = (p: SpawnedProcess): Promise<never> =>
    p.exited.then((how) => {
      const err = new Error(`${p.name} exited (${how}); last log lines (${p.logFile}):\n${tail(p.logFile)}`);
      abort.abort(err);
      throw err;
    });
  const crashes: Promise<never>[] = [];
  const guarded = async <T>(work: Promise<T>): Promise<T> => Promise.race([work, ...crashes]);
  const launchWatched = (component: ComponentName): void => {
    const crash = crashed(launch(component));
    // Observed through `guarded` while starting; after that an exit is the caller's business.
    crash.catch(() => undefined);
    crashes.push(crash);
  };

  try {
    progress(`starting etcd and kube-apiserver on ${plan.server}`);
    for (const c of ["etcd", "kube-apiserver"] as const) launchWatched(c);
    await guarded(
      pollUntil(async () => ((await httpsStatus(`${plan.server}/readyz`, token)) === 200 ? true : undefined), {
        timeoutMs,
        what: "kube-apiserver /readyz",
        signal: abort.signal,
      }),
    );
    progress("kube-apiserver ready; starting kube-controller-manager, kube-scheduler, kwok");
    for (const c of ["kube-controller-manager", "kube-scheduler", "kwok"] as const) launchWatched(c);

    const kc = new KubeConfig();
    kc.loadFromFile(plan.files.kubeconfig);
    const core = kc.makeApiClient(CoreV1Api);
    const specs = options.nodes ?? parseNodesFlag(DEFAULT_NODES);
    const nodes = await guarded(Promise.all(specs.map((s) => createFakeNode(core, s))));
    progress(`created ${nodes.length} fake node(s)${nodes.length === 0 ? "" : ": " + nodes.map((n) => n.metadata?.name ?? "").join(", ")}`);

    await guarded(
      Promise.all([
        pollUntil(async () => (await core.readNamespacedServiceAccount({ name: "default", namespace: "default" })).metadata?.name, {
          timeoutMs,
          what: "the default ServiceAccount (kube-controller-manager)",
          signal: abort.signal,
        }).then(() => progress("kube-controller-manager working (default ServiceAccount exists)")),
        pollUntil(async () => ((await httpsStatus(`https://127.0.0.1:${scheduler}/healthz`)) === 200 ? true : undefined), {
          timeoutMs,
          what: "kube-scheduler /healthz",
          signal: abort.signal,
        }).then(() => progress("kube-scheduler healthy")),
        pollUntil(async () => (allReady(await core.listNode(), specs) ? true : undefined), {
          timeoutMs,
          what: "fake nodes Ready (kwok)",
          signal: abort.signal,
        }).then(() => progress(specs.length === 0 ? "no fake nodes requested" : "fake nodes Ready (kwok)")),
      ]),
    );
    options.signal?.removeEventListener("abort", onAbort);
    const startMs = performance.now() - t0;
    progress(`cluster ready in ${(startMs / 1000).toFixed(1)}s; kubeconfig: ${plan.files.kubeconfig}`);
    const state = stateOf();
    writeClusterState(dir, state);
    let stopping: Promise<void> | undefined;
    const failure = new Promise<Error>((resolveFailure) => {
      for (const crash of crashes) {
        crash.catch((err: unknown) => {
          if (stopping === undefined) resolveFailure(err instanceof Error ? err : new Error(String(err)));
        });
      }
    });
    return {
      name,
      server: plan.server,
      token,
      kubeconfigPath: plan.files.kubeconfig,
      dir,
      state,
      nodes,
      startMs,
      failure,
      kubeConfig: () => {
        const k = new KubeConfig();
        k.loadFromFile(plan.files.kubeconfig);
        return k;
      },
      stop: () => (stopping ??= stopDevCluster(state, { onProgress: options.onProgress })),
    };
  } catch (err) {
    options.signal?.removeEventListener("abort", onAbort);
    abort.abort(err);
    const interrupted = options.signal?.aborted === true;
    progress(`start ${interrupted ? "interrupted" : "failed"}; stopping what was started`);
    // Keep the logs of a failure to debug; an interrupt leaves nothing behind.
    await stopDevCluster(stateOf(), { onProgress: options.onProgress, keepDir: !interrupted });
    if (!interrupted) progress(`logs kept in ${plan.files.logDir}`);
    throw err;
  }
}

function allReady(list: { items: readonly V1Node[] }, specs: readonly FakeNodeSpec[]): boolean {
  const ready = new Set(
    list.items
      .filter((n) => n.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true)
      .map((n) => n.metadata?.name),
  );
  return specs.every((s) => ready.has(s.name));
}

function writeClusterFiles(plan: ClusterPlan, token: string, serviceAccountKey: string): void {
  const f = plan.files;
  for (const d of [f.certDir, f.logDir]) mkdirSync(d, { recursive: true });
  writeFileSync(f.tokenFile, tokenFile(token), { mode: 0o600 });
  writeFileSync(f.serviceAccountKey, serviceAccountKey, { mode: 0o600 });
  writeFileSync(f.kubeconfig, kubeconfigYaml(plan.name, plan.server, token), { mode: 0o600 });
  writeFileSync(f.kwokConfig, renderKwokConfig());
  writeFileSync(f.schedulerConfig, schedulerConfig(f));
}

export interface StopOptions {
  readonly onProgress?: ((line: string) => void) | undefined;
  /** Keep `state.dir` (logs) even if the state says to remove it. */
  readonly keepDir?: boolean;
}

/**
 * Stops a cluster from its state (this process's or another's): signals each component's
 * process group (never anything by name), waits until none is left, removes etcd's data dir and,
 * unless kept, the cluster dir.
 */
export async function stopDevCluster(state: ClusterState, options: StopOptions = {}): Promise<void> {
  const progress = progressClock(options.onProgress, state.name);
  // The apiserver and its clients first (together), etcd once they are gone, so the apiserver's
  // graceful shutdown does not run into a vanished storage backend.
  const processes: RunningProcess[] = [...state.processes].reverse();
  const killed = [
    ...(await stopGroups(processes.filter((p) => p.name !== "etcd"))),
    ...(await stopGroups(processes.filter((p) => p.name === "etcd"))),
  ];
  const left = processes.filter((p) => groupMembers(p.pgid).length > 0).map((p) => p.name);
  rmSync(state.etcdDir, { recursive: true, force: true });
  if (state.removeDir && options.keepDir !== true) rmSync(state.dir, { recursive: true, force: true });
  if (left.length > 0) throw new Error(`could not stop ${left.join(", ")} of cluster ${state.name}`);
  progress(`stopped ${processes.map((p) => p.name).join(", ") || "nothing"}${killed.length > 0 ? ` (SIGKILL needed: ${killed.join(", ")})` : ""}`);
}

export interface ComponentStatus {
  readonly name: string;
  readonly pgid: number;
  readonly running: boolean;
}

export interface ClusterStatus {
  readonly name: string;
  readonly server: string;
  readonly kubeconfig: string;
  readonly apiserverReady: boolean;
  readonly components: readonly ComponentStatus[];
}

export async function clusterStatus(state: ClusterState): Promise<ClusterStatus> {
  const token = tokenFromKubeconfig(state.kubeconfig);
  const readyz = token === undefined ? undefined : await httpsStatus(`${state.server}/readyz`, token);
  return {
    name: state.name,
    server: state.server,
    kubeconfig: state.kubeconfig,
    apiserverReady: readyz === 200,
    components: COMPONENTS.flatMap((c) =>
      state.processes.filter((p) => p.name === c).map((p) => ({ name: p.name, pgid: p.pgid, running: groupMembers(p.pgid).length > 0 })),
    ),
  };
}

function tokenFromKubeconfig(path: string): string | undefined {
  try {
    const kc = new KubeConfig();
    kc.loadFromFile(path);
    return kc.getCurrentUser()?.token;
  } catch {
    return undefined;
  }
}
