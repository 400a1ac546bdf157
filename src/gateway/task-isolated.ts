// The engine's side of isolated calls (src/gateway/isolated/). An isolated task is queued until
// the pod of its batch Job claims it, then running. Its output comes from that pod (complete,
// with the claim's leaseId); everything else (waiting reasons, retries, the failure and its
// class) from the Job's status, through these hooks.
import type { TaskError } from "../protocol/index.ts";
import type { Clock } from "../kube/clock.ts";
import type { FunctionQueues } from "./function-queues.ts";
import type { FunctionRegistry } from "./registry.ts";
import type { TaskEvents } from "./task-events.ts";
import { EngineError, type EngineMetrics, type Finishing, type LeaseGrant, type LeaseIds, type Task, type TaskWaiting } from "./task-model.ts";

export interface IsolatedDeps {
  active: Map<string, Task>;
  queues: FunctionQueues;
  registry: FunctionRegistry;
  events: TaskEvents;
  clock: Clock;
  leaseIds: LeaseIds;
  metrics?: EngineMetrics | undefined;
  mintToken?: ((task: Task, deadline: number) => string) | undefined;
  get(id: string): Task | undefined;
  save(task: Task): void;
  finish(task: Task, status: Finishing["status"], error: TaskError | null, runMs?: number, output?: string | null): Promise<Task>;
}

export class IsolatedTasks {
  private readonly d: IsolatedDeps;

  constructor(deps: IsolatedDeps) {
    this.d = deps;
  }

  /**
   * Every active isolated task. After a restart the flag is not stored: it comes back from the
   * Function's settings once the registry has synced.
   */
  all(): Task[] {
    const out: Task[] = [];
    for (const task of this.d.active.values()) {
      if (task.isolated !== true && task.status === "queued" && this.d.registry.get(task.namespace, task.name)?.invocation === "isolated") task.isolated = true;
      if (task.isolated === true) out.push(task);
    }
    return out;
  }

  /**
   * The pod of an isolated task's Job starts an attempt: a lease with no gateway deadline (the
   * runtime and the Job's activeDeadlineSeconds enforce it). A repeated claim by the same pod
   * gets the same lease.
   */
  claim(id: string, workerId: string): LeaseGrant {
    const task = this.d.active.get(id);
    if (task === undefined) {
      if (this.d.get(id) === undefined) throw new EngineError("NotFound", `task ${id} not found`);
      throw new EngineError("Conflict", `task ${id} is finished or cancelled`);
    }
    if (task.isolated !== true) throw new EngineError("Conflict", `task ${id} is not an isolated call`);
    if (task.finishing !== undefined) throw new EngineError("Conflict", `task ${id} is finishing`);
    const timeoutSeconds = task.timeoutSeconds ?? this.d.registry.get(task.namespace, task.name)?.timeoutSeconds ?? 300;
    const now = this.d.clock.now();
    if (task.lease?.workerId !== workerId) {
      // Running without a lease: the Job's status already counted this pod's attempt.
      if (task.status !== "running" || task.lease !== undefined) task.attempts++;
      this.running(task);
      task.lease = { leaseId: this.d.leaseIds.next(), workerId, deadline: now + timeoutSeconds * 1000, leasedAt: now, timeoutSeconds };
      this.d.save(task);
      this.d.events.emit(task.id, { type: "status", task });
    }
    const lease = task.lease;
    const grant: LeaseGrant = { id: task.id, attempt: task.attempts, leaseId: lease.leaseId, input: task.input ?? "null", encoding: task.encoding, deadline: lease.deadline, timeoutSeconds };
    if (this.d.mintToken !== undefined) grant.token = this.d.mintToken(task, lease.deadline);
    return grant;
  }

  /** The Job's view while it runs: an attempt is running, or it waits (pending, unschedulable, backing off). */
  observed(id: string, seen: { state: "running"; started: number } | { state: "waiting"; ended: number; waiting: TaskWaiting }): void {
    const task = this.d.active.get(id);
    if (task?.isolated !== true || task.finishing !== undefined) return;
    const before = `${task.status}/${task.attempts}/${task.waiting?.reason ?? ""}/${task.waiting?.message ?? ""}`;
    if (seen.state === "running") {
      this.running(task);
      if (seen.started > task.attempts) {
        // A newer attempt than the one holding the lease: that pod is gone.
        task.attempts = seen.started;
        task.lease = undefined;
      }
    } else if (task.status === "queued" || seen.ended >= task.attempts) {
      // A waiting Job whose count of ended attempts is behind the pod's claim is a stale view.
      const q = this.d.queues.of(task);
      if (task.status === "running") {
        q.running.delete(task.id);
        q.queued++;
        task.status = "queued";
        task.lease = undefined;
      }
      task.attempts = Math.max(task.attempts, seen.ended);
      task.waiting = seen.waiting;
    }
    const after = `${task.status}/${task.attempts}/${task.waiting?.reason ?? ""}/${task.waiting?.message ?? ""}`;
    if (after !== before) {
      this.d.save(task);
      this.d.events.emit(task.id, { type: "status", task });
    }
  }

  /** The Job ended without the pod's output reaching the gateway: its fallback output, or its failure. */
  finished(id: string, end: { output: string; attempts: number } | { error: TaskError; attempts: number } | { cancelled: string }): void {
    const task = this.d.active.get(id);
    if (task?.isolated !== true || task.finishing !== undefined) return;
    const q = this.d.queues.of(task);
    if (task.status === "queued") q.queued--;
    q.running.delete(task.id);
    task.lease = undefined;
    if ("cancelled" in end) {
      void this.d.finish(task, "cancelled", { type: "Cancelled", message: end.cancelled, attempt: task.attempts });
      return;
    }
    task.attempts = Math.max(task.attempts, end.attempts);
    const runMs = task.startedAt === null ? undefined : this.d.clock.now() - task.startedAt;
    if ("output" in end) void this.d.finish(task, "succeeded", null, runMs, end.output);
    else void this.d.finish(task, "failed", end.error, runMs);
  }

  /**
   * After a gateway restart the pod of an isolated call still holds the lease it claimed from the
   * previous process (leases are not stored). Its progress and output are taken: the lease is
   * adopted when the task holds none and the lease was not granted by this process (a lease this
   * process granted and then dropped stays refused). docs/protocol.md "Gateway restarts".
   */
  adoptLease(task: Task, leaseId: string): boolean {
    if (task.isolated !== true || task.lease !== undefined || task.finishing !== undefined) return false;
    if (leaseId === "" || this.d.leaseIds.ours(leaseId)) return false;
    if (task.status === "queued" && task.attempts === 0) task.attempts = 1;
    this.running(task);
    const now = this.d.clock.now();
    const timeoutSeconds = task.timeoutSeconds ?? this.d.registry.get(task.namespace, task.name)?.timeoutSeconds ?? 300;
    task.lease = { leaseId, workerId: `${task.id}/adopted`, deadline: now + timeoutSeconds * 1000, leasedAt: now, timeoutSeconds };
    this.d.save(task);
    this.d.events.emit(task.id, { type: "status", task });
    return true;
  }

  private running(task: Task): void {
    if (task.status !== "queued") return;
    const q = this.d.queues.of(task);
    q.queued--;
    task.status = "running";
    task.waiting = undefined;
    q.running.set(task.id, task);
    if (task.startedAt === null) {
      task.startedAt = this.d.clock.now();
      this.d.metrics?.taskStarted(task, task.startedAt - task.createdAt);
    }
  }
}
