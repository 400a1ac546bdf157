// `hearth dev` (the README's `npm start`): a local cluster with fake GPU nodes, the operator, the
// gateway and real worker processes, until Ctrl-C.
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import pino from "pino";
import { DEFAULT_NODES, parseNodesFlag, resolveBinaries, startDevCluster, type DevCluster } from "../../devcluster/index.ts";
import { freePort, startDev, type DevEnvironment } from "../../dev/dev.ts";

export const summary = "run Hearth locally: cluster with fake GPU nodes, operator, gateway, real workers";

const USAGE = `usage: hearth dev [--nodes SPEC] [--kubeconfig FILE] [--namespace NS]... [--gateway-port N]
  --nodes         fake nodes of the local cluster (default ${DEFAULT_NODES}; see \`node hack/cluster.ts nodes\`)
  --kubeconfig    use this cluster instead of starting one (it needs fake nodes to run worker pods)
  --namespace     watch only these namespaces (default all)
  --gateway-port  default 8080, or a free port when 8080 is taken
  --python        interpreter for Python workers (default python3)
  --state-dir     keys, config, the gateway's store and the workers' logs (default .hearth/dev; one per dev mode running at once)`;

const repoRoot = resolve(import.meta.dirname, "..", "..", "..");

async function pickGatewayPort(flag: string | undefined): Promise<number> {
  if (flag !== undefined) {
    const n = Number(flag);
    if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`--gateway-port ${flag} is not a port number`);
    return n;
  }
  const { createServer } = await import("node:net");
  const free8080 = await new Promise<boolean>((r) => {
    const s = createServer();
    s.once("error", () => r(false));
    s.listen(8080, "127.0.0.1", () => s.close(() => r(true)));
  });
  return free8080 ? 8080 : freePort();
}

export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      nodes: { type: "string" },
      kubeconfig: { type: "string" },
      namespace: { type: "string", multiple: true },
      "gateway-port": { type: "string" },
      python: { type: "string" },
      "state-dir": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help === true) {
    console.log(USAGE);
    return 0;
  }
  const logger = pino({ level: process.env["HEARTH_LOG_LEVEL"] ?? "info", base: { component: "dev" } });
  const say = (line: string) => process.stderr.write(line + "\n");
  const nodes = parseNodesFlag(values.nodes ?? DEFAULT_NODES);
  let cluster: DevCluster | undefined;
  let env: DevEnvironment | undefined;
  const shutdown = async (): Promise<void> => {
    say("[hearth-dev] stopping…");
    await env?.stop();
    await cluster?.stop();
  };
  const signals = new Promise<string>((r) => {
    process.once("SIGINT", () => r("SIGINT"));
    process.once("SIGTERM", () => r("SIGTERM"));
  });
  try {
    let kubeconfig = values.kubeconfig;
    if (kubeconfig === undefined) {
      say("[hearth-dev] preparing the control-plane binaries (the first run builds them: 10-30 minutes)");
      const binDir = await resolveBinaries({ buildScript: join(repoRoot, "hack", "build-control-plane.sh"), onProgress: say });
      cluster = await startDevCluster({ binDir, name: "dev", nodes, onProgress: say, ownerPid: process.pid });
      kubeconfig = cluster.kubeconfigPath;
    }
    env = await startDev({
      repoRoot,
      stateDir: values["state-dir"] !== undefined ? resolve(values["state-dir"]) : join(repoRoot, ".hearth", "dev"),
      kubeconfig,
      namespaces: values.namespace ?? [],
      gatewayPort: await pickGatewayPort(values["gateway-port"]),
      logger,
      python: values.python ?? "python3",
    });
    say(banner(kubeconfig, env));
    const why = await Promise.race([signals, env.failure.then((e) => e.message), cluster?.failure.then((e) => e.message) ?? new Promise<never>(() => {})]);
    say(`[hearth-dev] ${why}`);
    await shutdown();
    return why === "SIGINT" || why === "SIGTERM" ? 0 : 1;
  } catch (err) {
    say(`[hearth-dev] ${err instanceof Error ? err.message : String(err)}`);
    await shutdown();
    return 1;
  }
}

function banner(kubeconfig: string, env: DevEnvironment): string {
  return `
Hearth dev mode is up.

  export KUBECONFIG=${kubeconfig}
  export HEARTH_URL=${env.gatewayURL}
  export HEARTH_TOKEN=${env.callerToken}
  export HEARTH_LOGS_DIR=${env.logsDir}

Try it (in another terminal, with the exports above):
  kubectl apply -f examples/echo-cpu/function.yaml
  kubectl get fn -w                                  # READY True once the workers ran setup()
  npm run hearth -- run default/echo '{"name": "Ada"}'
  npm run hearth -- logs fn/echo --follow            # the workers' output (logs task <id>: one task's lines)

The gateway also accepts Kubernetes tokens, authorized by RBAC as in a cluster. A team's access:
  kubectl create namespace team-a && kubectl -n team-a create serviceaccount runner
  kubectl -n team-a create rolebinding runner-invoke --clusterrole=hearth-invoker --serviceaccount=team-a:runner
  HEARTH_TOKEN=$(kubectl -n team-a create token runner) npm run hearth -- run team-a/<function> '{}'

Ctrl-C stops everything.
`;
}
