// `hearth logs`: the lines of every pod of a Function, each prefixed by its pod, from one of two
// sources — the Kubernetes API (pods/log, a cluster) or dev mode's log files — optionally
// filtered to one task's tagged lines, optionally followed (new pods are picked up as they come).
import { setTimeout as sleep } from "node:timers/promises";
import type { KubeClient } from "../kube/client.ts";
import { toStatus } from "../kube/errors.ts";
import { pods } from "../kube/resources.ts";
import { LABELS, WORKER_CONTAINER } from "../workload/labels.ts";
import { podLogFile, podsWithLogs, readLogFile } from "./dev-files.ts";

export interface ReadOptions {
  follow: boolean;
  tail?: number;
  signal: AbortSignal;
}

/** Where the logs of one Function's pods come from. */
export interface LogSource {
  /** What the user is told the lines come from. */
  describe: string;
  /** The Function's pods (that have logs) right now. */
  pods(): Promise<string[]>;
  read(pod: string, opts: ReadOptions, onLine: (line: string) => void): Promise<void>;
}

/** A cluster: every pod labelled with the Function (warm workers and isolated-call pods), through pods/log. */
export function kubeLogSource(client: KubeClient, namespace: string, fn: string): LogSource {
  return {
    describe: `pods/log of the Function's pods in namespace ${namespace}`,
    pods: async () => (await client.list(pods, { namespace, labelSelector: `${LABELS.function}=${fn}` })).items.map((p) => p.metadata.name).sort(),
    read: (pod, opts, onLine) =>
      client.podLog(namespace, pod, { container: WORKER_CONTAINER, follow: opts.follow, ...(opts.tail !== undefined ? { tailLines: opts.tail } : {}), signal: opts.signal }, onLine),
  };
}

/** Dev mode: the files the local runner writes (src/logs/dev-files.ts). */
export function devLogSource(logsDir: string, namespace: string, fn: string): LogSource {
  return {
    describe: `dev mode's worker logs in ${logsDir}`,
    pods: () => Promise.resolve(podsWithLogs(logsDir, namespace, fn)),
    read: (pod, opts, onLine) => readLogFile(podLogFile(logsDir, namespace, fn, pod), { ...opts, ...(opts.tail !== undefined ? { tail: opts.tail } : {}) }, onLine),
  };
}

export interface StreamOptions extends ReadOptions {
  /** Keeps a line (returning what to print) or drops it (undefined). */
  filter?: (line: string) => string | undefined;
  write: (pod: string, line: string) => void;
  warn: (message: string) => void;
  /** How often a follow looks for new pods. */
  podPollMs?: number;
}

/** Streams every pod's lines; resolves when all reads end (or, following, when `signal` aborts). */
export async function streamLogs(source: LogSource, opts: StreamOptions): Promise<{ pods: number; failed: number }> {
  const started = new Set<string>();
  const reads: Promise<void>[] = [];
  let failed = 0;
  const startNew = async (): Promise<void> => {
    for (const pod of await source.pods()) {
      if (started.has(pod)) continue;
      started.add(pod);
      const onLine = (line: string): void => {
        const kept = opts.filter === undefined ? line : opts.filter(line);
        if (kept !== undefined) opts.write(pod, kept);
      };
      reads.push(
        source.read(pod, opts, onLine).catch((err: unknown) => {
          if (opts.signal.aborted) return;
          failed += 1;
          opts.warn(`pod ${pod}: cannot read its log: ${toStatus(err).message}`);
        }),
      );
    }
  };
  await startNew();
  while (opts.follow && !opts.signal.aborted) {
    try {
      await sleep(opts.podPollMs ?? 2000, undefined, { signal: opts.signal });
    } catch {
      break;
    }
    await startNew().catch((err: unknown) => opts.warn(`cannot list the pods: ${toStatus(err).message}`));
  }
  await Promise.all(reads);
  return { pods: started.size, failed };
}
