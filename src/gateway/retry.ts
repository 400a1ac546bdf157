// What happens to a task after an attempt ends without a result: the Function's retry policy
// and the contract's table (docs/protocol.md) as one pure decision.
import type { RetryPolicy, TaskErrorType } from "../protocol/index.ts";

export type FailurePlan =
  | { action: "retry"; delayMs: number; countAttempt: boolean }
  | { action: "fail"; countAttempt: boolean };

export interface FailureInput {
  type: TaskErrorType;
  /** Counted attempts including the one that just ended. */
  attempts: number;
  /** Disruptions before this one. */
  disruptions: number;
  policy: RetryPolicy;
  /** A task that keeps killing its workers (say, out of memory) must end some time. */
  maxDisruptions: number;
}

export function backoffMs(policy: RetryPolicy, retry: number): number {
  const seconds = policy.initialBackoffSeconds * policy.multiplier ** Math.max(0, retry - 1);
  return Math.round(Math.min(policy.maxBackoffSeconds, seconds) * 1000);
}

export function planFailure(f: FailureInput): FailurePlan {
  switch (f.type) {
    case "Disrupted":
      // The worker vanished: not the task's fault, so the attempt does not count.
      return f.disruptions + 1 > f.maxDisruptions ? { action: "fail", countAttempt: false } : { action: "retry", delayMs: 0, countAttempt: false };
    case "InputRejected":
    case "BadConfiguration":
    case "Cancelled":
      return { action: "fail", countAttempt: true };
    case "UserError":
    case "Fatal":
    case "Timeout": {
      const retriesUsed = f.attempts - 1;
      if (retriesUsed >= f.policy.maxRetries) return { action: "fail", countAttempt: true };
      return { action: "retry", delayMs: backoffMs(f.policy, retriesUsed + 1), countAttempt: true };
    }
  }
}
