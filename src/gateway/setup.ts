// What the workers say about setup() in their heartbeats (docs/protocol.md, heartbeat `setup`
// and `error`), kept per Function: who is still loading and how far, how long the last setup
// took, and the last setup failure (SetupTimeout / SetupFailing) with the worker's message.
// GET /v1/setup serves the summary; the operator's leader copies it into Function status. Also
// the setup-duration histogram. Memory only: a restarted gateway learns it again within one
// heartbeat interval.
import { Counter, Histogram, type Registry } from "prom-client";
import type { Clock } from "../kube/clock.ts";

export interface SetupProgressWire {
  value: number;
  message?: string;
}

/** The heartbeat's `setup` object. */
export interface SetupReportWire {
  startedAt: number;
  timeoutSeconds?: number;
  progress?: SetupProgressWire;
  durationSeconds?: number;
}

export interface SetupFailure {
  reason: "SetupTimeout" | "SetupFailing" | "BadConfiguration" | "DownloadFailed" | "ChecksumMismatch" | "PackageInstallFailed";
  message: string;
  worker: string;
  at: number;
  /** Identifies the setup attempt that failed (counted once). */
  attempt: string;
}

export interface FunctionSetupSummary {
  namespace: string;
  name: string;
  /** Workers in setup() now. */
  starting: number;
  /** The most advanced progress among them. */
  progress?: { value: number; message?: string; worker: string; elapsedSeconds: number };
  lastDurationSeconds?: number;
  lastReadyWorker?: string;
  /** Only while no worker became ready after it. */
  lastFailure?: { reason: string; message: string; worker: string; time: string };
}

interface WorkerSetup {
  state: string;
  lastSeen: number;
  report: SetupReportWire | undefined;
}

interface FunctionSetup {
  workers: Map<string, WorkerSetup>;
  lastFailure: SetupFailure | undefined;
  lastReady: { worker: string; at: number; seconds: number } | undefined;
  /** `${worker}@${startedAt}` of setups already in the histogram. */
  observed: Set<string>;
}

const MAX_MESSAGE = 1024;
/** A failure nobody repeated for this long is history (the worker was scaled away or fixed). */
const FAILURE_TTL_MS = 15 * 60_000;

function num(v: unknown, low: number, high: number): number | undefined {
  return typeof v === "number" && Number.isFinite(v) && v >= low && v <= high ? v : undefined;
}

/** The heartbeat's optional `setup` field; undefined when absent or malformed (never an error: old workers). */
export function parseSetupReport(raw: unknown): SetupReportWire | undefined {
  if (typeof raw !== "object" || raw === null) return undefined;
  const r = raw as Record<string, unknown>;
  const startedAt = num(r["startedAt"], 0, 8.64e15);
  if (startedAt === undefined) return undefined;
  const out: SetupReportWire = { startedAt };
  const timeout = num(r["timeoutSeconds"], 0, 86_400 * 10);
  if (timeout !== undefined) out.timeoutSeconds = timeout;
  const duration = num(r["durationSeconds"], 0, 86_400 * 365);
  if (duration !== undefined) out.durationSeconds = duration;
  const p = r["progress"];
  if (typeof p === "object" && p !== null) {
    const value = num((p as Record<string, unknown>)["value"], 0, 1);
    const message = (p as Record<string, unknown>)["message"];
    if (value !== undefined) out.progress = typeof message === "string" ? { value, message: message.slice(0, MAX_MESSAGE) } : { value };
  }
  return out;
}

export function failureReason(error: { type: string; reason?: string | undefined }): SetupFailure["reason"] {
  if (error.reason === "SetupTimeout" || (error.reason === undefined && error.type === "Timeout")) return "SetupTimeout";
  // The artifact fetcher's failures (src/artifacts/report.ts) keep their own reason.
  if (error.reason === "DownloadFailed" || error.reason === "ChecksumMismatch" || error.reason === "PackageInstallFailed") return error.reason;
  if (error.type === "BadConfiguration") return "BadConfiguration";
  return "SetupFailing";
}

export class SetupTracker {
  private readonly clock: Clock;
  private readonly workerTimeoutMs: number;
  private readonly functions = new Map<string, FunctionSetup>();
  readonly seconds: Histogram<"namespace" | "function">;
  readonly failures: Counter<"namespace" | "function" | "reason">;

