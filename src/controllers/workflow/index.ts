// The Workflow controller as the operator plugs it in: `startOperator({controllers: [workflowController()]})`.
import type { ControllerFactory } from "../../operator/operator.ts";
import { WorkflowController } from "./controller.ts";

export { WorkflowController, type WorkflowControllerOptions } from "./controller.ts";
export { planWorkflow, type WorkflowPlan, type WorkflowPlanInput } from "./plan.ts";

/** Registers the Workflow controller on the operator's manager, sharing the Function informer. */
export function workflowController(): ControllerFactory {
  return (manager, { config, functions }) => {
    new WorkflowController(manager, { functions: functions.functions, gatewayUrl: config.gateway.url, resyncMs: 600_000 });
  };
}
