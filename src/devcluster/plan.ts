import { join } from "node:path";
import { stringify } from "yaml";

/**
 * Pure description of a loopback control plane: the files to write and the processes to start,
 * with their arguments. `cluster.ts` does the I/O.
 */

export const COMPONENTS = ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"] as const;
export type ComponentName = (typeof COMPONENTS)[number];

export interface ClusterPorts {
  readonly etcdClient: number;
  readonly etcdPeer: number;
  readonly apiserver: number;
  readonly controllerManager: number;
  readonly scheduler: number;
}

export interface PlanInput {
  /** Cluster name (letters, digits, dashes). */
  readonly name: string;
  /** Directory with the control-plane binaries. */
  readonly binDir: string;
  /** Directory for config, certificates, kubeconfig and logs. */
  readonly dir: string;
  /** etcd's data directory (ideally on tmpfs). */
  readonly etcdDir: string;
  readonly ports: ClusterPorts;
  /** Bearer token of the one `system:masters` user. */
  readonly token: string;
  /** Default {@link DEFAULT_SERVICE_CIDR}. */
  readonly serviceCIDR?: string;
  /** Default {@link DEFAULT_POD_CIDR}. */
  readonly podCIDR?: string;
  /** Default {@link DEFAULT_NODE_IP}. */
  readonly nodeIP?: string;
  /** Serve /debug/pprof on the apiserver (CPU profiles of a bench: `cluster.ts up --profiling`). Default off. */
  readonly profiling?: boolean;
}

/**
 * Fake pod IPs come from loopback space, so they are never routable addresses. Nothing may dial
 * them anyway: there is no kubelet, no kube-proxy; workers dial the gateway, never the reverse.
 */
export const DEFAULT_POD_CIDR = "127.64.0.1/10";
export const DEFAULT_NODE_IP = "127.0.0.1";
/** Virtual service IPs: nothing routes them (no kube-proxy); kept out of routable space too. */
export const DEFAULT_SERVICE_CIDR = "127.128.0.0/16";
export const LOOPBACK = "127.0.0.1";
export const ADMIN_USER = "hearth-admin";

export interface ClusterFiles {
  readonly kubeconfig: string;
  readonly tokenFile: string;
  readonly serviceAccountKey: string;
  readonly certDir: string;
  /** Self-signed serving certificate the apiserver writes into certDir at first start. */
  readonly servingCert: string;
  readonly kwokConfig: string;
  readonly schedulerConfig: string;
  readonly logDir: string;
}

export interface ComponentPlan {
  readonly name: ComponentName;
  readonly bin: string;
  readonly args: readonly string[];
  readonly logFile: string;
}

export interface ClusterPlan {
  readonly name: string;
  readonly server: string;
  readonly files: ClusterFiles;
  readonly components: Readonly<Record<ComponentName, ComponentPlan>>;
}

export function clusterFiles(dir: string): ClusterFiles {
  const certDir = join(dir, "pki");
  return {
    kubeconfig: join(dir, "kubeconfig"),
    tokenFile: join(dir, "tokens.csv"),
    serviceAccountKey: join(dir, "service-account.key"),
    certDir,
    servingCert: join(certDir, "apiserver.crt"),
    kwokConfig: join(dir, "kwok.yaml"),
    schedulerConfig: join(dir, "kube-scheduler.yaml"),
    logDir: join(dir, "logs"),
  };
}

const url = (port: number): string => `http://${LOOPBACK}:${port}`;

export function etcdArgs(input: PlanInput): string[] {
  const { etcdClient, etcdPeer } = input.ports;
  return [
    "--name=hearth",
    `--data-dir=${input.etcdDir}`,
    `--listen-client-urls=${url(etcdClient)}`,
    `--advertise-client-urls=${url(etcdClient)}`,
    `--listen-peer-urls=${url(etcdPeer)}`,
    `--initial-advertise-peer-urls=${url(etcdPeer)}`,
    `--initial-cluster=hearth=${url(etcdPeer)}`,
    "--initial-cluster-state=new",
    // Throwaway data on tmpfs: durability buys nothing and fsync costs start time and latency.
    "--unsafe-no-fsync=true",
    "--log-level=warn",
  ];
}

