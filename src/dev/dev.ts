// `hearth dev`: everything Hearth is, on one laptop. A real control plane with fake GPU nodes
// (or an existing cluster), the CRDs, the operator, the gateway, and the local runner that gives
// every warm worker pod a real runtime process. Operator and gateway run as child processes, the
// same commands as in a cluster; everything stops together.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import type { Logger } from "pino";
import { stringify } from "yaml";
import { allCrds } from "../api/crd.ts";
import { callerClusterRoles } from "../auth/cluster-roles.ts";
import { SystemClock } from "../kube/clock.ts";
import { createClient, type KubeClient } from "../kube/client.ts";
import { fromKubeconfigFile } from "../kube/kubeconfig.ts";
import { untyped } from "../kube/resources.ts";
import type { OperatorConfigInput } from "../operator/config.ts";
import { prefixLines, stopProcessGroup } from "./child-io.ts";
import { LocalRunner } from "./runner.ts";
import { FAKE_POD_ANNOTATIONS, FAKE_RUN_EXTERNAL } from "../devcluster/annotations.ts";

const clusterRoleResource = untyped({ group: "rbac.authorization.k8s.io", version: "v1", kind: "ClusterRole", plural: "clusterroles", namespaced: false });
/** The chart's default release name: dev mode's ClusterRoles carry the names a cluster's have. */
export const DEV_ROLE_PREFIX = "hearth";
const crdResource = untyped({ group: "apiextensions.k8s.io", version: "v1", kind: "CustomResourceDefinition", plural: "customresourcedefinitions", namespaced: false });

export interface DevOptions {
  repoRoot: string;
  /** Where keys, config, the gateway's store and logs go (default .hearth/dev). */
  stateDir: string;
  kubeconfig: string;
  /** Watch only these namespaces (default all). */
  namespaces: string[];
  gatewayPort: number;
  logger: Logger;
  python: string;
}

