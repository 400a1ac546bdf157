// Calls from inside a handler (src/gateway/calls.ts): every unfinished child task under its
// parent, so that cancelling the parent cancels its children, and a child of a parent already
// cancelled is cancelled as it arrives.
import { isTerminal } from "../protocol/index.ts";
import type { Task } from "./task-model.ts";

export interface FamilyDeps {
  /** Any task by id (unfinished, finishing or finished). */
  get(id: string): Task | undefined;
  /** An unfinished task by id. */
  active(id: string): Task | undefined;
  /** Cancels a child because its parent was cancelled. */
  cancelChild(child: Task, parentId: string): void;
}

export class TaskFamily {
  private readonly d: FamilyDeps;
  /** Unfinished tasks started from inside a handler, by their parent. */
  private readonly children = new Map<string, Set<string>>();

  constructor(deps: FamilyDeps) {
    this.d = deps;
  }

  /** Records an unfinished child under its parent; a child of a parent already cancelled is cancelled. */
  adopt(task: Task): void {
    const parentId = task.parentId;
    if (parentId === null || isTerminal(task.status)) return;
    let set = this.children.get(parentId);
    if (set === undefined) this.children.set(parentId, (set = new Set()));
    set.add(task.id);
    const parent = this.d.get(parentId);
    const parentStatus = parent?.finishing?.status ?? parent?.status;
    if (parentStatus === "cancelled") this.d.cancelChild(task, parentId);
  }

  /** A task ended: it leaves its parent's children; if it was cancelled, so are its own children. */
  released(task: Task): void {
    if (task.parentId !== null) {
      const siblings = this.children.get(task.parentId);
      siblings?.delete(task.id);
      if (siblings?.size === 0) this.children.delete(task.parentId);
    }
    const own = this.children.get(task.id);
    if (own === undefined) return;
    if (task.status !== "cancelled") return;
    this.children.delete(task.id);
    for (const id of own) {
      const child = this.d.active(id);
      if (child !== undefined) this.d.cancelChild(child, task.id);
    }
  }

  /** The unfinished tasks `id` started from inside its handler. */
  childrenOf(id: string): string[] {
    return [...(this.children.get(id) ?? [])];
  }
}
