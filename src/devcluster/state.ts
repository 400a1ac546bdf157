import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";

/**
 * What a running cluster leaves on disk so another process (`hack/cluster.ts down`, a later
 * test run) can find and stop it: `<stateRoot>/<name>/state.json`.
 */

const processSchema = z.object({
  name: z.string(),
  pid: z.number().int().positive(),
  pgid: z.number().int().positive(),
  bin: z.string(),
  logFile: z.string(),
});

export const clusterStateSchema = z.object({
  version: z.literal(1),
  name: z.string(),
  server: z.string(),
  kubeconfig: z.string(),
  /** Config, certificates, logs. */
  dir: z.string(),
  /** etcd data (tmpfs). */
  etcdDir: z.string(),
  /** Remove `dir` on stop (false when the caller owns it). */
  removeDir: z.boolean(),
  /** Process that owns the cluster and stops it when it exits; absent for a detached `up`. */
  ownerPid: z.number().int().positive().optional(),
  startedAt: z.string(),
  processes: z.array(processSchema),
});

export type ClusterState = z.infer<typeof clusterStateSchema>;

export const STATE_FILE = "state.json";

export function writeClusterState(dir: string, state: ClusterState): void {
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `${STATE_FILE}.tmp`);
  writeFileSync(tmp, JSON.stringify(state, null, 2) + "\n");
  renameSync(tmp, join(dir, STATE_FILE));
}

/** The state in `dir`, or undefined when there is none. Throws on a corrupt file. */
export function readClusterState(dir: string): ClusterState | undefined {
  let text: string;
  try {
    text = readFileSync(join(dir, STATE_FILE), "utf8");
  } catch {
    return undefined;
  }
  return clusterStateSchema.parse(JSON.parse(text));
}

/** Every cluster state under a root such as `.hearth/clusters`. */
export function listClusterStates(root: string): ClusterState[] {
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return [];
  }
  return names.flatMap((n) => {
    try {
      const s = readClusterState(join(root, n));
      return s === undefined ? [] : [s];
    } catch {
      return [];
    }
  });
}
