// Who waits on a task: waiters for its end (`:run`, `GET ?wait=`) and subscribers to its events
// (SSE: status, progress, done), on the shared registry (watchers.ts).
import type { Task, TaskEvent } from "./task-model.ts";
import { Watchers } from "./watchers.ts";

export class TaskEvents extends Watchers<Task, TaskEvent> {
  /** The task is finished for everyone: its waiters, then its subscribers (`done`). */
  ended(task: Task): void {
    this.settle(task.id, task);
    this.emit(task.id, { type: "done", task });
  }
}
