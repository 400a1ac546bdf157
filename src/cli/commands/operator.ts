// `hearth operator`: runs the controllers. Settings come from a config file (the Helm chart
// mounts a ConfigMap); anything wrong with it stops the operator before it touches the cluster.
import { parseArgs } from "node:util";
import { pino } from "pino";
import { ConfigError, loadOperatorConfig, parseOperatorConfig, readSigningKey, type LoadedConfig } from "../../operator/config.ts";
import type { ControllerDefinition } from "../../operator/controller.ts";
import { startOperator } from "../../operator/operator.ts";
import { functionController } from "../../controllers/function/index.ts";
import { autoscalerController } from "../../controllers/autoscaler/controller.ts";
import { setupStatusController } from "../../controllers/setup-status/index.ts";
import { jobController } from "../../controllers/job/index.ts";
import { workflowController } from "../../controllers/workflow/index.ts";

export const summary = "run the operator (Function, Job and Workflow controllers, leader election, /healthz /readyz /metrics)";

/** Every controller the operator runs: the one list (src/controllers/README.md). */
export function controllers(): ControllerDefinition[] {
  return [functionController(), jobController(), workflowController(), autoscalerController(), setupStatusController()];
}

const USAGE = `usage: hearth operator [--config FILE] [--kubeconfig FILE] [--id NAME] [--port N] [--log-level LEVEL]

  --config       operator config (YAML or JSON); default $HEARTH_OPERATOR_CONFIG, else built-in
                 defaults. $HEARTH_SIGNING_KEY_FILE overrides workerTokens (the key file)
  --kubeconfig   default $KUBECONFIG, the in-cluster service account, then ~/.kube/config
  --id           lease holder identity; default $POD_NAME or hostname + random suffix
  --port         overrides server.port (0 = any free port; the log says which)
  --log-level    overrides logLevel`;

export async function run(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        config: { type: "string" },
        kubeconfig: { type: "string" },
        id: { type: "string" },
        port: { type: "string" },
        "log-level": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    }));
  } catch (err) {
    console.error(`hearth operator: ${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`);
    return 2;
  }
  if (values.help === true) {
    console.log(USAGE);
    return 0;
  }

  let loaded: LoadedConfig;
  try {
    const path = values.config ?? process.env["HEARTH_OPERATOR_CONFIG"];
    const keyFile = process.env["HEARTH_SIGNING_KEY_FILE"];
    if (path !== undefined) {
      loaded = await loadOperatorConfig(path, keyFile !== undefined ? { signingKeyFile: keyFile } : {});
    } else {
      const config = parseOperatorConfig(keyFile !== undefined ? { workerTokens: { signingKeyFile: keyFile } } : {}, "default operator config");
      loaded = { config, signingKey: await readSigningKey(config) };
    }
    if (values.port !== undefined) {
      const port = Number(values.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`--port ${values.port} is not a port number`);
      loaded.config.server.port = port;
    }
    if (values["log-level"] !== undefined) {
      loaded.config = parseOperatorConfig({ ...loaded.config, logLevel: values["log-level"] }, "--log-level");
    }
  } catch (err) {
    console.error(`hearth operator: ${err instanceof Error ? err.message : String(err)}`);
    return 2;
  }

  const logger = pino({ level: loaded.config.logLevel, base: { component: "hearth-operator" } });
  let lost = false;
  const op = await startOperator({
    config: loaded.config,
    signingKey: loaded.signingKey,
    logger,
    ...(values.kubeconfig !== undefined ? { kubeconfig: values.kubeconfig } : {}),
    ...((values.id ?? process.env["POD_NAME"]) !== undefined ? { identity: values.id ?? process.env["POD_NAME"] ?? "" } : {}),
    onLostLeadership: () => {
      lost = true;
    },
    controllers: controllers(),
  });
  const onSignal = (sig: string): void => {
    logger.info({ signal: sig }, "shutting down");
    void op.stop();
  };
  process.once("SIGTERM", () => onSignal("SIGTERM"));
  process.once("SIGINT", () => onSignal("SIGINT"));
  const why = await op.done;
  await op.stop();
  logger.info({ why }, "operator stopped");
  // Losing the lease exits non-zero: the pod restarts and campaigns again as a standby.
  return lost ? 1 : 0;
}
