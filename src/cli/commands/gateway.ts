// `hearth gateway`: the invocation API (docs/protocol.md). Functions come from the cluster
// (an informer) or, for dev and tests, from a file of Function manifests (--functions).
import { readFileSync, unwatchFile, watchFile } from "node:fs";
import { parseArgs } from "node:util";
import pino from "pino";
import { parseAllDocuments } from "yaml";
import { parseDuration } from "../../protocol/index.ts";
import { parseTokenFile, parseTokenList, type StaticToken } from "../../auth/caller-tokens.ts";
import { MIN_SIGNING_KEY_LENGTH } from "../../gateway/auth.ts";
import type { KubeReviewer } from "../../gateway/kube-reviews.ts";
import type { KubeClient } from "../../kube/client.ts";
import { Gateway } from "../../gateway/gateway.ts";
import { KubeCatalog, StaticCatalog, type Catalog } from "../../gateway/catalog.ts";
import { KubeFunctionRegistry } from "../../gateway/kube-registry.ts";
import { ApiserverReviewer } from "../../gateway/kube-reviews.ts";
import { kubeWorkerIdentities } from "../../gateway/worker-identities.ts";
import { settingsFromManifests, StaticRegistry, type FunctionRegistry } from "../../gateway/registry.ts";
import { SystemClock } from "../../kube/clock.ts";
import { KubeWorkflowRegistry, StaticWorkflowRegistry, workflowsFromManifests, type WorkflowRegistry } from "../../gateway/workflows/registry.ts";

export const summary = "serve the invocation API: queues, leases, results, progress, metrics";

const USAGE = `usage: hearth gateway [flags]
  --port N                  listen port (default 8080)
  --host ADDR               listen address (default 0.0.0.0)
  --store PATH              SQLite task store on a volume (default .hearth/gateway.db)
  --store-sync full|normal  full survives power loss, normal only process crashes (default full)
  --functions FILE          serve the Function (and Workflow) manifests in FILE instead of watching the cluster
  --kubeconfig PATH         kubeconfig (default: $KUBECONFIG, in-cluster, ~/.kube/config)
  --namespace NS            watch Functions in NS only (repeatable; default all)
  --caller-tokens-file F    static caller tokens, one per line: "<token> [ns1,ns2|*]" (reloaded when
                            the file changes; or $HEARTH_CALLER_TOKENS, comma-separated "token[=ns1;ns2]")
  --kubernetes-auth on|off  accept Kubernetes identities (TokenReview + SubjectAccessReview of
                            create functions/invoke in the namespace); default on with a cluster
  --token-audience AUD      audience Kubernetes tokens must carry (repeatable; default the apiserver's)
  --auth-cache-ttl DUR      how long review decisions are kept (default 30s; denials at most 10s)
  --worker-signing-key-file F  key HMAC worker tokens are signed with, >= 16 characters (or $HEARTH_WORKER_SIGNING_KEY);
                            warm workers watched in a cluster also authenticate with their pod's projected
                            ServiceAccount token (audience hearth.dev/gateway), checked by TokenReview
  --insecure-open           NO authentication on the caller and worker APIs (tests, throwaway dev only)
  --metrics-port N          serve /metrics on this port only (not on the API port)
  --metrics-token-file F    bearer token /metrics requires
  --max-connections N       open connections at most (default 10000)
  --headers-timeout DUR / --request-timeout DUR   time a client has to send headers / its whole request (20s / 2m)
  --result-ttl DUR          how long results are kept (default 1h)
  --idempotency-window DUR  how long Idempotency-Keys are remembered, independent of --result-ttl (default 24h)
  --max-call-depth N        most calls deep a chain of ctx.function(…) calls from inside handlers may go (default 8)
  --max-input-bytes N / --max-output-bytes N   (default 10 MiB each)
  --max-queue N             queued tasks per function before 429 (default 100000)
  --worker-timeout DUR      a worker silent this long is gone (default 10s)
  --cache-max-bytes N       result cache of cacheable Functions, total output bytes (default 256 MiB; 0 = off)
  --cache-ttl DUR           how long a cached result is used (default 1h)
  --log-level LEVEL         pino level (default info)`;

function durationFlag(v: string | undefined, name: string, def: number): number {
  if (v === undefined) return def;
  const ms = parseDuration(v);
  if (ms === undefined) throw new Error(`--${name} must be a duration such as 30s or 1h, got ${JSON.stringify(v)}`);
  return ms;
}

