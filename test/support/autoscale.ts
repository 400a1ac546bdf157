// A whole Hearth on the test cluster for the autoscaler's tests and bench: an in-process gateway
// (Functions from the cluster, demand stream), an in-process operator with the autoscaler, and
// the dev-mode local runner giving every warm pod of the namespace a real worker process.
import { dirname, join } from "node:path";
import { pino } from "pino";
import { autoscalerController } from "../../src/controllers/autoscaler/controller.ts";
import { LocalRunner } from "../../src/dev/runner.ts";
import { Gateway } from "../../src/gateway/gateway.ts";
import { kubeWorkerIdentities } from "../../src/gateway/worker-identities.ts";
import { KubeFunctionRegistry } from "../../src/gateway/kube-registry.ts";
import { SystemClock } from "../../src/kube/clock.ts";
import type { KubeClient } from "../../src/kube/client.ts";
import { untyped } from "../../src/kube/resources.ts";
import type { OperatorConfigInput } from "../../src/operator/config.ts";
import { installCrds, startTestOperator, TEST_SIGNING_KEY, testClient, type TestOperator } from "./operator.ts";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";

export const repoRoot = dirname(dirname(dirname(import.meta.filename)));
export const functionsResource = untyped({ group: "hearth.dev", version: "v1alpha1", kind: "Function", plural: "functions", namespaced: true });
export const deploymentsResource = untyped({ group: "apps", version: "v1", kind: "Deployment", plural: "deployments", namespaced: true });
export const eventsResource = untyped({ group: "", version: "v1", kind: "Event", plural: "events", namespaced: true });
export const CALLER_TOKEN = "autoscale-test-caller-token";

export interface Stack {
  client: KubeClient;
  gateway: Gateway;
  operator: TestOperator;
  runner: LocalRunner;
  /** Stops everything (idempotent). */
  stop(): Promise<void>;
  /** Stops only the gateway (the autoscaler then holds its pools). */
  stopGateway(): Promise<void>;
}

/** The gateway and the local runner of a stack, without an operator (tests bring their own, e.g. as processes). */
export interface GatewayAndRunner {
  client: KubeClient;
  gateway: Gateway;
  runner: LocalRunner;
  /** A file holding CALLER_TOKEN: the operator's `gatewayClient.callerTokenFile`. */
  callerTokenFile: string;
  /** Stops the runner, then the gateway (idempotent). */
  stop(): Promise<void>;
  stopGateway(): Promise<void>;
}

