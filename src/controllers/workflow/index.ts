// The Workflow controller as `hearth operator` lists it.
import type { ControllerDefinition } from "../../operator/controller.ts";
import { CONTROLLER_NAME, WorkflowController } from "./controller.ts";

export { WorkflowController, type WorkflowControllerOptions } from "./controller.ts";
export { planWorkflow, type WorkflowPlan, type WorkflowPlanInput } from "./plan.ts";

/** The Workflow controller; it reads the shared Function cache. */
export function workflowController(): ControllerDefinition {
  return {
    name: CONTROLLER_NAME,
    setup({ manager, config }) {
      new WorkflowController(manager, { gatewayUrl: config.gateway.url, resyncMs: 600_000 });
    },
  };
}
