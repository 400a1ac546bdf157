// A FIFO with O(1) push/shift that also takes items back at the front (a lease that never
// reached its worker goes back first, not last).

export class Deque<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  unshift(item: T): void {
    if (this.head > 0) {
      this.head--;
      this.items[this.head] = item;
    } else {
      this.items.unshift(item);
    }
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head++;
    // Compact now and then so the array does not grow without bound.
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  /** Removes every item `drop` says yes to; O(n), for rare cleanups. */
  removeWhere(drop: (item: T) => boolean): number {
    const kept: T[] = [];
    let removed = 0;
    for (let i = this.head; i < this.items.length; i++) {
      const item = this.items[i];
      if (item === undefined) continue;
      if (drop(item)) removed++;
      else kept.push(item);
    }
    this.items = kept;
    this.head = 0;
    return removed;
  }
}