export async function startGatewayAndRunner(namespace: string): Promise<GatewayAndRunner> {
  const client = await testClient();
  await installCrds(client);
  const logger = pino({ level: process.env["HEARTH_TEST_LOG"] === "1" ? "debug" : "warn" });
  const registry = new KubeFunctionRegistry({ client, clock: new SystemClock(), logger, namespaces: [namespace] });
  // Workers authenticate as pods do: their projected ServiceAccount token (the runner requests it), reviewed by the apiserver.
  const gateway = await Gateway.start({ storePath: ":memory:", registry, auth: { callerTokens: [CALLER_TOKEN], workerSigningKey: TEST_SIGNING_KEY }, workerIdentities: kubeWorkerIdentities(client, { clock: new SystemClock(), logger, namespaces: [namespace] }), log: logger });
  const dir = mkdtempSync(join(tmpdir(), "hearth-autoscale-"));
  const callerTokenFile = join(dir, "caller-token");
  writeFileSync(callerTokenFile, `${CALLER_TOKEN}\n`);
  const runner = new LocalRunner({
    client,
    namespaces: [namespace],
    logger: logger.child({ component: "runner" }),
    tools: { repoRoot, node: process.execPath, python: "python3" },
    intervalMs: 250,
    output: process.env["HEARTH_TEST_LOG"] === "1" ? (l) => process.stderr.write(l + "\n") : () => {},
  });
  runner.start();
  let gatewayStopped = false;
  let stopped = false;
  const stopGateway = async (): Promise<void> => {
    if (gatewayStopped) return;
    gatewayStopped = true;
    await gateway.stop();
  };
  return {
    client,
    gateway,
    runner,
    callerTokenFile,
    stopGateway,
    async stop() {
      if (stopped) return;
      stopped = true;
      await runner.stop();
      await stopGateway();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function startStack(namespace: string, config: Partial<OperatorConfigInput> = {}): Promise<Stack> {
  const base = await startGatewayAndRunner(namespace);
  const operator = await startTestOperator({
    namespace,
    config: { gateway: { url: base.gateway.url }, gatewayClient: { callerTokenFile: base.callerTokenFile }, ...config },
    controllers: [autoscalerController()],
  });
  let stopped = false;
  return {
    client: base.client,
    gateway: base.gateway,
    operator,
    runner: base.runner,
    stopGateway: () => base.stopGateway(),
    async stop() {
      if (stopped) return;
      stopped = true;
      await operator.stop();
      await base.stop();
    },
  };
}

/** A Function running test/fixtures/slow (predict(i, ms) sleeps) from local code. */
export function slowFunction(namespace: string, name: string, warmPool: Record<string, unknown>, extra: { env?: { name: string; value: string }[]; concurrency?: number; gpu?: Record<string, unknown> } = {}): { metadata: { name: string; namespace: string; annotations: Record<string, string> } } & Record<string, unknown> {
  return {
    apiVersion: "hearth.dev/v1alpha1",
    kind: "Function",
    metadata: { name, namespace, annotations: { "hearth.dev/dev-code-path": join(repoRoot, "test", "fixtures", "slow") } },
    spec: {
      image: "example.com/slow:1",
      handler: "app:Slow",
      runtime: "node",
      resources: { cpu: "10m", memory: "64Mi", ephemeralStorage: "64Mi" },
      concurrency: extra.concurrency ?? 1,
      timeoutSeconds: 60,
      warmPool,
      ...(extra.env !== undefined ? { env: extra.env } : {}),
      ...(extra.gpu !== undefined ? { gpu: extra.gpu } : {}),
    },
  };
}

/** POST :pushMany; the task ids. */
export async function pushMany(gatewayUrl: string, namespace: string, name: string, inputs: unknown[]): Promise<string[]> {
  const res = await fetch(`${gatewayUrl}/v1/namespaces/${namespace}/functions/${name}:pushMany`, {
    method: "POST",
    headers: { authorization: `Bearer ${CALLER_TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({ inputs }),
  });
  if (res.status !== 202) throw new Error(`pushMany answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { ids: string[] }).ids;
}

export interface TaskDoc {
  id: string;
  status: string;
  attempts: number;
  output?: unknown;
  error?: { type: string; message: string };
}

/** Waits (long-poll) until the task is terminal; its document. */
export async function waitTask(gatewayUrl: string, id: string, wait = "60s"): Promise<TaskDoc> {
  for (;;) {
    const res = await fetch(`${gatewayUrl}/v1/tasks/${id}?wait=${wait}`, { headers: { authorization: `Bearer ${CALLER_TOKEN}` } });
    const doc = (await res.json()) as TaskDoc;
    if (["succeeded", "failed", "cancelled"].includes(doc.status)) return doc;
  }
}

export interface FunctionView {
  spec?: { warmPool?: { replicas?: number } };
  status?: {
    conditions?: { type: string; status: string; reason: string; message: string }[];
    desiredReplicas?: number;
    queueDepth?: number;
    readyReplicas?: number;
    lastColdStart?: { seconds: number; time: string };
    selector?: string;
  };
  metadata?: { managedFields?: { manager?: string; fieldsV1?: unknown; subresource?: string }[] };
}

export async function getFunction(client: KubeClient, namespace: string, name: string): Promise<FunctionView | undefined> {
  return (await client.get(functionsResource, name, namespace)) as FunctionView | undefined;
}

export function condition(fn: FunctionView | undefined, type: string): { status: string; reason: string; message: string } | undefined {
  return fn?.status?.conditions?.find((c) => c.type === type);
}

export async function deploymentReplicas(client: KubeClient, namespace: string, name: string): Promise<{ spec: number | undefined; status: number }> {
  const d = (await client.get(deploymentsResource, `${name}-pool`, namespace)) as { spec?: { replicas?: number }; status?: { replicas?: number } } | undefined;
  return { spec: d?.spec?.replicas, status: d?.status?.replicas ?? 0 };
}