function intFlag(v: string | undefined, name: string, def: number): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer, got ${JSON.stringify(v)}`);
  return n;
}

export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: "string" },
      host: { type: "string" },
      store: { type: "string" },
      "store-sync": { type: "string" },
      functions: { type: "string" },
      kubeconfig: { type: "string" },
      namespace: { type: "string", multiple: true },
      "caller-tokens-file": { type: "string" },
      "worker-signing-key-file": { type: "string" },
      "kubernetes-auth": { type: "string" },
      "token-audience": { type: "string", multiple: true },
      "auth-cache-ttl": { type: "string" },
      "insecure-open": { type: "boolean" },
      "metrics-port": { type: "string" },
      "metrics-token-file": { type: "string" },
      "max-connections": { type: "string" },
      "headers-timeout": { type: "string" },
      "request-timeout": { type: "string" },
      "result-ttl": { type: "string" },
      "idempotency-window": { type: "string" },
      "max-call-depth": { type: "string" },
      "max-input-bytes": { type: "string" },
      "max-output-bytes": { type: "string" },
      "max-queue": { type: "string" },
      "worker-timeout": { type: "string" },
      "cache-max-bytes": { type: "string" },
      "cache-ttl": { type: "string" },
      "log-level": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help === true) {
    console.log(USAGE);
    return 0;
  }
  const log = pino({ level: values["log-level"] ?? "info", base: { component: "gateway" } });
  const clock = new SystemClock();
  const sync = values["store-sync"] ?? "full";
  if (sync !== "full" && sync !== "normal") throw new Error(`--store-sync must be full or normal, got ${sync}`);

  // Fail closed: a gateway that would let anyone in refuses to start unless asked to.
  const insecureOpen = values["insecure-open"] === true;
  const callerTokens: StaticToken[] =
    values["caller-tokens-file"] !== undefined ? parseTokenFile(readFileSync(values["caller-tokens-file"], "utf8")) : parseTokenList(process.env["HEARTH_CALLER_TOKENS"] ?? "");
  const signingKey =
    values["worker-signing-key-file"] !== undefined ? readFileSync(values["worker-signing-key-file"], "utf8").trim() : process.env["HEARTH_WORKER_SIGNING_KEY"]?.trim();
  if (insecureOpen) {
    for (let i = 0; i < 3; i++) log.warn("INSECURE (--insecure-open): anyone who can reach this gateway may call, read and cancel every task and act as any worker");
  } else if (signingKey === undefined || signingKey.length < MIN_SIGNING_KEY_LENGTH) {
    throw new Error(
      `the worker signing key ${signingKey === undefined || signingKey === "" ? "is missing" : `has ${signingKey.length} characters`}: give --worker-signing-key-file (at least ${MIN_SIGNING_KEY_LENGTH} characters), or --insecure-open for a throwaway gateway`,
    );
  }
  const kubeAuthFlag = values["kubernetes-auth"] ?? "auto";
  if (!["on", "off", "auto"].includes(kubeAuthFlag)) throw new Error(`--kubernetes-auth must be on or off, got ${kubeAuthFlag}`);

  let registry: FunctionRegistry;
  let workflows: WorkflowRegistry;
  let catalog: Catalog;
  let isolated: { client: KubeClient; namespaces: readonly string[] } | undefined;
  let reviewer: KubeReviewer | undefined;
  let workerIdentities: ReturnType<typeof kubeWorkerIdentities> | undefined;
  const kubeClient = async (): Promise<KubeClient> => {
    const { loadConnection } = await import("../../kube/kubeconfig.ts");
    const { createClient } = await import("../../kube/client.ts");
    const connection = await loadConnection(values.kubeconfig === undefined ? {} : { kubeconfig: values.kubeconfig });
    return createClient({ connection, clock, fieldManager: "hearth-gateway" });
  };
  if (values.functions !== undefined) {
    const docs = parseAllDocuments(readFileSync(values.functions, "utf8")).map((d) => d.toJS() as unknown);
    const fns = settingsFromManifests(docs);
    const wfs = workflowsFromManifests(docs);
    log.info({ functions: fns.map((f) => `${f.namespace}/${f.name}`), workflows: wfs.map((w) => `${w.namespace}/${w.name}`) }, "serving Functions from file");
    registry = new StaticRegistry(fns);
    workflows = new StaticWorkflowRegistry(wfs);
    catalog = new StaticCatalog(docs);
  } else {
    const client = await kubeClient();
    const kubeRegistry = new KubeFunctionRegistry({ client, clock, logger: log, namespaces: values.namespace ?? [] });
    registry = kubeRegistry;
    const kubeWorkflows = new KubeWorkflowRegistry({ client, clock, logger: log, namespaces: values.namespace ?? [] });
    workflows = kubeWorkflows;
    catalog = new KubeCatalog({ client, clock, logger: log, functions: kubeRegistry.informer, workflows: kubeWorkflows.informer, namespaces: values.namespace ?? [] });
    isolated = { client, namespaces: values.namespace ?? [] };
    if (kubeAuthFlag !== "off") reviewer = new ApiserverReviewer(client, values["token-audience"] ?? []);
    // Warm workers' projected ServiceAccount tokens (whatever the caller auth says).
    workerIdentities = kubeWorkerIdentities(client, { clock, logger: log.child({ component: "worker-pods" }), namespaces: values.namespace ?? [] });
  }
  // With --functions there is no cluster unless one is named explicitly.
  if (reviewer === undefined && (kubeAuthFlag === "on" || (kubeAuthFlag === "auto" && values.functions !== undefined && values.kubeconfig !== undefined))) {
    reviewer = new ApiserverReviewer(await kubeClient(), values["token-audience"] ?? []);
  }
  if (!insecureOpen && callerTokens.length === 0 && reviewer === undefined) {
    throw new Error("no caller authentication: give --caller-tokens-file (or $HEARTH_CALLER_TOKENS), or a cluster for Kubernetes identities, or --insecure-open for a throwaway gateway");
  }
  log.info({ staticTokens: callerTokens.length, kubernetesAuth: reviewer !== undefined, insecureOpen }, "caller authentication");
  const authTtl = durationFlag(values["auth-cache-ttl"], "auth-cache-ttl", 30_000);
  const metricsTokens = values["metrics-token-file"] === undefined ? undefined : parseTokenFile(readFileSync(values["metrics-token-file"], "utf8")).map((t) => t.token);
  if (metricsTokens !== undefined && metricsTokens.length === 0) throw new Error(`--metrics-token-file ${values["metrics-token-file"]} holds no token`);

  const gateway = await Gateway.start({
    storePath: values.store ?? ".hearth/gateway.db",
    storeSync: sync,
    registry,
    workflows,
    catalog,
    isolated,
    cache: {
      maxBytes: intFlag(values["cache-max-bytes"], "cache-max-bytes", 256 * 1024 * 1024),
      ttlMs: durationFlag(values["cache-ttl"], "cache-ttl", 3_600_000),
    },
    auth: { insecureOpen, callerTokens, workerSigningKey: signingKey },
    workerIdentities,
    authz: { kubernetes: reviewer, cache: { tokenTtlMs: authTtl, allowTtlMs: authTtl, denyTtlMs: Math.min(authTtl, 10_000) } },
    metricsPort: values["metrics-port"] === undefined ? undefined : intFlag(values["metrics-port"], "metrics-port", 0),
    metricsTokens,
    port: intFlag(values.port, "port", 8080),
    host: values.host ?? "0.0.0.0",
    log,
    clock,
    limits: {
      maxInputBytes: intFlag(values["max-input-bytes"], "max-input-bytes", 10 * 1024 * 1024),
      maxOutputBytes: intFlag(values["max-output-bytes"], "max-output-bytes", 10 * 1024 * 1024),
      maxConnections: intFlag(values["max-connections"], "max-connections", 10_000),
      headersTimeoutMs: durationFlag(values["headers-timeout"], "headers-timeout", 20_000),
      requestTimeoutMs: durationFlag(values["request-timeout"], "request-timeout", 120_000),
    },
    maxCallDepth: intFlag(values["max-call-depth"], "max-call-depth", 8),
    engine: {
      resultTtlMs: durationFlag(values["result-ttl"], "result-ttl", 3_600_000),
      idempotencyWindowMs: durationFlag(values["idempotency-window"], "idempotency-window", 24 * 3_600_000),
      maxQueue: intFlag(values["max-queue"], "max-queue", 100_000),
      workerTimeoutMs: durationFlag(values["worker-timeout"], "worker-timeout", 10_000),
    },
  });
  log.info({ url: gateway.url, store: values.store ?? ".hearth/gateway.db" }, "gateway listening");
  // A mounted Secret is updated in place when rotated: pick the new tokens up without a restart.
  const tokensFile = values["caller-tokens-file"];
  if (tokensFile !== undefined) {
    watchFile(tokensFile, { interval: 10_000, persistent: false }, () => {
      try {
        const tokens = parseTokenFile(readFileSync(tokensFile, "utf8"));
        gateway.auth.setCallerTokens(tokens);
        // Fail closed: an emptied Secret leaves no static token valid; it never opens the API.
        if (tokens.length === 0) log.error({ file: tokensFile }, "the caller tokens file is now empty: every static token is refused");
        else log.info({ staticTokens: tokens.length }, "caller tokens reloaded");
      } catch (err) {
        log.error({ err }, "cannot reload caller tokens; keeping the previous ones");
      }
    });
  }
  await new Promise<void>((resolve) => {
    process.once("SIGTERM", () => resolve());
    process.once("SIGINT", () => resolve());
  });
  log.info("stopping");
  if (tokensFile !== undefined) unwatchFile(tokensFile);
  await gateway.stop();
  return 0;
}
