// Direct mode, in the child: the worker channel the supervisor opened and handed over (an
// upgraded connection to the gateway, docs/protocol.md "Worker channel"). Leases arrive here and
// outcomes leave here, so a task crosses no other process on its way. The supervisor still knows
// every task, and so still owns deadlines, crash and Fatal reports, heartbeats and drain: each is
// recorded in the task journal before its handler runs and cleared when it ends (task-journal.ts:
// positional writes the supervisor reads when it needs to, no message, no wake-up of it), or,
// without a journal, told by `started` (written at once, so a crash finds it known) and `ended`.
import type { Socket } from "node:net";
import { EXIT_CODES, type LeasedTask, type ResultAck } from "../protocol/index.ts";
import type { Clock } from "../kube/clock.ts";
import type { ChildOutcome, ChildRuntime } from "./child.ts";
import type { FromChild, StartedTask, WireFailure } from "./ipc.ts";
import type { JournalEntry, JournalWriter } from "./task-journal.ts";
import { resultItem } from "./worker-api.ts";
import { WorkerChannel, type SentResult } from "./worker-channel.ts";
import { hop } from "../trace/hops.ts";

/** How long a draining or retiring child waits for the gateway (its stop answer, its end). */
const GATEWAY_WAIT_MS = 2000;

/** Most bytes of outcomes in one results line (as the supervisor's ResultBatcher). */
const MAX_RESULTS_BYTES = 1024 * 1024;

/** An outcome on its way to the gateway: its answer (undefined: none will come) goes to `answered`. */
class Outgoing implements SentResult {
  readonly id: string;
  readonly item: string;
  private readonly answered: (o: Outgoing, ack: ResultAck | undefined) => void;

  constructor(id: string, item: string, answered: (o: Outgoing, ack: ResultAck | undefined) => void) {
    this.id = id;
    this.item = item;
    this.answered = answered;
  }

  acked(ack: ResultAck): void {
    this.answered(this, ack);
  }

  lost(): void {
    this.answered(this, undefined);
  }
}

export interface ChildChannelDeps {
  runtime: Pick<ChildRuntime, "run" | "cancel">;
  clock: Clock;
  /** To the supervisor; the messages of one turn leave together. */
  notify(msg: FromChild): void;
  /** To the supervisor, written before it returns: a crash right after must not lose it. */
  notifyNow(msg: FromChild): void;
  /** Leaves the process (after retire). */
  exit(code: number): void;
  /** The supervisor is still there (its IPC channel is open). */
  supervised(): boolean;
  log(msg: string): void;
  /** The task journal this process inherited, if any (used once the supervisor says so). */
  journal?: JournalWriter | undefined;
}

/** record(): every task of the grant is in the journal. Never written to. */
const NONE_TOLD: readonly StartedTask[] = [];

function startedOf(task: LeasedTask): StartedTask {
  return { id: task.id, leaseId: task.leaseId, attempt: task.attempt, timeoutSeconds: task.timeoutSeconds };
}

/** What the supervisor says with the connection (ipc.ts `channel`). */
export interface ChannelGrant {
  concurrency: number;
  /** Like the supervisor's: a UserError stops taking tasks at once (the child will be replaced). */
  restartOnError: boolean;
  /** The supervisor reads the task journal: record tasks there instead of `started`/`ended`. */
  journal?: boolean;
}

interface Mine {
  task: LeasedTask;
  /** The gateway said the lease is gone (the supervisor's cancel): its outcome is not reported. */
  abandoned: boolean;
  /** Its slot in the task journal; undefined: the supervisor was told by `started`. */
  slot: number | undefined;
}

export class ChildChannel {
  private readonly deps: ChildChannelDeps;
  private channel: WorkerChannel | undefined;
  private grant: ChannelGrant = { concurrency: 1, restartOnError: false };
  /** Tasks the gateway may still grant on the current channel. */
  private credit = 0;
  /** False once paused (the child is to be replaced) or retiring: tasks then come back Disrupted. */
  private accepting = true;
  private draining = false;
  private stopAnswered = false;
  private drainedSent = false;
  private retiring = false;
  private readonly mine = new Map<string, Mine>();
  /** Outcomes sent and not yet acknowledged. */
  private unacked = 0;
  /** Outcomes of this turn, sent together at its end (one results line, one write). */
  private outbox: Outgoing[] = [];
  private outboxScheduled = false;
  /** The task journal, once the supervisor reads it; its free slots (one per unit of concurrency). */
  private journal: JournalWriter | undefined;
  private freeSlots: number[] = [];
  /** Journal slots of ended tasks, cleared once their outcome's line is written (task id → slot). */
  private readonly clearAfterWrite = new Map<string, number>();

