// Local Kubernetes control plane with fake GPU nodes (kwok), for dev mode and tests.
//
//   node hack/cluster.ts up [--name dev] [--nodes t4-shared:3,a100-mig:1,hami:1,cpu:1] [--keep-logs] [--profiling]
//       builds the binaries if needed, starts a detached cluster, prints the kubeconfig path last
//   node hack/cluster.ts down [--name dev | --all]
//   node hack/cluster.ts status [--name dev]
//   node hack/cluster.ts prune        stops clusters whose owning process (a test run) died
//   node hack/cluster.ts nodes        lists the node kinds for --nodes
//
// State lives in .hearth/clusters/<name>/ (state.json, kubeconfig, logs/); etcd's data on tmpfs.
// Users with Docker can use kind instead (`kind create cluster`); the fake GPU nodes and kwok
// stages of src/devcluster still apply on top of it, untested here.
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import {
  clusterStatus,
  DEFAULT_NODES,
  isAlive,
  listClusterStates,
  NODE_PRESETS,
  parseNodesFlag,
  readClusterState,
  resolveBinaries,
  startDevCluster,
  stopDevCluster,
  validateClusterName,
  type ClusterState,
} from "../src/devcluster/index.ts";

const repoRoot = dirname(dirname(import.meta.filename));
export const CLUSTERS_ROOT = join(repoRoot, ".hearth", "clusters");
export const BUILD_SCRIPT = join(repoRoot, "hack", "build-control-plane.sh");

const say = (line: string): void => void process.stderr.write(line + "\n");

/** Stops clusters recorded with an owner process that no longer exists (a killed test run). */
export async function pruneOrphans(root: string = CLUSTERS_ROOT): Promise<string[]> {
  const orphans = listClusterStates(root).filter((s) => s.ownerPid !== undefined && !isAlive(s.ownerPid));
  for (const s of orphans) {
    say(`[hearth-dev] stopping orphaned cluster ${s.name} (owner pid ${String(s.ownerPid)} is gone)`);
    await stopDevCluster(s, { onProgress: say });
  }
  return orphans.map((s) => s.name);
}

async function up(name: string, nodesFlag: string, keepLogs: boolean, profiling: boolean): Promise<void> {
  await pruneOrphans();
  const dir = join(CLUSTERS_ROOT, name);
  const existing = readClusterState(dir);
  if (existing !== undefined && (await clusterStatus(existing)).components.some((c) => c.running)) {
    say(`[hearth-dev] cluster ${name} is already running`);
    process.stdout.write(existing.kubeconfig + "\n");
    return;
  }
  const nodes = parseNodesFlag(nodesFlag);
  const abort = new AbortController();
  const onSignal = (): void => abort.abort(new Error("interrupted"));
  process.once("SIGINT", onSignal).once("SIGTERM", onSignal);
  const binDir = await resolveBinaries({ buildScript: BUILD_SCRIPT, onProgress: say, signal: abort.signal });
  const cluster = await startDevCluster({ name, binDir, dir, nodes, keepDir: keepLogs, profiling, onProgress: say, signal: abort.signal });
  process.off("SIGINT", onSignal).off("SIGTERM", onSignal);
  say(`[hearth-dev] ${name}: ${cluster.server}, ${cluster.nodes.length} fake node(s); stop with: node hack/cluster.ts down --name ${name}`);
  say(`[hearth-dev] export KUBECONFIG=${cluster.kubeconfigPath}`);
  process.stdout.write(cluster.kubeconfigPath + "\n");
}

async function down(states: readonly ClusterState[]): Promise<void> {
  if (states.length === 0) say("[hearth-dev] no such cluster running");
  for (const s of states) await stopDevCluster(s, { onProgress: say });
}

async function status(states: readonly ClusterState[]): Promise<number> {
  if (states.length === 0) {
    say("[hearth-dev] no cluster");
    return 1;
  }
  let healthy = true;
  for (const s of states) {
    const st = await clusterStatus(s);
    const parts = st.components.map((c) => `${c.name}=${c.running ? "running" : "STOPPED"}`);
    healthy &&= st.apiserverReady && st.components.every((c) => c.running);
    process.stdout.write(`${st.name}\t${st.apiserverReady ? "ready" : "NOT READY"}\t${st.server}\t${parts.join(" ")}\t${st.kubeconfig}\n`);
  }
  return healthy ? 0 : 1;
}

async function main(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      name: { type: "string", default: "dev" },
      nodes: { type: "string", default: DEFAULT_NODES },
      all: { type: "boolean", default: false },
      "keep-logs": { type: "boolean", default: false },
      /** The apiserver serves /debug/pprof (CPU profiles during a bench). */
      profiling: { type: "boolean", default: false },
    },
  });
  const [command = "status"] = positionals;
  const name = validateClusterName(values.name);
  const selected = (): ClusterState[] => {
    if (values.all) return listClusterStates(CLUSTERS_ROOT);
    const s = readClusterState(join(CLUSTERS_ROOT, name));
    return s === undefined ? [] : [s];
  };
  switch (command) {
    case "up":
      await up(name, values.nodes, values["keep-logs"], values.profiling);
      return 0;
    case "down":
      await down(selected());
      return 0;
    case "status":
      return status(selected());
    case "prune":
      await pruneOrphans();
      return 0;
    case "nodes":
      process.stdout.write(Object.keys(NODE_PRESETS).join("\n") + "\n");
      return 0;
    default:
      say(`unknown command ${JSON.stringify(command)}; use up, down, status, prune or nodes`);
      return 2;
  }
}

if (import.meta.main) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      say(`[hearth-dev] ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}
