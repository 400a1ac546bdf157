// How to reach the apiserver. The common cases (a kubeconfig with a token or client
// certificates, or the in-cluster service account) are read here directly; anything needing
// plugins (exec, auth-provider) is delegated to client-node's KubeConfig, loaded lazily because
// importing client-node costs ~80 MiB of RSS, more than half the operator's memory budget.
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, isAbsolute, join } from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";

export interface Connection {
  /** Base URL of the apiserver, without a trailing slash. */
  server: string;
  tls: { ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized: boolean; servername?: string };
  /** Default namespace of the context (or the pod's namespace in-cluster). */
  namespace: string;
  /** Authorization headers, refreshed when credentials rotate (token files, exec plugins). */
  headers(): Promise<Record<string, string>>;
}

const clusterSchema = z.looseObject({
  server: z.string(),
  "certificate-authority": z.string().optional(),
  "certificate-authority-data": z.string().optional(),
  "insecure-skip-tls-verify": z.boolean().optional(),
  "tls-server-name": z.string().optional(),
});
const userSchema = z.looseObject({
  token: z.string().optional(),
  tokenFile: z.string().optional(),
  "client-certificate": z.string().optional(),
  "client-certificate-data": z.string().optional(),
  "client-key": z.string().optional(),
  "client-key-data": z.string().optional(),
  username: z.string().optional(),
  password: z.string().optional(),
  exec: z.unknown().optional(),
  "auth-provider": z.unknown().optional(),
});
const contextSchema = z.looseObject({ cluster: z.string(), user: z.string().optional(), namespace: z.string().optional() });

const kubeconfigSchema = z.looseObject({
  clusters: z.array(z.looseObject({ name: z.string(), cluster: clusterSchema })).default([]),
  users: z
    .array(z.looseObject({ name: z.string(), user: userSchema.nullish() }))
    .nullish()
    .transform((v) => v ?? []),
  contexts: z.array(z.looseObject({ name: z.string(), context: contextSchema })).default([]),
  "current-context": z.string().optional(),
});

export interface LoadOptions {
  /** Path of a kubeconfig file. Default: $KUBECONFIG (first entry), in-cluster, then ~/.kube/config. */
  kubeconfig?: string;
  /** Context to use instead of current-context. */
  context?: string;
  /** Environment to read (tests pass their own). */
  env?: NodeJS.ProcessEnv;
}

const SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/** Finds and reads the connection settings, with clear errors when they are missing or broken. */
export async function loadConnection(opts: LoadOptions = {}): Promise<Connection> {
  const env = opts.env ?? process.env;
  const explicit = opts.kubeconfig ?? env["KUBECONFIG"]?.split(":").find((p) => p !== "");
  if (explicit !== undefined) return fromKubeconfigFile(explicit, opts.context);
  if (env["KUBERNETES_SERVICE_HOST"] !== undefined && env["KUBERNETES_SERVICE_PORT"] !== undefined) {
    return inCluster(env["KUBERNETES_SERVICE_HOST"], env["KUBERNETES_SERVICE_PORT"]);
  }
  return fromKubeconfigFile(join(homedir(), ".kube", "config"), opts.context);
}

async function inCluster(host: string, port: string): Promise<Connection> {
  const namespace = (await readFile(join(SA_DIR, "namespace"), "utf8").catch(() => "default")).trim();
  const server = `https://${host.includes(":") ? `[${host}]` : host}:${port}`;
  return {
    server,
    tls: { ca: await readFile(join(SA_DIR, "ca.crt")), rejectUnauthorized: true },
    namespace,
    headers: rotatingTokenFile(join(SA_DIR, "token")),
  };
}

/** Re-reads a projected token at most once a minute: kubelet rotates it in place. */
function rotatingTokenFile(path: string): () => Promise<Record<string, string>> {
  let cached: { token: string; at: number } | undefined;
  return async () => {
    if (cached === undefined || Date.now() - cached.at > 60_000) {
      cached = { token: (await readFile(path, "utf8")).trim(), at: Date.now() };
    }
    return { authorization: `Bearer ${cached.token}` };
  };
}