  constructor(deps: ChildChannelDeps) {
    this.deps = deps;
  }

  /** Tasks this child is running that came on its channel. */
  get running(): number {
    return this.mine.size;
  }

  /** A channel from the supervisor: credit for the free slots, tasks from then on. */
  attach(socket: Socket, head: Buffer, grant: ChannelGrant): void {
    this.channel?.destroy();
    this.grant = grant;
    this.credit = 0;
    if (grant.journal === true && this.deps.journal !== undefined && this.journal === undefined) {
      this.journal = this.deps.journal;
      // pop() hands out slot 0 first.
      this.freeSlots = Array.from({ length: grant.concurrency }, (_, i) => grant.concurrency - 1 - i);
    }
    const ch = WorkerChannel.fromSocket({ socket, head }, { tasks: (tasks) => this.leased(tasks), ended: () => undefined, cancel: (ids) => this.leaseGone(ids) }, "k");
    this.channel = ch;
    void ch.closed.then(() => {
      if (this.channel !== ch) return;
      this.channel = undefined;
      this.credit = 0;
      // Still draining: the stop cannot be answered any more.
      this.stopAnswered = true;
      this.deps.notify({ t: "channelClosed" });
      this.settle();
    });
    if (this.draining) this.sendStop(ch);
    this.topUp();
  }

  /** The supervisor is replacing this child: ask for nothing more. */
  pause(): void {
    this.accepting = false;
    const ch = this.channel;
    if (ch?.writable === true && this.credit > 0) ch.want(-this.credit);
    this.credit = 0;
  }

  /** Drain: no more tasks; finish, report, then answer `drained`. */
  stop(): void {
    if (this.draining) return;
    this.draining = true;
    this.credit = 0;
    const ch = this.channel;
    if (ch === undefined) {
      this.stopAnswered = true;
      this.settle();
      return;
    }
    this.sendStop(ch);
  }

  /** Close the channel once every outcome is acknowledged, then exit 0. */
  retire(): void {
    this.retiring = true;
    this.pause();
    this.settle();
  }

  /** The gateway gave the lease up (cancelled, expired): the handler sees its signal, nothing is reported. */
  cancel(id: string): void {
    const m = this.mine.get(id);
    if (m !== undefined) m.abandoned = true;
  }

  /** The gateway answered a progress line: the lease is gone (as a 409 to a progress request). */
  private leaseGone(ids: readonly string[]): void {
    for (const id of ids) {
      const m = this.mine.get(id);
      if (m === undefined) continue;
      m.abandoned = true;
      this.deps.runtime.cancel(id);
    }
  }

  /**
   * ctx.updateProgress: to the gateway on the channel (in order with the task's outcome), and to
   * the supervisor, which extends the task's deadline. Without a channel the supervisor sends it.
   */
  private progress(m: Mine, value: number, message: string | undefined): void {
    if (m.abandoned) return;
    const { task } = m;
    const ch = this.channel;
    const sent = ch?.writable === true;
    if (sent) ch.progress(task.id, task.leaseId, value, message);
    // The deadline moves in the journal; the supervisor hears of progress only when it must send it.
    const journaled = m.slot !== undefined && this.journal?.put(m.slot, this.entry(task)) === true;
    if (!journaled || !sent) this.deps.notify({ t: "progress", id: task.id, value, ...(message === undefined ? {} : { message }), ...(sent ? { sent: true } : {}) });
  }

  /** A task's journal entry: its deadline runs from now (the lease's arrival, or progress). */
  private entry(task: LeasedTask): JournalEntry {
    return { id: task.id, leaseId: task.leaseId, attempt: task.attempt, timeoutSeconds: task.timeoutSeconds, deadline: this.deps.clock.now() + task.timeoutSeconds * 1000 };
  }

