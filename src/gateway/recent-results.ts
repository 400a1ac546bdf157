// Finished tasks kept in memory for the reads that usually follow at once (a :push's caller
// polling, the console), within a count and a byte budget (outputs may be megabytes); older ones
// are read from the store.
import { OldestKey } from "./oldest-key.ts";
import type { Task } from "./task-model.ts";

const RECENT_MAX_OUTPUT = 256 * 1024;
const RECENT_MAX_BYTES = 64 * 1024 * 1024;

export class RecentResults {
  private readonly tasks = new Map<string, Task>();
  /** Evicting one task per finished task from a full cache: not Map.keys().next() (oldest-key.ts). */
  private readonly oldest = new OldestKey(this.tasks);
  private readonly limit: number;
  private bytes = 0;

  constructor(limit = 10_000) {
    this.limit = limit;
  }

  get size(): number {
    return this.tasks.size;
  }

  /** The bytes of output kept (what the byte budget counts). */
  get outputBytes(): number {
    return this.bytes;
  }

  get(id: string): Task | undefined {
    return this.tasks.get(id);
  }

  values(): IterableIterator<Task> {
    return this.tasks.values();
  }

  /** Keeps a finished task, dropping the oldest beyond the budget; an over-large output is not kept. */
  remember(task: Task): void {
    const size = task.output?.length ?? 0;
    if (size > RECENT_MAX_OUTPUT) return;
    // A task kept again keeps its place (a Map's key does) and is counted once.
    this.bytes -= this.tasks.get(task.id)?.output?.length ?? 0;
    this.tasks.set(task.id, task);
    this.bytes += size;
    while (this.tasks.size > this.limit || this.bytes > RECENT_MAX_BYTES) {
      const id = this.oldest.next();
      if (id === undefined) break;
      this.forget(id);
    }
  }

  forget(id: string): void {
    const t = this.tasks.get(id);
    if (t === undefined) return;
    this.tasks.delete(id);
    this.bytes -= t.output?.length ?? 0;
  }
}