export async function fromKubeconfigFile(path: string, contextName?: string): Promise<Connection> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new Error(`cannot read kubeconfig ${path}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const parsed = kubeconfigSchema.safeParse(parseYaml(text));
  if (!parsed.success) throw new Error(`kubeconfig ${path} is not valid: ${z.prettifyError(parsed.error)}`);
  const kc = parsed.data;
  const ctxName = contextName ?? kc["current-context"];
  const ctx = kc.contexts.find((c) => c.name === ctxName) ?? (ctxName === undefined ? kc.contexts[0] : undefined);
  if (ctx === undefined) throw new Error(`kubeconfig ${path}: context "${ctxName ?? ""}" not found`);
  const cluster = kc.clusters.find((c) => c.name === ctx.context.cluster)?.cluster;
  if (cluster === undefined) throw new Error(`kubeconfig ${path}: cluster "${ctx.context.cluster ?? ""}" not found`);
  const user = kc.users.find((u) => u.name === ctx.context.user)?.user ?? {};
  const base = dirname(path);
  const file = (p: string): Promise<Buffer> => readFile(isAbsolute(p) ? p : join(base, p));
  const data = (d: string): Buffer => Buffer.from(d, "base64");

  const tls: Connection["tls"] = { rejectUnauthorized: cluster["insecure-skip-tls-verify"] !== true };
  if (cluster["certificate-authority-data"] !== undefined) tls.ca = data(cluster["certificate-authority-data"]);
  else if (cluster["certificate-authority"] !== undefined) tls.ca = await file(cluster["certificate-authority"]);
  if (cluster["tls-server-name"] !== undefined) tls.servername = cluster["tls-server-name"];
  if (user["client-certificate-data"] !== undefined) tls.cert = data(user["client-certificate-data"]);
  else if (user["client-certificate"] !== undefined) tls.cert = await file(user["client-certificate"]);
  if (user["client-key-data"] !== undefined) tls.key = data(user["client-key-data"]);
  else if (user["client-key"] !== undefined) tls.key = await file(user["client-key"]);

  const namespace = ctx.context.namespace ?? "default";
  const server = cluster.server.replace(/\/+$/, "");
  let headers: () => Promise<Record<string, string>>;
  if (user.exec !== undefined || user["auth-provider"] !== undefined) {
    headers = await clientNodeHeaders(path, ctx.name);
  } else if (user.token !== undefined) {
    const h = { authorization: `Bearer ${user.token}` };
    headers = async () => h;
  } else if (user.tokenFile !== undefined) {
    headers = rotatingTokenFile(isAbsolute(user.tokenFile) ? user.tokenFile : join(base, user.tokenFile));
  } else if (user.username !== undefined) {
    const h = { authorization: `Basic ${Buffer.from(`${user.username}:${user.password ?? ""}`).toString("base64")}` };
    headers = async () => h;
  } else {
    headers = async () => ({});
  }
  return { server, tls, namespace, headers };
}

/** Exec and auth-provider plugins: client-node runs them; we cache its headers for a minute. */
async function clientNodeHeaders(path: string, context: string): Promise<() => Promise<Record<string, string>>> {
  const { KubeConfig } = await import("@kubernetes/client-node");
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  kc.setCurrentContext(context);
  let cached: { h: Record<string, string>; at: number } | undefined;
  return async () => {
    if (cached === undefined || Date.now() - cached.at > 60_000) {
      const opts: { headers?: Record<string, string> } = {};
      await kc.applyToHTTPSOptions(opts);
      const h: Record<string, string> = {};
      for (const [k, v] of Object.entries(opts.headers ?? {})) h[k.toLowerCase()] = v;
      cached = { h, at: Date.now() };
    }
    return cached.h;
  };
}
