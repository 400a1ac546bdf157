// Dev mode's local runner: level-triggered, once a second it lists the warm worker pods kwok
// runs on fake nodes and makes sure exactly one real runtime process runs per pod, like a
// kubelet would (restart with back-off when a worker exits, stop when the pod goes away).
import { spawn, type ChildProcess } from "node:child_process";
import type { Logger } from "pino";
import type { KubeClient } from "../kube/client.ts";
import { hearthFunctions, secrets, untyped } from "../kube/resources.ts";
import { LABELS } from "../workload/labels.ts";
import { prefixLines, stopProcessGroup } from "./child-io.ts";
import { devFunction, devPod, diffWorkers, planWorkerProcess, type DataSources, type DevFunction, type Toolchain, type WorkerProcess } from "./worker-process.ts";

// Full pods (the shared pod schema keeps only status fields; the runner needs the containers).
const fullPods = untyped({ group: "", version: "v1", kind: "Pod", plural: "pods", namespaced: true });
const configMaps = untyped({ group: "", version: "v1", kind: "ConfigMap", plural: "configmaps", namespaced: true });

interface Running {
  spec: WorkerProcess;
  child: ChildProcess | undefined;
  exits: number;
  restartAt: number;
}

export interface RunnerOptions {
  client: KubeClient;
  tools: Toolchain;
  logger: Logger;
  intervalMs?: number;
  /** Where worker output goes (default: this process's stdout with a [ns/pod] prefix). */
  output?: (line: string) => void;
}

export class LocalRunner {
  private readonly opts: RunnerOptions;
  private readonly workers = new Map<string, Running>();
  private readonly skipped = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  private stopping = false;

  constructor(opts: RunnerOptions) {
    this.opts = opts;
  }

  start(): void {
    const tick = (): void => {
      this.sync().catch((err: unknown) => this.opts.logger.warn({ err }, "local runner sync failed; retrying"));
      if (!this.stopping) this.timer = setTimeout(tick, this.opts.intervalMs ?? 1000);
    };
    tick();
  }

  /** Pods that currently have a process. */
  get running(): string[] {
    return [...this.workers.values()].filter((w) => w.child !== undefined).map((w) => `${w.spec.namespace}/${w.spec.pod}`);
  }

  async sync(): Promise<void> {
    const { client } = this.opts;
    const [podList, fnList] = await Promise.all([
      client.list(fullPods, { labelSelector: `${LABELS.workerMode}=warm` }),
      client.list(hearthFunctions),
    ]);
    const functions = new Map<string, DevFunction>();
    for (const raw of fnList.items) {
      const parsed = devFunction.safeParse(raw);
      if (parsed.success) functions.set(`${parsed.data.metadata.namespace}/${parsed.data.metadata.name}`, parsed.data);
    }
    const podsParsed = podList.items.flatMap((raw) => {
      const p = devPod.safeParse(raw);
      return p.success ? [p.data] : [];
    });
    const data = await this.gatherData(podsParsed.map((p) => p.metadata.namespace));
    const desired: WorkerProcess[] = [];
    for (const pod of podsParsed) {
      const fn = functions.get(`${pod.metadata.namespace}/${pod.metadata.labels?.[LABELS.function] ?? ""}`);
      const plan = planWorkerProcess(pod, fn, data, this.opts.tools);
      if ("run" in plan) desired.push(plan.run);
      else this.noteSkip(`${pod.metadata.namespace}/${pod.metadata.name}`, plan.skip);
    }
    if (this.stopping) return;
    const { start, stop } = diffWorkers(desired, new Set(this.workers.keys()));
    for (const key of stop) await this.stopWorker(key);
    for (const spec of start) this.workers.set(spec.key, { spec, child: undefined, exits: 0, restartAt: 0 });
    const now = Date.now();
    for (const w of this.workers.values()) if (w.child === undefined && now >= w.restartAt) this.spawnWorker(w);
  }

  private async gatherData(namespaces: string[]): Promise<DataSources> {
    const out = { secrets: new Map<string, Record<string, string>>(), configMaps: new Map<string, Record<string, string>>() };
    for (const ns of new Set(namespaces)) {
      const [s, c] = await Promise.all([this.opts.client.list(secrets, { namespace: ns }), this.opts.client.list(configMaps, { namespace: ns })]);
      for (const item of s.items) {
        const decoded = Object.fromEntries(Object.entries(item.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]));
        out.secrets.set(`${ns}/${item.metadata.name}`, decoded);
      }
      for (const item of c.items) {
        const d = (item as { data?: Record<string, string> }).data ?? {};
        out.configMaps.set(`${ns}/${item.metadata.name}`, d);
      }
    }
    return out;
  }

  private noteSkip(pod: string, why: string): void {
    if (this.skipped.get(pod) === why) return;
    this.skipped.set(pod, why);
    this.opts.logger.debug({ pod, why }, "no local process for pod");
  }

  private spawnWorker(w: Running): void {
    const { spec } = w;
    const label = `${spec.namespace}/${spec.pod}`;
    const out = this.opts.output ?? ((line: string) => process.stdout.write(line + "\n"));
    this.opts.logger.info({ pod: label, command: [spec.command, ...spec.args].join(" ") }, "starting worker process");
    const child = spawn(spec.command, spec.args, {
      cwd: spec.cwd,
      env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", HOME: process.env["HOME"] ?? "/tmp", ...spec.env },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    w.child = child;
    prefixLines(child.stdout, `[${label}] `, out);
    prefixLines(child.stderr, `[${label}] `, out);
    child.on("error", (err) => this.opts.logger.error({ pod: label, err }, "worker process failed to start"));
    child.on("exit", (code, signal) => {
      if (w.child !== child) return;
      w.child = undefined;
      w.exits += 1;
      // Like the kubelet's CrashLoopBackOff: 1 s, 2 s, 4 s … capped at 30 s.
      w.restartAt = Date.now() + Math.min(30_000, 1000 * 2 ** Math.min(w.exits - 1, 5));
      if (!this.stopping && this.workers.get(spec.key) === w) {
        this.opts.logger.warn({ pod: label, code, signal, restarts: w.exits }, "worker process exited; restarting with back-off");
      }
    });
  }

  private async stopWorker(key: string, graceMs = 10_000): Promise<void> {
    const w = this.workers.get(key);
    this.workers.delete(key);
    const child = w?.child;
    if (child?.pid === undefined || child.exitCode !== null) return;
    this.opts.logger.info({ pod: `${w?.spec.namespace}/${w?.spec.pod}` }, "stopping worker process");
    await stopProcessGroup(child, graceMs);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    await Promise.all([...this.workers.keys()].map((k) => this.stopWorker(k)));
  }
}
