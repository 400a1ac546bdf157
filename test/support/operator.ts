// Runs the Hearth operator against the test cluster, in-process (fast, inspectable) or as a
// real child process (`hearth operator`, for leader-election and restart tests). Also installs
// the CRDs and offers a small typed client for tests. Reused by the Job controller's tests.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { pino, type Logger } from "pino";
import { Registry } from "prom-client";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { SystemClock } from "../../src/kube/clock.ts";
import { KubeClient, Transport } from "../../src/kube/client.ts";
import { loadConnection } from "../../src/kube/kubeconfig.ts";
import { unstructured } from "../../src/kube/objects.ts";
import { untyped } from "../../src/kube/resources.ts";
import { parseOperatorConfig, type OperatorConfigInput } from "../../src/operator/config.ts";
import { functionController } from "../../src/controllers/function/index.ts";
import type { ControllerDefinition } from "../../src/operator/controller.ts";
import { startOperator, type RunningOperator } from "../../src/operator/operator.ts";

const repoRoot = dirname(dirname(dirname(import.meta.filename)));
export const TEST_SIGNING_KEY = "hearth-test-signing-key-0123456789";

export function kubeconfigPath(env: NodeJS.ProcessEnv = process.env): string {
  const p = env["HEARTH_KUBECONFIG"];
  if (p === undefined || p === "") throw new Error("HEARTH_KUBECONFIG is not set: run through hack/with-cluster.ts or `node hack/cluster.ts up`");
  return p;
}

/** A client on the test cluster (field manager "hearth-test"). Close its transport when done. */
export async function testClient(kubeconfig = kubeconfigPath(), registry?: Registry): Promise<KubeClient> {
  const transport = new Transport({ connection: await loadConnection({ kubeconfig }), clock: new SystemClock(), ...(registry !== undefined ? { registry } : {}), qps: 0 });
  return new KubeClient(transport, "hearth-test");
}

const crds = untyped({ group: "apiextensions.k8s.io", version: "v1", kind: "CustomResourceDefinition", plural: "customresourcedefinitions", namespaced: false });

/** Applies crds/*.yaml (server-side apply, idempotent) and waits until they are Established. */
export async function installCrds(client: KubeClient): Promise<void> {
  const dir = join(repoRoot, "crds");
  const files = readdirSync(dir).filter((f) => f.endsWith(".yaml"));
  for (const f of files) {
    const doc = unstructured.parse(parseYaml(readFileSync(join(dir, f), "utf8")));
    await client.apply(crds, { ...doc, metadata: { name: doc.metadata.name } }, { fieldManager: "hearth-test-crds" });
  }
  const deadline = Date.now() + 30_000;
  for (const f of files) {
    const name = unstructured.parse(parseYaml(readFileSync(join(dir, f), "utf8"))).metadata.name;
    for (;;) {
      const got = await client.get(crds, name);
      const conds = z
        .object({ status: z.object({ conditions: z.array(z.object({ type: z.string(), status: z.string() })).default([]) }).default({ conditions: [] }) })
        .safeParse(got);
      if (conds.success && conds.data.status.conditions.some((c) => c.type === "Established" && c.status === "True")) break;
      if (Date.now() > deadline) throw new Error(`CRD ${name} not Established after 30 s`);
      await sleep(100);
    }
  }
}

/** Operator config for tests: ephemeral port, one namespace, a lease in that namespace, short timings. */
export function testOperatorConfig(namespace: string, overrides: Partial<OperatorConfigInput> = {}): OperatorConfigInput {
  return {
    namespaces: [namespace],
    workerTokens: { signingKey: TEST_SIGNING_KEY },
    gateway: { url: "http://127.0.0.1:1" },
    server: { host: "127.0.0.1", port: 0 },
    leaderElection: { enabled: true, namespace, name: "hearth-operator", leaseDurationSeconds: 3, renewDeadlineSeconds: 2, retryPeriodSeconds: 0.5 },
    // The gateway at 127.0.0.1:1 never answers: no finalizer unless a test brings a gateway.
    controllers: { function: { concurrency: 8, timeoutSeconds: 30, resyncSeconds: 0, gatewayFinalizer: false } },
    logLevel: "info",
    ...overrides,
  };
}

export interface TestOperatorOptions {
  namespace: string;
  /** Merged over testOperatorConfig(namespace). */
  config?: Partial<OperatorConfigInput>;
  /** in-process (default) or a real `hearth operator` child process. */
  mode?: "in-process" | "process";
  identity?: string;
  kubeconfig?: string;
  /** In-process only: controllers run beside the Function controller. */
  controllers?: ControllerDefinition[];
}