  constructor(clock: Clock, registry: Registry, workerTimeoutMs = 10_000) {
    this.clock = clock;
    this.workerTimeoutMs = workerTimeoutMs;
    this.seconds = new Histogram({
      name: "hearth_gateway_worker_setup_seconds",
      help: "How long setup() took on workers that became ready (as the workers measured it).",
      labelNames: ["namespace", "function"],
      buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 3600],
      registers: [registry],
    });
    this.failures = new Counter({
      name: "hearth_gateway_worker_setup_failures_total",
      help: "Setups that failed, by reason (SetupTimeout, SetupFailing, BadConfiguration, DownloadFailed, ChecksumMismatch).",
      labelNames: ["namespace", "function", "reason"],
      registers: [registry],
    });
  }

  /** One heartbeat. */
  report(namespace: string, name: string, workerId: string, hb: { state: string; error?: { type: string; message: string; reason?: string | undefined } | undefined; setup?: SetupReportWire | undefined }): void {
    const key = `${namespace}/${name}`;
    let f = this.functions.get(key);
    if (f === undefined) this.functions.set(key, (f = { workers: new Map(), lastFailure: undefined, lastReady: undefined, observed: new Set() }));
    const now = this.clock.now();
    const prev = f.workers.get(workerId);
    f.workers.set(workerId, { state: hb.state, lastSeen: now, report: hb.setup ?? prev?.report });
    const labels = { namespace, function: name };
    const setup = hb.setup;
    if (hb.state === "ready" && setup?.durationSeconds !== undefined) {
      const id = `${workerId}@${setup.startedAt}`;
      if (!f.observed.has(id)) {
        f.observed.add(id);
        if (f.observed.size > 1000) f.observed.clear();
        this.seconds.observe(labels, setup.durationSeconds);
        f.lastReady = { worker: workerId, at: now, seconds: setup.durationSeconds };
      }
    }
    if (hb.state === "failed" && hb.error !== undefined) {
      const reason = failureReason(hb.error);
      // One failure per setup attempt (a worker keeps saying "failed" in every heartbeat; a
      // restarted container keeps its pod name but starts a new setup).
      const attempt = `${workerId}@${setup?.startedAt ?? ""}@${reason}@${hb.error.message}`;
      if (f.lastFailure?.attempt !== attempt) this.failures.inc({ ...labels, reason });
      f.lastFailure = { reason, message: hb.error.message.slice(0, MAX_MESSAGE * 2), worker: workerId, at: now, attempt };
    }
  }

  summaries(): FunctionSetupSummary[] {
    const now = this.clock.now();
    const out: FunctionSetupSummary[] = [];
    for (const [key, f] of this.functions) {
      for (const [id, w] of f.workers) if (now - w.lastSeen > this.workerTimeoutMs) f.workers.delete(id);
      const [namespace = "", name = ""] = key.split("/");
      const s: FunctionSetupSummary = { namespace, name, starting: 0 };
      let best: FunctionSetupSummary["progress"];
      for (const [id, w] of f.workers) {
        if (w.state !== "setup") continue;
        s.starting++;
        const p = w.report?.progress;
        if (p === undefined) continue;
        if (best === undefined || p.value > best.value) {
          const elapsedSeconds = w.report === undefined ? 0 : Math.max(0, Math.round((now - w.report.startedAt) / 100) / 10);
          best = p.message === undefined ? { value: p.value, worker: id, elapsedSeconds } : { value: p.value, message: p.message, worker: id, elapsedSeconds };
        }
      }
      if (best !== undefined) s.progress = best;
      if (f.lastReady !== undefined) {
        s.lastDurationSeconds = Math.round(f.lastReady.seconds * 1000) / 1000;
        s.lastReadyWorker = f.lastReady.worker;
      }
      const fail = f.lastFailure;
      if (fail !== undefined && now - fail.at <= FAILURE_TTL_MS && (f.lastReady === undefined || f.lastReady.at < fail.at)) {
        s.lastFailure = { reason: fail.reason, message: fail.message, worker: fail.worker, time: new Date(fail.at).toISOString() };
      }
      out.push(s);
    }
    return out;
  }
}