export interface DevEnvironment {
  gatewayURL: string;
  callerToken: string;
  runner: LocalRunner;
  /** The workers' log files (`hearth logs --logs-dir`, $HEARTH_LOGS_DIR). */
  logsDir: string;
  client: KubeClient;
  /** Settles when the operator or the gateway exits on its own. */
  failure: Promise<Error>;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** The operator config of dev mode: the fake nodes' GPU sharing, the local gateway, no leader election. */
export function devOperatorConfig(o: { gatewayURL: string; signingKeyFile: string; callerTokenFile: string; namespaces: string[] }): OperatorConfigInput {
  return {
    gateway: { url: o.gatewayURL },
    gatewayClient: { callerTokenFile: o.callerTokenFile },
    workerTokens: { signingKeyFile: o.signingKeyFile },
    namespaces: o.namespaces,
    leaderElection: { enabled: false },
    server: { host: "127.0.0.1", port: 0 },
    // The default fake nodes (src/devcluster) advertise time-sliced T4s as nvidia.com/gpu.shared, 4 per GPU.
    gpu: { strategy: "timeSlicing", timeSlicing: { replicas: 4, resourceName: "nvidia.com/gpu.shared", failRequestsGreaterThanOne: true } },
    // Batch Job pods wait for the local runner, which runs them for real and reports their exit.
    pod: { annotations: { [FAKE_POD_ANNOTATIONS.run]: FAKE_RUN_EXTERNAL } },
  };
}

async function waitForHttp(url: string, timeoutMs: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`process exited with ${child.exitCode} before ${url} answered`);
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} did not answer within ${timeoutMs / 1000}s`);
}

function startChild(name: string, args: string[], opts: DevOptions, env: Record<string, string> = {}): ChildProcess {
  const child = spawn(process.execPath, [join(opts.repoRoot, "src", "cli", "main.ts"), ...args], {
    cwd: opts.repoRoot,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  const write = (line: string) => process.stdout.write(line + "\n");
  prefixLines(child.stdout, `[${name}] `, write);
  prefixLines(child.stderr, `[${name}] `, write);
  return child;
}

/** Starts CRDs, gateway, operator and runner against the cluster in `opts.kubeconfig`. */
export async function startDev(opts: DevOptions): Promise<DevEnvironment> {
  const log = opts.logger;
  mkdirSync(opts.stateDir, { recursive: true });
  const signingKeyFile = join(opts.stateDir, "signing-key");
  const tokensFile = join(opts.stateDir, "caller-tokens");
  const callerToken = randomBytes(24).toString("base64url");
  writeFileSync(signingKeyFile, randomBytes(32).toString("base64url"), { mode: 0o600 });
  writeFileSync(tokensFile, callerToken + "\n", { mode: 0o600 });

  const client = createClient({ connection: await fromKubeconfigFile(opts.kubeconfig), clock: new SystemClock(), fieldManager: "hearth-dev" });
  log.info("installing the Hearth CRDs");
  for (const crd of allCrds()) await client.apply(crdResource, crd as { metadata: { name: string } });
  // The chart's caller ClusterRoles (hearth-edit, -view, -invoker): Kubernetes tokens work here as
  // in a cluster, so a team's RoleBinding can be tried locally.
  log.info("installing the Hearth caller ClusterRoles (hearth-edit, hearth-view, hearth-invoker)");
  for (const role of callerClusterRoles(DEV_ROLE_PREFIX, { "app.kubernetes.io/part-of": "hearth", "app.kubernetes.io/managed-by": "hearth-dev" })) {
    try {
      await client.apply(clusterRoleResource, { ...role });
    } catch (err) {
      log.warn({ err, role: role.metadata.name }, "cannot install a caller ClusterRole (Kubernetes tokens will need your own RBAC)");
    }
  }

  const gatewayURL = `http://127.0.0.1:${opts.gatewayPort}`;
  const nsFlags = opts.namespaces.map((n) => `--namespace=${n}`);
  const gateway = startChild(
    "gateway",
    ["gateway", `--port=${opts.gatewayPort}`, "--host=127.0.0.1", `--store=${join(opts.stateDir, "gateway.db")}`, `--kubeconfig=${opts.kubeconfig}`, `--worker-signing-key-file=${signingKeyFile}`, `--caller-tokens-file=${tokensFile}`, "--kubernetes-auth=on", ...nsFlags],
    opts,
  );
  const configFile = join(opts.stateDir, "operator.yaml");
  writeFileSync(configFile, stringify(devOperatorConfig({ gatewayURL, signingKeyFile, callerTokenFile: tokensFile, namespaces: opts.namespaces })));
  const operator = startChild("operator", ["operator", `--config=${configFile}`, `--kubeconfig=${opts.kubeconfig}`], opts);

  const logsDir = join(opts.stateDir, "logs");
  const runner = new LocalRunner({
    client,
    logsDir,
    namespaces: opts.namespaces,
    logger: log.child({ component: "runner" }),
    tools: { repoRoot: opts.repoRoot, node: process.execPath, python: opts.python, artifactCache: join(opts.stateDir, "artifacts"), pythonEnvs: join(opts.stateDir, "python-envs") },
  });
  const failure = new Promise<Error>((resolve) => {
    gateway.once("exit", (code) => resolve(new Error(`the gateway exited (${String(code)})`)));
    operator.once("exit", (code) => resolve(new Error(`the operator exited (${String(code)})`)));
  });
  const stop = async (): Promise<void> => {
    await runner.stop();
    await Promise.all([stopProcessGroup(operator), stopProcessGroup(gateway)]);
  };
  try {
    await waitForHttp(`${gatewayURL}/readyz`, 60_000, gateway);
  } catch (err) {
    await stop();
    throw err;
  }
  runner.start();
  return { gatewayURL, callerToken, runner, logsDir, client, failure, stop };
}