export interface TestOperator {
  identity: string;
  /** Base URL of /healthz, /readyz, /metrics. */
  url: string;
  metrics(): Promise<string>;
  /** Sum of hearth_kube_requests_total for write verbs, optionally only for some resources. */
  writes(filter?: (resource: string) => boolean): Promise<number>;
  isLeader(): Promise<boolean>;
  /** Graceful stop (SIGTERM for a process). */
  stop(): Promise<void>;
  /** SIGKILL (process mode): no lease release, no cleanup. */
  kill(): Promise<void>;
  /** Captured output (process mode) or log lines (in-process). */
  logs(): string;
  /** In-process only. */
  running: RunningOperator | undefined;
}

const WRITE_VERBS = new Set(["create", "update", "patch", "apply", "delete"]);

/** Parses Prometheus text: metric name → [{labels, value}]. */
export function parseMetrics(text: string): Map<string, { labels: Record<string, string>; value: number }[]> {
  const out = new Map<string, { labels: Record<string, string>; value: number }[]>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (m === null) continue;
    const labels: Record<string, string> = {};
    for (const lm of (m[3] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[lm[1] ?? ""] = lm[2] ?? "";
    const list = out.get(m[1] ?? "") ?? [];
    list.push({ labels, value: Number(m[4]) });
    out.set(m[1] ?? "", list);
  }
  return out;
}

function countWrites(text: string, filter?: (resource: string) => boolean): number {
  let n = 0;
  for (const s of parseMetrics(text).get("hearth_kube_requests_total") ?? []) {
    if (WRITE_VERBS.has(s.labels["verb"] ?? "") && (filter === undefined || filter(s.labels["resource"] ?? ""))) n += s.value;
  }
  return n;
}

function isLeaderFrom(text: string): boolean {
  return (parseMetrics(text).get("hearth_leader_is_leader") ?? []).some((s) => s.value === 1);
}

/** Starts an operator for one test namespace and waits until its server answers. */
export async function startTestOperator(opts: TestOperatorOptions): Promise<TestOperator> {
  const kubeconfig = opts.kubeconfig ?? kubeconfigPath();
  const identity = opts.identity ?? `test-op-${randomBytes(3).toString("hex")}`;
  const input = { ...testOperatorConfig(opts.namespace), ...opts.config };
  if (opts.mode === "process") return startProcess(kubeconfig, identity, input);

  const config = parseOperatorConfig(input, "test operator config");
  const lines: string[] = [];
  const logger: Logger = pino(
    { level: process.env["HEARTH_TEST_LOG"] === "1" ? "debug" : config.logLevel, base: {} },
    {
      write: (s: string) => {
        lines.push(s);
        if (lines.length > 5000) lines.splice(0, 1000);
        if (process.env["HEARTH_TEST_LOG"] === "1") process.stderr.write(s);
      },
    },
  );
  const running = await startOperator({ config, signingKey: TEST_SIGNING_KEY, logger, kubeconfig, identity, controllers: [functionController(), ...(opts.controllers ?? [])] });
  return {
    identity,
    url: running.server.url,
    metrics: () => running.registry.metrics(),
    writes: async (filter) => countWrites(await running.registry.metrics(), filter),
    isLeader: async () => running.manager.isLeader(),
    stop: () => running.stop(),
    kill: () => running.stop(),
    logs: () => lines.join(""),
    running,
  };
}

async function startProcess(kubeconfig: string, identity: string, input: OperatorConfigInput): Promise<TestOperator> {
  parseOperatorConfig(input, "test operator config");
  const dir = mkdtempSync(join(tmpdir(), "hearth-op-"));
  const configFile = join(dir, "config.json");
  writeFileSync(configFile, JSON.stringify(input));
  const child: ChildProcess = spawn(
    join(repoRoot, "node_modules", ".bin", "node"),
    [join(repoRoot, "src", "cli", "main.ts"), "operator", "--config", configFile, "--kubeconfig", kubeconfig, "--id", identity],
    { stdio: ["ignore", "pipe", "pipe"], detached: false },
  );
  let output = "";
  child.stdout?.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  let url: string | undefined;
  const deadline = Date.now() + 30_000;
  while (url === undefined) {
    const m = /"url":"(http:\/\/[^"]+)"/.exec(output);
    if (m !== null) url = m[1];
    else if (child.exitCode !== null) throw new Error(`operator exited with ${child.exitCode}:\n${output}`);
    else if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`operator did not start in 30 s:\n${output}`);
    }
    else await sleep(50);
  }
  const base = url ?? "";
  const metrics = async (): Promise<string> => (await fetch(`${base}/metrics`)).text();
  const finish = async (signal: NodeJS.Signals): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  return {
    identity,
    url: base,
    metrics,
    writes: async (filter) => countWrites(await metrics(), filter),
    isLeader: async () => isLeaderFrom(await metrics()),
    stop: () => finish("SIGTERM"),
    kill: () => finish("SIGKILL"),
    logs: () => output,
    running: undefined,
  };
}