  /**
   * Records a grant's tasks in the journal, one write; those that are not (no journal, no free
   * slot, an entry too large, a failed write) the supervisor is told of by `started`.
   */
  private record(run: readonly Mine[]): readonly StartedTask[] {
    const journal = this.journal;
    if (run.length === 1 && journal !== undefined) return this.recordOne(journal, run[0]);
    const staged: { m: Mine; slot: number }[] = [];
    const told: StartedTask[] = [];
    for (const m of run) {
      const slot = journal === undefined ? undefined : this.freeSlots.pop();
      if (slot === undefined) told.push(startedOf(m.task));
      else staged.push({ m, slot });
    }
    if (journal === undefined || staged.length === 0) return told;
    const recorded = journal.putMany(staged.map(({ m, slot }) => ({ slot, entry: this.entry(m.task) })));
    for (const { m, slot } of staged) {
      if (recorded.has(slot)) {
        m.slot = slot;
      } else {
        this.freeSlots.push(slot);
        told.push(startedOf(m.task));
      }
    }
    return told;
  }

  /** record() of a grant of one task (the usual one): one write, nothing staged. */
  private recordOne(journal: JournalWriter, m: Mine | undefined): readonly StartedTask[] {
    if (m === undefined) return [];
    const slot = this.freeSlots.pop();
    if (slot !== undefined && journal.put(slot, this.entry(m.task))) {
      m.slot = slot;
      return NONE_TOLD;
    }
    if (slot !== undefined) this.freeSlots.push(slot);
    return [startedOf(m.task)];
  }

  private sendStop(ch: WorkerChannel): void {
    ch.stop();
    // Grants the gateway wrote before it read the stop still arrive and run; older gateways never answer.
    const wait = this.deps.clock.sleep(GATEWAY_WAIT_MS).catch(() => undefined);
    void Promise.race([ch.stopAnswered, wait]).then(() => {
      this.stopAnswered = true;
      this.settle();
    });
  }

  private topUp(): void {
    const ch = this.channel;
    if (ch === undefined || !ch.writable || !this.accepting || this.draining) return;
    const delta = this.grant.concurrency - this.mine.size - this.credit;
    if (delta === 0) return;
    ch.want(delta);
    this.credit = Math.max(0, this.credit + delta);
  }

  private leased(tasks: LeasedTask[]): void {
    hop("k.recv");
    this.credit = Math.max(0, this.credit - tasks.length);
    const run: Mine[] = [];
    // A supervisor killed on its own (outside a container): nobody would enforce deadlines or
    // report a crash; this process is about to exit too.
    if (!this.deps.supervised()) this.accepting = false;
    for (const task of tasks) {
      const refused = !this.accepting ? "the worker cannot take tasks now (it is being restarted or its supervisor is gone)" : this.mine.has(task.id) ? `task ${task.id} is already running on this worker` : this.mine.size >= this.grant.concurrency ? "the worker has no free slot" : undefined;
      if (refused !== undefined) {
        // As the supervisor answers a task it cannot take: back to the queue, the attempt not counted.
        this.report(task, resultItem(task.id, task.leaseId, { error: { type: "Disrupted", exitCode: undefined, message: refused } }));
        continue;
      }
      const m: Mine = { task, abandoned: false, slot: undefined };
      this.mine.set(task.id, m);
      run.push(m);
    }
    const started = this.record(run);
    if (started.length > 0) this.deps.notifyNow({ t: "started", tasks: [...started] });
    for (const m of run) {
      const { task } = m;
      // A leased task has every field of a task to run (and its lease's, which run() does not read).
      void this.deps.runtime.run(task, (outcome) => this.finished(m, outcome), (value, message) => this.progress(m, value, message));
    }
    this.topUp();
  }

