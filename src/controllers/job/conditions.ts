// metav1.Condition bookkeeping: a condition keeps its lastTransitionTime until its status flips.
import type { Condition } from "../../api/v1alpha1/index.ts";

export interface DesiredCondition {
  readonly type: string;
  readonly status: Condition["status"];
  readonly reason: string;
  readonly message: string;
}

/**
 * The conditions to store: exactly `desired` (other types are dropped), each keeping the
 * previous lastTransitionTime when its status did not change.
 */
export function reconcileConditions(
  previous: readonly Condition[] | undefined,
  desired: readonly DesiredCondition[],
  generation: number | undefined,
  now: string,
): Condition[] {
  return desired.map((d) => {
    const old = previous?.find((c) => c.type === d.type);
    const c: Condition = {
      type: d.type,
      status: d.status,
      reason: d.reason,
      message: d.message,
      lastTransitionTime: old !== undefined && old.status === d.status ? old.lastTransitionTime : now,
    };
    if (generation !== undefined) c.observedGeneration = generation;
    return c;
  });
}

export function findCondition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

export function isConditionTrue(conditions: readonly Condition[] | undefined, type: string): boolean {
  return findCondition(conditions, type)?.status === "True";
}
