// The one contract every controller meets. `hearth operator` (src/cli/commands/operator.ts)
// assembles them in one list; startOperator calls each `setup` once, before the manager starts.
// A controller builds its informers there (the ones other controllers also read through
// `ctx.manager.caches`, so each resource is watched and cached once) and registers either a
// keyed reconcile (`ctx.manager.register`: name, watches, reconcile) or a runnable
// (`ctx.manager.add`, e.g. a stream consumer). See src/controllers/README.md.
import type { OperatorConfig } from "./config.ts";
import type { Manager } from "./manager.ts";

export interface ControllerSetup {
  manager: Manager;
  config: OperatorConfig;
  /** Signs worker tokens (shared with the gateway). */
  signingKey: string;
}

export interface ControllerDefinition {
  /** Shown in logs; the name of the work queue(s) it registers starts with it. */
  readonly name: string;
  /** Builds the controller on the manager; throws a ConfigError for bad settings (the operator does not start). */
  setup(ctx: ControllerSetup): void;
}