  private finished(m: Mine, outcome: ChildOutcome): void {
    hop("k.send");
    const { task } = m;
    this.mine.delete(task.id);
    const error: WireFailure | undefined = "error" in outcome ? outcome.error : undefined;
    const fatal = error?.type === "Fatal";
    const tell = m.slot === undefined || fatal || (error?.type === "UserError" && this.grant.restartOnError) || !this.accepting || this.draining || this.retiring;
    // The slot is cleared right after the outcome's line is written, in this turn: not on the
    // outcome's way out, and never before it left (a crash in between has the supervisor report a
    // failure too, which the gateway answers 409: it keeps the first outcome). Cleared now when no
    // line follows or the supervisor is told `ended`. A Fatal's slot stays: the supervisor reads it
    // when it hears `ended`, and reports the task.
    if (m.slot !== undefined && !fatal) {
      if (tell || m.abandoned) this.freeSlot(m.slot);
      else this.clearAfterWrite.set(task.id, m.slot);
    }
    if (tell) this.deps.notify(error === undefined ? { t: "ended", id: task.id } : { t: "ended", id: task.id, error });
    // A FatalError: the supervisor reports it and ends this process at once.
    if (fatal) return;
    if (error?.type === "UserError" && this.grant.restartOnError) this.pause();
    if (!m.abandoned) {
      const item = "output" in outcome ? resultItem(task.id, task.leaseId, { output: outcome.output }) : resultItem(task.id, task.leaseId, { error: { type: outcome.error.type, exitCode: EXIT_CODES[outcome.error.type], message: outcome.error.message } });
      this.report(task, item);
    }
    this.topUp();
    this.settle();
  }

  /**
   * Sends an outcome with the others of this turn (a microtask, not setImmediate: a lone outcome
   * leaves before the event loop polls again); each is answered by its acknowledgement.
   */
  private report(task: LeasedTask, item: string): void {
    this.unacked++;
    this.outbox.push(new Outgoing(task.id, item, this.answered));
    if (this.outboxScheduled) return;
    this.outboxScheduled = true;
    queueMicrotask(this.sendOutbox);
  }

  private readonly sendOutbox = (): void => {
    this.outboxScheduled = false;
    const all = this.outbox;
    this.outbox = [];
    const ch = this.channel;
    if (ch?.writable !== true) {
      for (const o of all) o.lost();
      return;
    }
    let from = 0;
    let bytes = 0;
    for (let i = 0; i < all.length; i++) {
      const size = all[i]?.item.length ?? 0;
      if (i > from && bytes + size > MAX_RESULTS_BYTES) {
        this.sendLine(ch, all.slice(from, i));
        from = i;
        bytes = 0;
      }
      bytes += size;
    }
    this.sendLine(ch, from === 0 ? all : all.slice(from));
  };

  private sendLine(ch: WorkerChannel, line: readonly Outgoing[]): void {
    const open = ch.writable;
    ch.sendResults(line);
    // Written: their journal slots are cleared (on a closed channel each was handed to the supervisor).
    if (open && this.clearAfterWrite.size > 0) this.written(line.map((o) => o.id));
  }

  /** An outcome's answer; undefined: none will come. */
  private readonly answered = (o: Outgoing, ack: ResultAck | undefined): void => {
    if (ack === undefined) {
      // The channel closed or the gateway could not take it: the supervisor sends it (and retries).
      this.written([o.id]);
      this.deps.notify({ t: "report", id: o.id, item: o.item });
    } else if (ack.status !== 200 && ack.status !== 409) {
      this.deps.log(`hearth worker: reporting task ${o.id} failed: HTTP ${ack.status}: ${ack.message ?? ""}`);
    }
    this.unacked--;
    this.settle();
  };

  private freeSlot(slot: number): void {
    this.journal?.clear(slot);
    this.freeSlots.push(slot);
  }

  /** These tasks' outcome lines were written (or will be sent by the supervisor): their slots are cleared. */
  private written(ids: readonly string[]): void {
    if (this.clearAfterWrite.size === 0) return;
    const slots: number[] = [];
    for (const id of ids) {
      const slot = this.clearAfterWrite.get(id);
      if (slot === undefined) continue;
      this.clearAfterWrite.delete(id);
      slots.push(slot);
    }
    // One write for the outcomes of one results line.
    this.journal?.clearMany(slots);
    this.freeSlots.push(...slots);
  }

  /** Drained or retired once nothing runs and every outcome is answered. */
  private settle(): void {
    if (this.mine.size > 0 || this.unacked > 0) return;
    if (this.draining && this.stopAnswered && !this.drainedSent) {
      this.drainedSent = true;
      this.channel?.close();
      this.deps.notify({ t: "drained" });
    }
    if (this.retiring) {
      this.retiring = false;
      const ch = this.channel;
      ch?.close();
      const wait = this.deps.clock.sleep(GATEWAY_WAIT_MS).catch(() => undefined);
      void Promise.race([ch?.closed ?? Promise.resolve(), wait]).then(() => this.deps.exit(0));
    }
  }
}
