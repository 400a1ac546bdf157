// Finished tasks kept in memory for the reads that usually follow at once (a :push's caller
// polling, the console), within a count and a byte budget (outputs may be megabytes); older ones
// are read from the store.
import type { Task } from "./task-model.ts";

const RECENT_MAX_OUTPUT = 256 * 1024;
const RECENT_MAX_BYTES = 64 * 1024 * 1024;

export class RecentResults {
  private readonly tasks = new Map<string, Task>();
  /**
   * The tasks in the order they were remembered, oldest from `head` on. The oldest is not found
   * with the Map's `keys().next()`: that walks over every entry deleted since the Map's last
   * rehash, so a full cache (evicting one per task) paid ~7 µs per eviction at 10,000 entries
   * (0.3 µs this way). Entries forgotten out of order (result expiry) are passed over when the
   * front reaches them.
   */
  private order: (Task | undefined)[] = [];
  private head = 0;
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
    const had = this.tasks.get(task.id);
    if (had !== undefined) this.bytes -= had.output?.length ?? 0;
    this.tasks.set(task.id, task);
    this.bytes += size;
    // A task kept again keeps its place (as a Map's key does): it is queued once.
    if (had === undefined) this.order.push(task);
    else if (had !== task) {
      const at = this.order.indexOf(had, this.head);
      if (at >= 0) this.order[at] = task;
    }
    while (this.tasks.size > this.limit || this.bytes > RECENT_MAX_BYTES) {
      const oldest = this.order[this.head];
      if (oldest === undefined) break;
      this.forget(oldest.id);
    }
  }

  forget(id: string): void {
    const t = this.tasks.get(id);
    if (t === undefined) return;
    this.tasks.delete(id);
    this.bytes -= t.output?.length ?? 0;
    this.dropForgottenFront();
  }

  /** Moves `head` past entries no longer kept (no reference to them remains), and now and then drops the consumed front (amortised O(1)). */
  private dropForgottenFront(): void {
    for (;;) {
      const t = this.order[this.head];
      if (t === undefined || this.tasks.get(t.id) === t) break;
      this.order[this.head++] = undefined;
    }
    if (this.head >= 1024 && this.head * 2 >= this.order.length) {
      this.order = this.order.slice(this.head);
      this.head = 0;
    }
  }
}
