// Dev mode's local runner: level-triggered, once a second it lists the worker pods kwok runs on
// fake nodes and makes sure exactly one real runtime process runs per pod, like a kubelet would:
// warm workers restart with back-off when they exit and stop when the pod goes away; a batch
// Job's pod (oneshot) runs once, and its real exit code and termination message go back to the
// fake kubelet as pod annotations (src/devcluster/annotations.ts), which ends the pod with them.
// Before a pod's process starts, its init steps run (src/dev/init-steps.ts: artifact downloads,
// the pythonPackages venv), retried with the same back-off; each pod's output is also kept in
// <logsDir>/<namespace>/<function>/<pod>.log for `hearth logs`. Like the kubelet, it requests the
// pod's projected ServiceAccount tokens (TokenRequest, bound to the pod) before the pod's first
// process starts, writes them where the pod's environment points, and renews them at 80 %.
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync, type WriteStream } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { z } from "zod";
import { FAKE_POD_ANNOTATIONS } from "../devcluster/annotations.ts";
import type { Logger } from "pino";
import type { KubeClient } from "../kube/client.ts";
import { hearthFunctions, secrets, untyped } from "../kube/resources.ts";
import { LABELS } from "../workload/labels.ts";
import { prefixLines, stopProcessGroup } from "./child-io.ts";
import { reporterFromEnv } from "../artifacts/report.ts";
import { podLogFile } from "../logs/dev-files.ts";
import { DEV_ARTIFACTS_ANNOTATION, type InitStep } from "./init-steps.ts";
import { devFunction, devPod, diffWorkers, planWorkerProcess, type DataSources, type DevFunction, type ProjectedToken, type Toolchain, type WorkerProcess } from "./worker-process.ts";

/** Renew a token without a stated expiry after this long. */
const t0Renew = 600_000;

const tokenRequestStatus = z.object({ status: z.object({ token: z.string().min(1), expirationTimestamp: z.string().optional() }) });

