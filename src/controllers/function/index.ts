// The Function controller as `hearth operator` lists it. Its settings live under
// `controllers.function` in the operator config.
import type { ControllerDefinition } from "../../operator/controller.ts";
import { FunctionController } from "./controller.ts";
import { CONTROLLER_NAME } from "./names.ts";
import { GatewayTaskDropper } from "./finalizer.ts";

export { FunctionController, type FunctionControllerOptions } from "./controller.ts";

export function functionController(): ControllerDefinition {
  return {
    name: CONTROLLER_NAME,
    setup({ manager, config, signingKey }) {
      const s = config.controllers.function;
      const tasks = s.gatewayFinalizer ? new GatewayTaskDropper(config.gateway.url, signingKey) : undefined;
      new FunctionController({ manager, config, namespaces: config.namespaces, concurrency: s.concurrency, timeoutMs: s.timeoutSeconds * 1000, resyncMs: s.resyncSeconds * 1000, tasks });
    },
  };
}
