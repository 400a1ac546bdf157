// Who waits on a task: waiters for its end (`:run`, `GET ?wait=`) and subscribers to its events
// (SSE: status, progress, done). The engine tells them; time comes from the injected clock.
import type { Clock } from "../kube/clock.ts";
import type { Task, TaskEvent } from "./task-model.ts";

export class TaskEvents {
  private readonly clock: Clock;
  private readonly waiters = new Map<string, Set<(task: Task) => void>>();
  private readonly subscribers = new Map<string, Set<(ev: TaskEvent) => void>>();

  constructor(clock: Clock) {
    this.clock = clock;
  }

  /** Resolves with the task when `ended` is called for it, or undefined after `ms`/abort. */
  wait(id: string, ms: number, signal?: AbortSignal): Promise<Task | undefined> {
    return new Promise((resolve) => {
      let set = this.waiters.get(id);
      if (set === undefined) this.waiters.set(id, (set = new Set()));
      const done = (task: Task | undefined): void => {
        timer.cancel();
        signal?.removeEventListener("abort", onAbort);
        set.delete(onTerminal);
        if (set.size === 0) this.waiters.delete(id);
        resolve(task);
      };
      const onTerminal = (task: Task): void => done(task);
      const onAbort = (): void => done(undefined);
      const timer = this.clock.setTimer(ms, () => done(undefined));
      signal?.addEventListener("abort", onAbort, { once: true });
      set.add(onTerminal);
    });
  }

  subscribe(id: string, fn: (ev: TaskEvent) => void): () => void {
    let set = this.subscribers.get(id);
    if (set === undefined) this.subscribers.set(id, (set = new Set()));
    set.add(fn);
    return () => {
      set.delete(fn);
      if (set.size === 0) this.subscribers.delete(id);
    };
  }

  emit(id: string, ev: TaskEvent): void {
    const subs = this.subscribers.get(id);
    if (subs !== undefined) for (const fn of [...subs]) fn(ev);
  }

  /** The task is finished for everyone: its waiters, then its subscribers (`done`). */
  ended(task: Task): void {
    const waiters = this.waiters.get(task.id);
    if (waiters !== undefined) for (const w of [...waiters]) w(task);
    this.emit(task.id, { type: "done", task });
  }
}