/** A projected token as the kubelet gets it: TokenRequest for the pod's ServiceAccount, bound to the pod. */
export async function requestToken(client: KubeClient, namespace: string, pod: string, podUid: string, t: ProjectedToken): Promise<{ token: string; expiresAt: number }> {
  const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/serviceaccounts/${encodeURIComponent(t.serviceAccount)}/token`;
  const raw = await client.transport.request("POST", path, {
    verb: "create",
    resource: "serviceaccounts/token",
    body: {
      apiVersion: "authentication.k8s.io/v1",
      kind: "TokenRequest",
      spec: {
        ...(t.audience !== undefined ? { audiences: [t.audience] } : {}),
        expirationSeconds: t.expirationSeconds,
        boundObjectRef: { kind: "Pod", apiVersion: "v1", name: pod, uid: podUid },
      },
    },
  });
  const { status } = tokenRequestStatus.parse(raw);
  const expiresAt = status.expirationTimestamp !== undefined ? Date.parse(status.expirationTimestamp) : Number.NaN;
  return { token: status.token, expiresAt: Number.isFinite(expiresAt) ? expiresAt : Date.now() + t.expirationSeconds * 1000 };
}

// Full pods (the shared pod schema keeps only status fields; the runner needs the containers).
const fullPods = untyped({ group: "", version: "v1", kind: "Pod", plural: "pods", namespaced: true });
const configMaps = untyped({ group: "", version: "v1", kind: "ConfigMap", plural: "configmaps", namespaced: true });

interface Running {
  spec: WorkerProcess;
  child: ChildProcess | undefined;
  /** The pod's log file (dev mode's stand-in for the container log), while the pod lives. */
  log?: WriteStream;
  /** Its init steps (src/dev/init-steps.ts) are running; the worker starts when they succeed. */
  initializing?: { child: ChildProcess | undefined } | undefined;
  initDone?: boolean;
  exits: number;
  restartAt: number;
  /** Oneshot: the process ended; its outcome waits to be reported (or was). */
  ended?: { code: number; message: string; reported: boolean };
  /** Oneshot: the last lines of output, the kubelet's FallbackToLogsOnError message. */
  tail?: string;
  /** Its projected ServiceAccount tokens: when to request them again (ms; 0 = before starting). */
  tokensDueAt?: number;
  tokensInFlight?: boolean;
}

/** The kubelet's FallbackToLogsOnError: at most 80 lines, 2048 bytes, of the log's end. */
export function logTail(text: string): string {
  const lines = text.split("\n");
  let tail = lines.slice(-81).join("\n").trimEnd();
  while (Buffer.byteLength(tail) > 2048) tail = tail.slice(Math.max(1, tail.length - 2048));
  return tail;
}

async function reportInitFailure(env: Record<string, string>, reason: "PackageInstallFailed", message: string): Promise<void> {
  const reporter = reporterFromEnv(env);
  if (reporter === undefined) return;
  await reporter.failed(reason, message);
  reporter.close();
}

/** The developer's pip settings (PIP_INDEX_URL, PIP_FIND_LINKS, …) apply to dev mode's package installs, as pip.conf does. */
function pipSettings(): Record<string, string> {
  return Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[0].startsWith("PIP_") && e[1] !== undefined));
}

export interface RunnerOptions {
  client: KubeClient;
  /** Only pods and Functions of these namespaces (dev mode's --namespace); empty or absent = all. */
  namespaces?: readonly string[];
  tools: Toolchain;
  logger: Logger;
  intervalMs?: number;
  /** Where worker output goes (default: this process's stdout with a [ns/pod] prefix). */
  output?: (line: string) => void;
  /**
   * Also append each pod's output, as its container log would hold it, to
   * `<logsDir>/<namespace>/<function>/<pod>.log` (src/logs/dev-files.ts; read by `hearth logs`).
   */
  logsDir?: string;
}

export class LocalRunner {
  private readonly opts: RunnerOptions;
  private readonly workers = new Map<string, Running>();
  private readonly skipped = new Map<string, string>();
  private readonly draining = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private stopping = false;

  constructor(opts: RunnerOptions) {
    this.opts = opts;
  }

  start(): void {
    // One sync at a time: the next starts a beat after the last one ended.
    const tick = (): void => {
      this.sync()
        .catch((err: unknown) => this.opts.logger.warn({ err }, "local runner sync failed; retrying"))
        .finally(() => {
          if (!this.stopping) this.timer = setTimeout(tick, this.opts.intervalMs ?? 1000);
        });
    };
    tick();
  }

  /** Pods that currently have a process. */
  get running(): string[] {
    return [...this.workers.values()].filter((w) => w.child !== undefined).map((w) => `${w.spec.namespace}/${w.spec.pod}`);
  }

  async sync(): Promise<void> {
    const { client } = this.opts;
    const scopes: (string | undefined)[] = this.opts.namespaces !== undefined && this.opts.namespaces.length > 0 ? [...this.opts.namespaces] : [undefined];
    const lists = await Promise.all(
      scopes.map((namespace) =>
        Promise.all([
          client.list(fullPods, { labelSelector: `${LABELS.workerMode} in (warm,oneshot)`, ...(namespace !== undefined ? { namespace } : {}) }),
          client.list(hearthFunctions, namespace !== undefined ? { namespace } : {}),
        ]),
      ),
    );
    const podList = { items: lists.flatMap(([p]) => p.items) };
    const fnList = { items: lists.flatMap(([, f]) => f.items) };
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
    // A oneshot pod that ran stays "desired" until its report reaches the pod (then the plan skips it).
    const { start, stop } = diffWorkers(desired, new Set([...this.workers.entries()].filter(([, w]) => w.ended === undefined || !w.ended.reported).map(([k]) => k)));
    // Stopping drains (SIGTERM: in-flight tasks finish first): in the background, so a scale-down
    // never delays the start of other workers.
    for (const key of stop) {
      const draining = this.stopWorker(key).finally(() => this.draining.delete(draining));
      this.draining.add(draining);
    }
    for (const spec of start) if (!this.workers.has(spec.key)) this.workers.set(spec.key, { spec, child: undefined, exits: 0, restartAt: 0 });
    const live = new Set(podsParsed.map((p) => p.metadata.uid));
    for (const [key, w] of this.workers) {
      if (w.ended?.reported !== true || live.has(key)) continue;
      w.log?.end();
      this.workers.delete(key);
    }
    const now = Date.now();
    for (const w of this.workers.values()) {
      if (w.ended !== undefined) {
        if (!w.ended.reported) await this.report(w);
        continue;
      }
      if (w.tokensInFlight === true) continue;
      const tokens = w.spec.tokens ?? [];
      if (tokens.length > 0 && now >= (w.tokensDueAt ?? 0)) {
        // Like the kubelet: the pod's tokens exist before its containers start, and are renewed
        // at 80 % of their lifetime while it runs.
        w.tokensInFlight = true;
        void this.writeTokens(w, tokens).then((ok) => {
          w.tokensInFlight = false;
          // First tokens written: start now rather than at the next sync.
          if (ok && !this.stopping && this.workers.get(w.spec.key) === w && w.ended === undefined && w.child === undefined && w.initializing === undefined && Date.now() >= w.restartAt) this.startWorker(w);
        });
        continue;
      }
      if (w.child === undefined && w.initializing === undefined && now >= w.restartAt) this.startWorker(w);
    }
  }

  /** Requests the pod's projected tokens (TokenRequest API, bound to the pod) and writes their files. */
  private async writeTokens(w: Running, tokens: readonly ProjectedToken[]): Promise<boolean> {
    const { spec } = w;
    let renewInMs = Number.POSITIVE_INFINITY;
    try {
      for (const t of tokens) {
        const { token, expiresAt } = await requestToken(this.opts.client, spec.namespace, spec.pod, spec.key, t);
        mkdirSync(dirname(t.file), { recursive: true, mode: 0o700 });
        const tmp = `${t.file}.${process.pid}.tmp`;
        writeFileSync(tmp, token, { mode: 0o600 });
        renameSync(tmp, t.file);
        renewInMs = Math.min(renewInMs, Math.max(1000, 0.8 * (expiresAt - Date.now())));
      }
      // The pod went meanwhile: its files go with it.
      if (this.workers.get(spec.key) !== w) for (const dir of new Set(tokens.map((t) => dirname(dirname(t.file))))) rmSync(dir, { recursive: true, force: true });
      w.tokensDueAt = Date.now() + (Number.isFinite(renewInMs) ? renewInMs : t0Renew);
      return true;
    } catch (err) {
      // The namespace's ServiceAccount may not exist yet (kube-controller-manager creates it): retry.
      w.tokensDueAt = Date.now() + 1000;
      this.noteSkip(`${spec.namespace}/${spec.pod}`, `cannot request its ServiceAccount token yet: ${err instanceof Error ? err.message : String(err)}`);
      return false;
    }
  }

  /** Hands a oneshot process's real exit code and termination message to the fake kubelet. */
  private async report(w: Running): Promise<void> {
    const ended = w.ended;
    if (ended === undefined) return;
    const annotations = { [FAKE_POD_ANNOTATIONS.exitCode]: String(ended.code), [FAKE_POD_ANNOTATIONS.message]: ended.message, [FAKE_POD_ANNOTATIONS.delay]: "0s" };
    try {
      await this.opts.client.mergePatch(fullPods, w.spec.pod, w.spec.namespace, { metadata: { annotations } });
      ended.reported = true;
      this.opts.logger.info({ pod: `${w.spec.namespace}/${w.spec.pod}`, exitCode: ended.code }, "oneshot process ended; reported to the fake kubelet");
    } catch (err) {
      this.opts.logger.warn({ pod: `${w.spec.namespace}/${w.spec.pod}`, err }, "cannot report a oneshot exit yet; retrying");
    }
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
    // What the user must change (an artifact dev mode cannot mount) is said loudly; the rest is routine.
    if (why.includes(DEV_ARTIFACTS_ANNOTATION)) this.opts.logger.warn({ pod, why }, "no local process for pod");
    else this.opts.logger.debug({ pod, why }, "no local process for pod");
  }

  /** Where a line of the pod's output goes: its log file and this process's stdout, prefixed. */
  private podOutput(w: Running, container?: string): (line: string) => void {
    const { spec } = w;
    const label = `${spec.namespace}/${spec.pod}${container !== undefined ? ` ${container}` : ""}`;
    const print = this.opts.output ?? ((line: string) => process.stdout.write(line + "\n"));
    if (this.opts.logsDir !== undefined && w.log === undefined) {
      const file = podLogFile(this.opts.logsDir, spec.namespace, spec.functionName, spec.pod);
      mkdirSync(join(file, ".."), { recursive: true });
      w.log = createWriteStream(file, { flags: "a" });
      w.log.on("error", (err) => this.opts.logger.warn({ pod: label, err }, "cannot write the pod's log file"));
    }
    return (line: string) => {
      w.log?.write(line + "\n");
      print(`[${label}] ${line}`);
    };
  }

  /** The init steps first (once per pod, like init containers), then the worker process. */
  private startWorker(w: Running): void {
    const steps = w.spec.init ?? [];
    if (steps.length === 0 || w.initDone === true) {
      this.spawnWorker(w);
      return;
    }
    const state: { child: ChildProcess | undefined } = { child: undefined };
    w.initializing = state;
    void this.runInit(w, steps, state).then((ok) => {
      w.initializing = undefined;
      if (this.stopping || this.workers.get(w.spec.key) !== w) return;
      if (ok) {
        w.initDone = true;
        this.spawnWorker(w);
        return;
      }
      // Like an init container's restarts: back off, then run the steps again.
      w.exits += 1;
      w.restartAt = Date.now() + Math.min(30_000, 1000 * 2 ** Math.min(w.exits - 1, 5));
    });
  }

  private async runInit(w: Running, steps: readonly InitStep[], state: { child: ChildProcess | undefined }): Promise<boolean> {
    const label = `${w.spec.namespace}/${w.spec.pod}`;
    for (const step of steps) {
      if (this.stopping || this.workers.get(w.spec.key) !== w) return false;
      const files = Object.keys(step.files);
      try {
        for (const [path, content] of Object.entries(step.files)) {
          mkdirSync(join(path, ".."), { recursive: true, mode: 0o700 });
          writeFileSync(path, content, { mode: 0o600 });
        }
        this.opts.logger.info({ pod: label, step: step.name }, "running init step");
        const print = this.podOutput(w, step.name);
        let tail = "";
        const out = (line: string): void => {
          tail = logTail(`${tail}${line}\n`);
          print(line);
        };
        const child = spawn(step.command, step.args, { cwd: this.opts.tools.repoRoot, env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", HOME: process.env["HOME"] ?? "/tmp", ...pipSettings(), ...step.env }, stdio: ["ignore", "pipe", "pipe"], detached: true });
        state.child = child;
        prefixLines(child.stdout, "", out);
        prefixLines(child.stderr, "", out);
        const code = await new Promise<number | null>((resolve) => {
          child.once("error", () => resolve(-1));
          child.once("exit", (c) => resolve(c));
        });
        state.child = undefined;
        // Stopped because its pod went (or dev mode is stopping): not a failure of the step.
        if (this.stopping || this.workers.get(w.spec.key) !== w) return false;
        if (code !== 0) {
          this.opts.logger.warn({ pod: label, step: step.name, code }, "init step failed; retrying with back-off");
          // The fetcher reports its own failures; a failed install is said here, as the worker would.
          if (step.name === "install-packages") await reportInitFailure(w.spec.env, "PackageInstallFailed", `pip could not install the pythonPackages (exit ${String(code)}): ${tail.split("\n").slice(-5).join(" | ")}`);
          return false;
        }
      } finally {
        for (const f of files) rmSync(f, { force: true });
      }
    }
    return true;
  }

  private spawnWorker(w: Running): void {
    const { spec } = w;
    const label = `${spec.namespace}/${spec.pod}`;
    let out = this.podOutput(w);
    const env: Record<string, string> = { PATH: process.env["PATH"] ?? "/usr/bin:/bin", HOME: process.env["HOME"] ?? "/tmp", ...spec.env };
    let scratch: string | undefined;
    if (spec.oneshot !== undefined) {
      // The pod's files, on this machine: its input and its termination log.
      scratch = mkdtempSync(join(tmpdir(), "hearth-oneshot-"));
      env["HEARTH_TERMINATION_LOG"] = join(scratch, "termination-log");
      writeFileSync(env["HEARTH_TERMINATION_LOG"], "");
      if (spec.oneshot.input !== undefined) {
        env["HEARTH_INPUT_FILE"] = join(scratch, "input");
        writeFileSync(env["HEARTH_INPUT_FILE"], spec.oneshot.input);
      }
      w.tail = "";
      const write = out;
      out = (line: string) => {
        w.tail = logTail(`${w.tail ?? ""}${line}\n`);
        write(line);
      };
    }
    this.opts.logger.info({ pod: label, command: [spec.command, ...spec.args].join(" ") }, "starting worker process");
    const child = spawn(spec.command, spec.args, { cwd: spec.cwd, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
    w.child = child;
    prefixLines(child.stdout, "", out);
    prefixLines(child.stderr, "", out);
    child.on("error", (err) => this.opts.logger.error({ pod: label, err }, "worker process failed to start"));
    child.on("exit", (code, signal) => {
      if (w.child !== child) return;
      w.child = undefined;
      if (spec.oneshot !== undefined && scratch !== undefined) {
        // Like a container's end: 128 + signal number when killed.
        const exitCode = code ?? 128 + (signal === "SIGKILL" ? 9 : 15);
        let message = "";
        try {
          message = readFileSync(join(scratch, "termination-log"), "utf8");
        } catch {
          message = "";
        }
        if (message.trim() === "" && exitCode !== 0 && spec.oneshot.fallbackToLogs) message = w.tail ?? "";
        rmSync(scratch, { recursive: true, force: true });
        // Stopped because its pod went away: nobody to report to.
        if (this.workers.get(spec.key) !== w) return;
        w.ended = { code: exitCode, message: message.slice(0, 4096), reported: false };
        if (!this.stopping) void this.report(w);
        return;
      }
      w.exits += 1;
      // Like the kubelet's CrashLoopBackOff: 1 s, 2 s, 4 s … capped at 30 s.
      w.restartAt = Date.now() + Math.min(30_000, 1000 * 2 ** Math.min(w.exits - 1, 5));
      if (!this.stopping && this.workers.get(spec.key) === w) {
        this.opts.logger.warn({ pod: label, code, signal, restarts: w.exits }, "worker process exited; restarting with back-off");
      }
    });
  }

  private async stopWorker(key: string, graceMs = 30_000): Promise<void> {
    const w = this.workers.get(key);
    this.workers.delete(key);
    for (const dir of new Set((w?.spec.tokens ?? []).map((t) => dirname(dirname(t.file))))) rmSync(dir, { recursive: true, force: true });
    const init = w?.initializing?.child;
    if (init !== undefined) await stopProcessGroup(init, 5_000);
    const child = w?.child;
    if (child?.pid !== undefined && child.exitCode === null) {
      this.opts.logger.info({ pod: `${w?.spec.namespace}/${w?.spec.pod}` }, "stopping worker process");
      await stopProcessGroup(child, graceMs);
    }
    w?.log?.end();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    await Promise.all([...this.workers.keys()].map((k) => this.stopWorker(k)));
    await Promise.all([...this.draining]);
  }
}
