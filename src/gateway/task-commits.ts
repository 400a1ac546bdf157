// Outcomes become visible only once durable: a task's outcome is staged with the store, and
// published (the task finished for everyone) once its commit is done. Until then the task stays
// active as it was, so a kill -9 before the commit re-runs a task nobody saw finish. A failed
// commit is retried: the outcome is already decided. A keyless :run's outcome is published once
// crash-safe: appended to the store's run log (run-log.ts), before its SQLite commit and fsync
// (docs/protocol.md, "Durability").
import type { TaskError } from "../protocol/index.ts";
import type { Clock } from "../kube/clock.ts";
import type { TaskStore } from "./store.ts";
import { toRow, type Finishing, type Task } from "./task-model.ts";

export interface CommitDeps {
  store: TaskStore;
  clock: Clock;
  log?: ((msg: string, fields?: Record<string, unknown>) => void) | undefined;
  /** Wait before committing again an outcome whose commit failed. Default 1 s. */
  commitRetryMs?: number | undefined;
  /** The outcome is durable and on the task: tell everyone (before the finish promise resolves). */
  published: (task: Task, f: Finishing) => void;
}

export class TaskCommits {
  private readonly d: CommitDeps;

  constructor(deps: CommitDeps) {
    this.d = deps;
  }

  /** Ends a task (its lease and queue place already dropped): resolves once the outcome is published. */
  finish(task: Task, status: Finishing["status"], error: TaskError | null, runMs?: number, output: string | null = null, leaseId?: string): Promise<Task> {
    let resolve = (_t: Task): void => {};
    const done = new Promise<Task>((r) => (resolve = r));
    task.finishing = { status, error, output, finishedAt: this.d.clock.now(), runMs, leaseId, done, resolve };
    task.lease = undefined;
    task.stageTimer?.cancel();
    task.stageTimer = undefined;
    this.commit(task);
    return done;
  }

  private commit(task: Task): void {
    const f = task.finishing;
    if (f === undefined) return;
    const row = { ...toRow(task), status: f.status, error: f.error, output: f.output, finishedAt: f.finishedAt, input: null };
    // A :run's caller has the answer on its connection: crash-safe is enough to send it. The run
    // log makes it so at once (store.saveLogged); without one, SQLite's commit does.
    if (task.answerWhenWritten === true && this.d.store.saveLogged(row)) {
      queueMicrotask(() => this.publish(task));
      return;
    }
    this.d.store.save(row);
    (task.answerWhenWritten === true ? this.d.store.written() : this.d.store.committed()).then(
      () => this.publish(task),
      (err: unknown) => {
        this.d.log?.("committing a task's outcome failed; retrying", { task: task.id, err: String(err) });
        this.d.clock.setTimer(this.d.commitRetryMs ?? 1000, () => this.commit(task));
      },
    );
  }

  /** The outcome is durable: now the task is finished for everyone. */
  private publish(task: Task): void {
    const f = task.finishing;
    if (f === undefined) return;
    task.finishing = undefined;
    task.status = f.status;
    task.error = f.error;
    task.output = f.output;
    task.finishedAt = f.finishedAt;
    task.input = null;
    this.d.published(task, f);
    f.resolve(task);
  }
}
