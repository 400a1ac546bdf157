// The startup deadline of one worker (spec.startupTimeoutSeconds, HEARTH_STARTUP_TIMEOUT_SECONDS):
// armed when a child process starts loading the handler, pushed out by the full timeout on every
// setup progress update (a long model load that keeps reporting is never cut off; one that hangs
// still is), disarmed when setup() finished. Also remembers what the worker reports about its
// setup — progress, how long the last setup took — for heartbeats, /startupz and the logs.
import type { Clock, TimerHandle } from "../kube/clock.ts";

export interface SetupProgress {
  value: number;
  message: string | undefined;
}

/** What a heartbeat tells the gateway about setup (docs/protocol.md, heartbeat `setup`). */
export interface SetupReport {
  /** Epoch ms when the current (or last) setup started. */
  startedAt: number;
  timeoutSeconds: number;
  progress?: SetupProgress;
  /** Seconds the last finished setup took. */
  durationSeconds?: number;
}

export class SetupWatch {
  private readonly clock: Clock;
  private readonly timeoutMs: number;
  private readonly onExpire: (message: string) => void;
  private timer: TimerHandle | undefined;
  private startedAt = 0;
  private deadline = 0;
  private progressValue: SetupProgress | undefined;
  private durationSeconds: number | undefined;
  private running = false;

  constructor(clock: Clock, timeoutSeconds: number, onExpire: (message: string) => void) {
    this.clock = clock;
    this.timeoutMs = timeoutSeconds * 1000;
    this.onExpire = onExpire;
  }

  get timeoutSeconds(): number {
    return this.timeoutMs / 1000;
  }

  /** A setup() is running now. */
  get inSetup(): boolean {
    return this.running;
  }

  /** The current setup reported progress (the kubelet's startup probe may stop counting). */
  get progressed(): boolean {
    return this.running && this.progressValue !== undefined;
  }

  get lastProgress(): SetupProgress | undefined {
    return this.progressValue;
  }

  /** A child starts loading the handler. */
  begin(): void {
    this.cancel();
    this.running = true;
    this.startedAt = this.clock.now();
    this.progressValue = undefined;
    this.arm(this.startedAt + this.timeoutMs);
  }

  /** setup() reported progress: the full timeout again from now. */
  progress(value: number, message: string | undefined): void {
    if (!this.running) return;
    this.progressValue = { value, message };
    this.arm(Math.max(this.deadline, this.clock.now() + this.timeoutMs));
  }

  /** setup() finished; returns how long it took, in seconds. */
  finished(): number {
    this.cancel();
    this.running = false;
    this.durationSeconds = (this.clock.now() - this.startedAt) / 1000;
    return this.durationSeconds;
  }

  /** setup() ended without finishing (failed, child died): no deadline until the next begin(). */
  cancel(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.running = false;
  }

  report(): SetupReport | undefined {
    if (this.startedAt === 0) return undefined;
    const r: SetupReport = { startedAt: this.startedAt, timeoutSeconds: this.timeoutSeconds };
    if (this.running && this.progressValue !== undefined) r.progress = this.progressValue;
    if (this.durationSeconds !== undefined) r.durationSeconds = this.durationSeconds;
    return r;
  }

  private arm(deadline: number): void {
    this.timer?.cancel();
    this.deadline = deadline;
    this.timer = this.clock.setTimer(Math.max(0, deadline - this.clock.now()), () => {
      this.timer = undefined;
      if (this.running) this.onExpire(setupTimeoutMessage(this.timeoutSeconds, this.progressValue));
    });
  }
}

export function describeProgress(p: SetupProgress): string {
  const pct = `${Math.round(p.value * 100)}%`;
  return p.message === undefined || p.message === "" ? pct : `${pct} ${p.message}`;
}

export function setupTimeoutMessage(timeoutSeconds: number, last: SetupProgress | undefined): string {
  const tail = last === undefined ? "no progress was reported" : `last progress: ${describeProgress(last)}`;
  return `setup() did not finish within startupTimeoutSeconds=${timeoutSeconds} (${tail}); report progress from setup() to extend the deadline, or raise spec.startupTimeoutSeconds`;
}