export function apiserverArgs(input: PlanInput, files: ClusterFiles): string[] {
  return [
    `--etcd-servers=${url(input.ports.etcdClient)}`,
    `--bind-address=${LOOPBACK}`,
    // Without it the apiserver picks the default route's address, or fails without one.
    `--advertise-address=${LOOPBACK}`,
    `--secure-port=${input.ports.apiserver}`,
    `--cert-dir=${files.certDir}`,
    `--token-auth-file=${files.tokenFile}`,
    "--authorization-mode=RBAC",
    `--service-account-key-file=${files.serviceAccountKey}`,
    `--service-account-signing-key-file=${files.serviceAccountKey}`,
    "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
    `--service-cluster-ip-range=${input.serviceCIDR ?? DEFAULT_SERVICE_CIDR}`,
    // The `kubernetes` Service's endpoints would point at 127.0.0.1, which Endpoints validation
    // rejects; nothing dials that Service here (no kube-proxy), so don't reconcile it.
    "--endpoint-reconciler-type=none",
    // API Priority and Fairness stays on, as on a real cluster (measured: disabling it does not
    // shorten the start; system:masters requests are exempt from it anyway).
    "--allow-privileged=true",
    `--profiling=${input.profiling === true}`,
  ];
}

export function controllerManagerArgs(input: PlanInput, files: ClusterFiles): string[] {
  return [
    `--kubeconfig=${files.kubeconfig}`,
    "--leader-elect=false",
    `--bind-address=${LOOPBACK}`,
    `--secure-port=${input.ports.controllerManager}`,
    `--cluster-name=hearth-${input.name}`,
    `--service-account-private-key-file=${files.serviceAccountKey}`,
    // Publishes kube-root-ca.crt in every namespace, as on a real cluster.
    `--root-ca-file=${files.servingCert}`,
    // Defaults (20/30) throttle the Job and ReplicaSet controllers when tests create many pods.
    "--kube-api-qps=200",
    "--kube-api-burst=400",
    "--profiling=false",
  ];
}

export function schedulerConfig(files: ClusterFiles): string {
  return stringify({
    apiVersion: "kubescheduler.config.k8s.io/v1",
    kind: "KubeSchedulerConfiguration",
    clientConnection: { kubeconfig: files.kubeconfig, qps: 200, burst: 400 },
    leaderElection: { leaderElect: false },
  });
}

export function schedulerArgs(input: PlanInput, files: ClusterFiles): string[] {
  return [`--config=${files.schedulerConfig}`, `--bind-address=${LOOPBACK}`, `--secure-port=${input.ports.scheduler}`, "--profiling=false"];
}

export function kwokArgs(input: PlanInput, files: ClusterFiles): string[] {
  return [
    `--kubeconfig=${files.kubeconfig}`,
    `--config=${files.kwokConfig}`,
    "--manage-all-nodes=true",
    `--cidr=${input.podCIDR ?? DEFAULT_POD_CIDR}`,
    `--node-ip=${input.nodeIP ?? DEFAULT_NODE_IP}`,
    // Nodes stay healthy through Lease renewals (the node lifecycle controller reads them).
    "--node-lease-duration-seconds=40",
  ];
}

/** `token,user,uid,"groups"` as kube-apiserver's --token-auth-file wants it. */
export function tokenFile(token: string): string {
  return `${token},${ADMIN_USER},${ADMIN_USER},"system:masters"\n`;
}

export function kubeconfigYaml(name: string, server: string, token: string): string {
  const context = `hearth-${name}`;
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: context, cluster: { server, "insecure-skip-tls-verify": true } }],
    users: [{ name: `${context}-admin`, user: { token } }],
    contexts: [{ name: context, context: { cluster: context, user: `${context}-admin`, namespace: "default" } }],
    "current-context": context,
  });
}

export function planCluster(input: PlanInput): ClusterPlan {
  const files = clusterFiles(input.dir);
  const component = (name: ComponentName, args: string[]): ComponentPlan => ({
    name,
    bin: join(input.binDir, name),
    args,
    logFile: join(files.logDir, `${name}.log`),
  });
  return {
    name: input.name,
    server: `https://${LOOPBACK}:${input.ports.apiserver}`,
    files,
    components: {
      etcd: component("etcd", etcdArgs(input)),
      "kube-apiserver": component("kube-apiserver", apiserverArgs(input, files)),
      "kube-controller-manager": component("kube-controller-manager", controllerManagerArgs(input, files)),
      "kube-scheduler": component("kube-scheduler", schedulerArgs(input, files)),
      kwok: component("kwok", kwokArgs(input, files)),
    },
  };
}

const NAME_RE = /^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$/;

export function validateClusterName(name: string): string {
  if (!NAME_RE.test(name)) throw new Error(`invalid cluster name ${JSON.stringify(name)}: use lowercase letters, digits and dashes`);
  return name;
}
