// Who waits on a thing with an id (a task, a workflow run): waiters for its end (`:run`,
// `GET ?wait=`), each with a timeout on the injected clock or an abort signal, and subscribers to
// its events (SSE). One registry for the task engine (task-events.ts) and the workflow executor.
import type { Clock } from "../kube/clock.ts";

export class Watchers<T, E> {
  private readonly clock: Clock;
  private readonly waiters = new Map<string, Set<(value: T) => void>>();
  private readonly subscribers = new Map<string, Set<(ev: E) => void>>();

  constructor(clock: Clock) {
    this.clock = clock;
  }

  /** Resolves with the value `settle` gives for `id`, or undefined after `ms`/abort. */
  wait(id: string, ms: number, signal?: AbortSignal): Promise<T | undefined> {
    return new Promise((resolve) => {
      let set = this.waiters.get(id);
      if (set === undefined) this.waiters.set(id, (set = new Set()));
      const done = (value: T | undefined): void => {
        timer.cancel();
        signal?.removeEventListener("abort", onAbort);
        set.delete(onSettled);
        if (set.size === 0) this.waiters.delete(id);
        resolve(value);
      };
      const onSettled = (value: T): void => done(value);
      const onAbort = (): void => done(undefined);
      const timer = this.clock.setTimer(ms, () => done(undefined));
      signal?.addEventListener("abort", onAbort, { once: true });
      set.add(onSettled);
    });
  }

  /** Ends every wait for `id` with `value`. */
  settle(id: string, value: T): void {
    const waiters = this.waiters.get(id);
    if (waiters !== undefined) for (const w of [...waiters]) w(value);
  }

  subscribe(id: string, fn: (ev: E) => void): () => void {
    let set = this.subscribers.get(id);
    if (set === undefined) this.subscribers.set(id, (set = new Set()));
    set.add(fn);
    return () => {
      set.delete(fn);
      if (set.size === 0) this.subscribers.delete(id);
    };
  }

  emit(id: string, ev: E): void {
    const subs = this.subscribers.get(id);
    if (subs !== undefined) for (const fn of [...subs]) fn(ev);
  }
}
