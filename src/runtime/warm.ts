// A warm worker: the supervisor (PID 1 of a worker pod) leases tasks from the gateway in
// batches, runs them on its child process, reports outcomes, heartbeats, serves /healthz and
// /readyz, and drains on SIGTERM (stops leasing, finishes in-flight tasks, exits 0).
import { existsSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { EXIT_CODES, type LeasedTask, type WorkerState } from "../protocol/index.ts";
import type { Clock, TimerHandle } from "../kube/clock.ts";
import { DEFAULT_TERMINATION_LOG, type WorkerConfig } from "./config.ts";
import { failureDocument, writeTerminationLog } from "./oneshot.ts";
import { describeProgress } from "./setup-watch.ts";
import { STARTUP_PATH } from "../workload/startup.ts";
import type { FromChild, StartedTask } from "./ipc.ts";
import { Supervisor, type AdoptedOutcome, type SpawnChild, type SupervisorState, type TaskOutcome } from "./supervisor.ts";
import { ResultBatcher } from "./result-batcher.ts";
import { resultItem, WorkerApi, WorkerApiError } from "./worker-api.ts";
import { WorkerChannel } from "./worker-channel.ts";
import { workerTokenSource, type WorkerTokenSource } from "./worker-token.ts";

/** How long a draining worker waits for the gateway to answer its channel's stop (grants in flight). */
const STOP_ANSWER_WAIT_MS = 2000;

export interface WarmDeps {
  spawn: SpawnChild;
  clock: Clock;
  log: (msg: string) => void;
  /** Tests stop a worker without signals; the CLI passes undefined and SIGTERM/SIGINT drain. */
  stopSignal?: AbortSignal;
}

interface Held {
  task: LeasedTask;
  /** The gateway said the lease is gone (cancelled, expired): do not report. */
  abandoned: boolean;
  progressBusy: boolean;
  progressNext: { value: number; message: string | undefined } | undefined;
}

export class WarmWorker {
  private readonly config: WorkerConfig;
  private readonly deps: WarmDeps;
  private readonly api: WorkerApi;
  readonly supervisor: Supervisor;
  private readonly held = new Map<string, Held>();
  private draining = false;
  private leaseAbort: AbortController | undefined;
  private heartbeatTimer: TimerHandle | undefined;
  private health: Server | undefined;
  private reports = new Set<Promise<void>>();
  private readonly results: ResultBatcher;
  private wake: (() => void) | undefined;
  /** The gateway said it holds this Function's signature: stop sending it. */
  private signatureKnown = false;
  /** The current worker channel (worker-channel.ts); undefined between channels or in lease mode. */
  private channel: WorkerChannel | undefined;
  /** False once the gateway did not know the channel (an older gateway): lease requests then. */
  private useChannel: boolean;
  /**
   * The child holds the worker channel (direct mode, child-channel.ts: the default); false: the
   * supervisor holds it and relays (HEARTH_WORKER_CHANNEL=relay; gateways that do not upgrade).
   */
  private direct: boolean;
  /** Direct mode: the child's channel closed (ends the round). */
  private directClosed: (() => void) | undefined;
  /** Direct mode: the child drained (answered the drain's stop). */
  private directDrained: (() => void) | undefined;
  /** The gateway credential (worker-token.ts): the projected token file, else HEARTH_WORKER_TOKEN. */
  private readonly token: WorkerTokenSource;
  /** Ends the current channel round (drain, fatal). */
  private endRound: (() => void) | undefined;

  constructor(config: WorkerConfig, deps: WarmDeps) {
    if (config.gatewayUrl === undefined) throw new Error("warm workers need HEARTH_GATEWAY_URL");
    this.config = config;
    this.deps = deps;
    this.token = workerTokenSource(config);
    this.api = new WorkerApi(config.gatewayUrl, this.token.provider, config.function, config.workerId);
    this.useChannel = config.workerChannel !== false;
    this.direct = config.directChannel !== false;
    // Outcomes go over the channel while it is open, else as a results request.
    this.results = new ResultBatcher({
      results: (items, ids) => (this.channel?.writable === true ? this.channel.results(items, ids) : this.api.results(items)),
    });
    this.supervisor = new Supervisor({
      spawn: deps.spawn,
      clock: deps.clock,
      concurrency: config.concurrency,
      restartOnError: config.restartOnError,
      retrySetup: true,
      respawn: true,
      log: deps.log,
      onProgress: (id, value, message, sent) => {
        if (!sent) this.progress(id, value, message);
      },
      onStarted: (task, outcome) => this.adopt(task, outcome),
      onChannel: (event) => this.childChannelEvent(event),
      onState: (state) => this.stateChanged(state),
      startupTimeoutSeconds: config.startupTimeoutSeconds,
      onSetupProgress: (p) => {
        deps.log(`hearth worker: setup ${describeProgress(p)}`);
        // Status shows it soon: one heartbeat now, not after the interval.
        this.scheduleHeartbeat(0);
      },
    });
    this.supervisor.onChange(() => this.wake?.());
  }

  /** The port the health server listens on (0 when off). */
  get healthPort(): number {
    const addr = this.health?.address();
    return typeof addr === "object" && addr !== null ? addr.port : 0;
  }

  async listenHealth(): Promise<void> {
    if (this.config.healthPort === 0) return;
    const server = createServer((req, res) => {
      const path = (req.url ?? "").split("?")[0];
      if (path === STARTUP_PATH) {
        // The kubelet's startup probe (src/workload/startup.ts): started once setup() finished,
        // or once it reported progress (from then the runtime's own deadline governs).
        const s = this.supervisor;
        const started = s.state === "ready" || s.state === "restarting" || s.setup.progressed || s.setup.report()?.durationSeconds !== undefined;
        res.writeHead(started ? 200 : 503, { "content-type": "application/json" }).end(JSON.stringify({ state: this.wireState(), setup: s.setup.report() }));
      } else if (path === "/healthz") {
        res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
      } else if (path === "/readyz") {
        const ready = this.supervisor.state === "ready" && !this.draining;
        res.writeHead(ready ? 200 : 503, { "content-type": "application/json" }).end(JSON.stringify({ state: this.wireState(), error: this.supervisor.setupError }));
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.config.healthPort, this.config.healthHost, () => resolve());
    });
    this.health = server;
  }

  /** Runs until drained (0) or fatal (75). */
  async run(): Promise<number> {
    // The clock's timers do not hold the process; a worker whose setup failed waits on nothing
    // else and must stay up (reporting the failure) until it is stopped.
    const keepAlive = setInterval(() => undefined, 60_000);
    try {
      return await this.loop();
    } finally {
      clearInterval(keepAlive);
    }
  }

  private async loop(): Promise<number> {
    this.supervisor.start();
    this.scheduleHeartbeat(0);
    const stop = this.deps.stopSignal;
    const onStop = (): void => this.beginDrain();
    stop?.addEventListener("abort", onStop, { once: true });
    let backoff = 100;
    while (!this.draining) {
      const state = this.supervisor.state;
      if (state === "fatal" || state === "setupTimeout") break;
      if (this.useChannel) {
        try {
          const ended = this.direct ? await this.directRound() : await this.channelRound();
          if (ended === "unsupported") {
            this.useChannel = false;
            this.deps.log("hearth worker: the gateway has no worker channel; leasing with requests");
          } else if (ended === "relay") {
            this.direct = false;
            this.deps.log("hearth worker: the gateway does not hand worker channels to the child; the supervisor relays");
          }
          backoff = 100;
        } catch (err) {
          if (this.draining || this.supervisor.state === "fatal" || this.supervisor.state === "setupTimeout") break;
          const status = err instanceof WorkerApiError ? err.status : 0;
          this.deps.log(`hearth worker: worker channel failed${status === 0 ? "" : ` (HTTP ${status})`}: ${err instanceof Error ? err.message : String(err)}; retrying in ${backoff} ms`);
          await this.deps.clock.sleep(backoff).catch(() => undefined);
          backoff = Math.min(backoff * 2, 5000);
        }
        continue;
      }
      const want = this.supervisor.capacity;
      if (want === 0) {
        await this.waitForChange();
        continue;
      }
      this.leaseAbort = new AbortController();
      // Outcomes waiting to be sent ride on this lease instead of a request of their own.
      const riding = this.results.takePending();
      try {
        const { tasks, acks } = await this.api.lease(want, this.config.leaseWaitMs, this.leaseAbort.signal, riding.map((p) => p.item));
        backoff = 100;
        this.results.settle(riding, acks);
        for (const task of tasks) this.start(task);
      } catch (err) {
        // Not known to have arrived: send them again on their own (a repeat is a harmless 409).
        this.results.resend(riding);
        // Aborted on purpose (drain, FatalError): nothing to retry.
        if (this.draining || this.supervisor.state === "fatal" || this.supervisor.state === "setupTimeout") break;
        const status = err instanceof WorkerApiError ? err.status : 0;
        this.deps.log(`hearth worker: lease failed${status === 0 ? "" : ` (HTTP ${status})`}: ${err instanceof Error ? err.message : String(err)}; retrying in ${backoff} ms`);
        await this.deps.clock.sleep(backoff).catch(() => undefined);
        backoff = Math.min(backoff * 2, 5000);
      } finally {
        this.leaseAbort = undefined;
      }
    }
    stop?.removeEventListener("abort", onStop);
    const ended = this.supervisor.state;
    const fatal = ended === "fatal" || ended === "setupTimeout";
    // A grant the gateway wrote before it read our stop is still on its way: it runs rather than
    // coming back Disrupted (the gateway's {"stopped":true} follows every grant; older gateways
    // never send it, hence the bound). Direct mode: the child waits for it (child-channel.ts),
    // then for its tasks and their acknowledgements.
    if (!fatal && this.channel !== undefined) await Promise.race([this.channel.stopAnswered, this.deps.clock.sleep(STOP_ANSWER_WAIT_MS).catch(() => undefined)]);
    if (!fatal && this.direct) await this.childDrained();
    if (!fatal) await this.supervisor.drain();
    await Promise.allSettled([...this.reports]);
    this.channel?.close();
    await this.sendHeartbeat().catch(() => undefined);
    this.heartbeatTimer?.cancel();
    this.supervisor.stop();
    this.api.close();
    await new Promise<void>((resolve) => (this.health === undefined ? resolve() : this.health.close(() => resolve())));
    if (ended === "setupTimeout") return EXIT_CODES.Timeout;
    return fatal ? EXIT_CODES.Fatal : 0;
  }

  /** Stop leasing; in-flight tasks finish and are reported, then run() returns. */
  beginDrain(): void {
    if (this.draining) return;
    this.draining = true;
    this.deps.log("hearth worker: draining (finishing in-flight tasks, no new leases)");
    this.leaseAbort?.abort();
    this.channel?.stop();
    this.endRound?.();
    this.wake?.();
  }

  /**
   * Direct mode, draining: the child says stop on its channel, finishes its tasks, waits for
   * their acknowledgements and answers `drained`; or it dies (its tasks are then reported here).
   */
  private async childDrained(): Promise<void> {
    const drained = new Promise<void>((resolve) => (this.directDrained = resolve));
    if (!this.supervisor.tell({ t: "stop" })) return;
    await Promise.race([drained, this.supervisor.childGone()]);
    this.directDrained = undefined;
  }

  /**
   * Direct mode, one worker channel: the supervisor opens it (its credential, an upgraded
   * connection) and hands it to the ready child, which leases and reports on it until it closes
   * or the child goes. "relay": the gateway does not upgrade (older): the supervisor holds it.
   */
  private async directRound(): Promise<"unsupported" | "relay" | "closed"> {
    const s = this.supervisor;
    if (s.state !== "ready") {
      await this.waitForChange();
      return "closed";
    }
    const child = s.setups;
    // A fresh read of the token file per channel: the kubelet rotates it.
    const conn = await WorkerChannel.upgrade(this.config.gatewayUrl ?? "", this.token.current(true), this.config.function, this.config.workerId);
    if (conn === "none") return "unsupported";
    if (conn === "unsupported") return "relay";
    const closed = new Promise<void>((resolve) => (this.directClosed = resolve));
    if (this.draining || this.ended() || s.setups !== child || !s.handOver(conn)) {
      this.directClosed = undefined;
      conn.socket.destroy();
      return "closed";
    }
    const round = new Promise<void>((resolve) => (this.endRound = resolve));
    const opened = this.deps.clock.now();
    const why = await Promise.race([closed.then(() => "closed" as const), round, s.childGone()]);
    this.directClosed = undefined;
    this.endRound = undefined;
    // A gateway that ends channels at once is asked again with backoff, not in a loop (a child
    // retiring after an error closes its channel too: that is no failure).
    if (why === "closed" && s.state === "ready" && s.setups === child && this.deps.clock.now() - opened < 500) throw new Error("the worker channel closed right after it opened");
    return "closed";
  }

  /** Direct mode: what the child says about its channel. */
  private childChannelEvent(event: Extract<FromChild, { t: "channelClosed" | "drained" | "report" }>): void {
    switch (event.t) {
      case "channelClosed":
        this.directClosed?.();
        return;
      case "drained":
        this.directDrained?.();
        return;
      case "report": {
        // The channel closed before its acknowledgement: sent here, with the usual retries.
        const done = this.deliver(event.id, event.item).finally(() => this.reports.delete(done));
        this.reports.add(done);
        return;
      }
    }
  }

  /**
   * One worker channel, until it closes or the worker drains or fails: credit for as many tasks
   * as the supervisor has room for, topped up as tasks finish. "unsupported": an older gateway.
   */
  private async channelRound(): Promise<"unsupported" | "closed"> {
    const url = this.config.gatewayUrl ?? "";
    let credit = 0;
    let starting = false;
    const topUp = (): void => {
      const ch = this.channel;
      if (ch === undefined || starting || !ch.writable || this.draining || this.ended()) return;
      const delta = this.supervisor.capacity - credit;
      if (delta === 0) return;
      ch.want(delta);
      credit = Math.max(0, credit + delta);
    };
    const round = new Promise<void>((resolve) => (this.endRound = resolve));
    // A fresh read of the token file per channel: the kubelet rotates it.
    const opened = await WorkerChannel.open(url, this.token.current(true), this.config.function, this.config.workerId, {
      tasks: (tasks) => {
        credit = Math.max(0, credit - tasks.length);
        starting = true;
        for (const task of tasks) this.start(task);
        starting = false;
        topUp();
      },
      // The gateway wants a fresh channel: this one still delivers its acknowledgements.
      ended: () => this.endRound?.(),
    });
    if (opened === "unsupported") return "unsupported";
    const ch = opened;
    if (this.draining || this.ended()) {
      ch.close();
      return "closed";
    }
    this.channel = ch;
    const off = this.supervisor.onChange(topUp);
    topUp();
    await Promise.race([ch.closed, round]);
    off();
    this.endRound = undefined;
    return "closed";
  }

  private ended(): boolean {
    const s = this.supervisor.state;
    return s === "fatal" || s === "setupTimeout";
  }

  private waitForChange(): Promise<void> {
    return new Promise((resolve) => {
      this.wake = () => {
        this.wake = undefined;
        resolve();
      };
    });
  }

  private start(task: LeasedTask): void {
    this.hold(task, this.supervisor.run({ id: task.id, attempt: task.attempt, input: task.input, timeoutSeconds: task.timeoutSeconds, token: task.token, fold: task.fold }));
  }

  /** Direct mode: a task the child leased on its channel (its input stayed there). */
  private adopt(task: StartedTask, outcome: Promise<AdoptedOutcome>): void {
    this.hold({ id: task.id, attempt: task.attempt, leaseId: task.leaseId, input: null, timeoutSeconds: task.timeoutSeconds, deadline: 0 }, outcome);
  }

  /** Held until its outcome is reported (heartbeats list it, progress and cancels find it). */
  private hold(task: LeasedTask, outcome: Promise<AdoptedOutcome>): void {
    const held: Held = { task, abandoned: false, progressBusy: false, progressNext: undefined };
    this.held.set(task.id, held);
    const done = outcome
      .then((o) => (o.kind === "reported" ? undefined : this.report(held, o)))
      .finally(() => {
        this.held.delete(task.id);
        this.reports.delete(done);
      });
    this.reports.add(done);
  }

  private async report(held: Held, outcome: TaskOutcome): Promise<void> {
    if (held.abandoned) return;
    const { id, leaseId } = held.task;
    let item: string;
    switch (outcome.kind) {
      case "done":
        item = resultItem(id, leaseId, { output: outcome.output });
        break;
      case "failed":
        item = resultItem(id, leaseId, { error: { type: outcome.error.type, exitCode: EXIT_CODES[outcome.error.type], message: outcome.error.message } });
        break;
      case "disrupted":
        item = resultItem(id, leaseId, { error: { type: "Disrupted", exitCode: undefined, message: outcome.message } });
        break;
    }
    await this.deliver(id, item);
  }

  /** Sends one outcome; network trouble: tries again a few times (the gateway records one result per task). */
  private async deliver(id: string, item: string): Promise<void> {
    for (let i = 0, wait = 100; ; i++, wait *= 2) {
      try {
        const answer = await this.results.submit(id, item);
        if (answer.status !== 200 && answer.status !== 409) this.deps.log(`hearth worker: reporting task ${id} failed: HTTP ${answer.status}: ${answer.message ?? ""}`);
        return;
      } catch (err) {
        if (err instanceof WorkerApiError && err.status >= 400 && err.status < 500) {
          this.deps.log(`hearth worker: reporting task ${id} failed: ${err.message}`);
          return;
        }
        if (i >= 5) {
          this.deps.log(`hearth worker: giving up reporting task ${id}: ${err instanceof Error ? err.message : String(err)}`);
          return;
        }
        await this.deps.clock.sleep(wait).catch(() => undefined);
      }
    }
  }

  /** One progress call in flight per task; later updates overwrite earlier unsent ones. */
  private progress(taskId: string, value: number, message: string | undefined): void {
    const held = this.held.get(taskId);
    if (held === undefined || held.abandoned) return;
    held.progressNext = { value, message };
    if (held.progressBusy) return;
    const pump = async (): Promise<void> => {
      held.progressBusy = true;
      try {
        while (held.progressNext !== undefined && !held.abandoned) {
          const next = held.progressNext;
          held.progressNext = undefined;
          try {
            await this.api.progress(taskId, held.task.leaseId, next.value, next.message);
          } catch (err) {
            if (err instanceof WorkerApiError && err.status === 409) {
              held.abandoned = true;
              this.supervisor.cancel(taskId);
            }
          }
        }
      } finally {
        held.progressBusy = false;
      }
    };
    void pump();
  }

  private wireState(): WorkerState {
    if (this.draining) return "draining";
    return toWireState(this.supervisor.state);
  }

  private stateChanged(state: SupervisorState): void {
    if (state === "fatal") {
      this.deps.log("hearth worker: FatalError: exiting 75 so the container restarts");
      this.leaseAbort?.abort();
      this.channel?.stop();
      this.endRound?.();
    } else if (state === "setupTimeout") {
      this.deps.log("hearth worker: SetupTimeout: exiting 124 so the container restarts (with the kubelet's back-off)");
      this.leaseAbort?.abort();
      this.channel?.stop();
      this.endRound?.();
      this.wake?.();
    } else if (state === "failed") {
      const e = this.supervisor.setupError;
      this.deps.log(`hearth worker: setup failed: ${e?.type ?? "?"}: ${e?.message ?? ""}`);
    }
    // Tell the gateway at once: readiness changes matter to routing and to the operator.
    this.scheduleHeartbeat(0);
  }

  private scheduleHeartbeat(ms: number): void {
    this.heartbeatTimer?.cancel();
    this.heartbeatTimer = this.deps.clock.setTimer(ms, () => {
      this.sendHeartbeat()
        .catch((err: unknown) => this.deps.log(`hearth worker: heartbeat failed: ${err instanceof Error ? err.message : String(err)}`))
        .finally(() => {
          if (!this.stopped()) this.scheduleHeartbeat(this.config.heartbeatMs);
        });
    });
  }

  private stopped(): boolean {
    return this.supervisor.state === "stopped";
  }

  private async sendHeartbeat(): Promise<void> {
    // Direct mode: the child's tasks as its journal says now (busy, the task list).
    this.supervisor.refresh();
    const state = this.wireState();
    const error = this.supervisor.setupError;
    const signature = state === "ready" && !this.signatureKnown ? this.supervisor.signature : undefined;
    const answer = await this.api.heartbeatAnswer({
      busy: this.supervisor.inFlight,
      ready: state === "ready",
      state,
      error: state === "failed" ? error : undefined,
      setup: this.supervisor.setup.report(),
      tasks: [...this.held.keys()],
      ...(signature === undefined ? {} : { signature }),
    });
    this.signatureKnown = answer.signatureKnown;
    const cancel = answer.cancel;
    // A task the child started while the heartbeat was on its way.
    if (cancel.some((id) => !this.held.has(id))) this.supervisor.refresh();
    for (const id of cancel) {
      const held = this.held.get(id);
      if (held === undefined) continue;
      held.abandoned = true;
      this.supervisor.cancel(id);
    }
  }
}

export function toWireState(state: SupervisorState): WorkerState {
  switch (state) {
    case "starting":
    case "restarting":
      return "setup";
    case "ready":
      return "ready";
    case "failed":
    case "fatal":
    case "setupTimeout":
      return "failed";
    case "stopped":
      return "draining";
  }
}

/** The CLI's warm mode: health server, signals, run. */
export async function runWarmWorker(config: WorkerConfig, deps: WarmDeps): Promise<number> {
  const stop = new AbortController();
  const worker = new WarmWorker(config, { ...deps, stopSignal: stop.signal });
  const onSignal = (): void => stop.abort();
  process.once("SIGTERM", onSignal);
  process.once("SIGINT", onSignal);
  try {
    await worker.listenHealth();
  } catch (err) {
    deps.log(`hearth worker: cannot serve health on port ${config.healthPort}: ${err instanceof Error ? err.message : String(err)}`);
    return EXIT_CODES.BadConfiguration;
  }
  const code = await worker.run();
  const setupError = worker.supervisor.setupError;
  if (code === EXIT_CODES.Timeout && setupError !== undefined) {
    // The kubelet shows the reason in the container's lastState (and the operator in status).
    // Outside a pod (dev mode) there is no /dev/termination-log: write only where one exists.
    if (config.terminationLog !== DEFAULT_TERMINATION_LOG || existsSync(config.terminationLog)) {
      await writeTerminationLog(config.terminationLog, failureDocument(setupError), deps.log);
    }
  }
  process.off("SIGTERM", onSignal);
  process.off("SIGINT", onSignal);
  return code;
}

export { ResultBatcher, type ResultSender } from "./result-batcher.ts";
