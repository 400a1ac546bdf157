import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { COMPONENTS, DEFAULT_POD_CIDR, planCluster, validateClusterName, type PlanInput } from "../../src/devcluster/index.ts";
import { kubeconfigYaml, schedulerConfig, tokenFile } from "../../src/devcluster/plan.ts";
import { parseProcStat } from "../../src/devcluster/process.ts";

const input: PlanInput = {
  name: "dev",
  binDir: "/bin/k8s",
  dir: "/work/.hearth/clusters/dev",
  etcdDir: "/dev/shm/hearth-etcd-dev-x",
  token: "tok",
  ports: { etcdClient: 10001, etcdPeer: 10002, apiserver: 10003, controllerManager: 10004, scheduler: 10005 },
};

const flag = (args: readonly string[], name: string): string | undefined =>
  args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);

describe("planCluster", () => {
  const plan = planCluster(input);

  it("plans every component from the bin dir with a log file each", () => {
    assert.deepEqual(Object.keys(plan.components).sort(), [...COMPONENTS].sort());
    for (const c of COMPONENTS) {
      assert.equal(plan.components[c].bin, `/bin/k8s/${c}`);
      assert.equal(plan.components[c].logFile, `/work/.hearth/clusters/dev/logs/${c}.log`);
    }
    assert.equal(plan.server, "https://127.0.0.1:10003");
  });

  it("binds every listener to loopback only", () => {
    const all = COMPONENTS.flatMap((c) => plan.components[c].args);
    for (const a of all.filter((x) => /-(urls|address)=/.test(x))) {
      assert.match(a, /=(http:\/\/)?127\.0\.0\.1(:\d+)?$|=hearth=http:\/\/127\.0\.0\.1:\d+$/, a);
    }
    const api = plan.components["kube-apiserver"].args;
    assert.equal(flag(api, "bind-address"), "127.0.0.1");
    assert.equal(flag(api, "advertise-address"), "127.0.0.1");
    assert.equal(flag(plan.components["kube-controller-manager"].args, "bind-address"), "127.0.0.1");
    assert.equal(flag(plan.components["kube-scheduler"].args, "bind-address"), "127.0.0.1");
  });

  it("keeps pod, node and service addresses inside 127.0.0.0/8", () => {
    const kwok = plan.components.kwok.args;
    assert.equal(flag(kwok, "cidr"), DEFAULT_POD_CIDR);
    assert.match(flag(kwok, "cidr") ?? "", /^127\./);
    assert.match(flag(kwok, "node-ip") ?? "", /^127\./);
    assert.match(flag(plan.components["kube-apiserver"].args, "service-cluster-ip-range") ?? "", /^127\./);
    assert.equal(flag(kwok, "manage-all-nodes"), "true");
  });

  it("wires etcd, the apiserver's auth and the service-account key together", () => {
    const etcd = plan.components.etcd.args;
    const api = plan.components["kube-apiserver"].args;
    assert.equal(flag(etcd, "data-dir"), input.etcdDir);
    assert.ok(etcd.includes("--unsafe-no-fsync=true"));
    assert.equal(flag(api, "etcd-servers"), "http://127.0.0.1:10001");
    assert.equal(flag(api, "secure-port"), "10003");
    assert.equal(flag(api, "token-auth-file"), plan.files.tokenFile);
    assert.equal(flag(api, "authorization-mode"), "RBAC");
    assert.equal(flag(api, "service-account-key-file"), plan.files.serviceAccountKey);
    assert.equal(flag(api, "service-account-signing-key-file"), plan.files.serviceAccountKey);
    assert.ok(flag(api, "service-account-issuer"));
    assert.equal(flag(api, "cert-dir"), plan.files.certDir);
    const kcm = plan.components["kube-controller-manager"].args;
    assert.equal(flag(kcm, "leader-elect"), "false");
    assert.equal(flag(kcm, "kubeconfig"), plan.files.kubeconfig);
    assert.equal(flag(kcm, "root-ca-file"), plan.files.servingCert);
    assert.equal(flag(plan.components["kube-scheduler"].args, "secure-port"), "10005");
  });

  it("serves the apiserver's /debug/pprof only when asked (cluster.ts up --profiling)", () => {
    assert.equal(flag(plan.components["kube-apiserver"].args, "profiling"), "false");
    assert.equal(flag(planCluster({ ...input, profiling: true }).components["kube-apiserver"].args, "profiling"), "true");
  });

  it("renders a scheduler config without leader election", () => {
    const cfg = parse(schedulerConfig(plan.files)) as { leaderElection: { leaderElect: boolean }; clientConnection: { kubeconfig: string } };
    assert.equal(cfg.leaderElection.leaderElect, false);
    assert.equal(cfg.clientConnection.kubeconfig, plan.files.kubeconfig);
  });
});

describe("credentials", () => {
  it("writes one system:masters token", () => {
    assert.equal(tokenFile("abc"), 'abc,hearth-admin,hearth-admin,"system:masters"\n');
  });
  it("renders a token kubeconfig that skips TLS verification", () => {
    const kc = parse(kubeconfigYaml("dev", "https://127.0.0.1:6443", "abc")) as {
      clusters: { cluster: { server: string; "insecure-skip-tls-verify": boolean } }[];
      users: { user: { token: string } }[];
      "current-context": string;
    };
    assert.equal(kc.clusters[0]?.cluster.server, "https://127.0.0.1:6443");
    assert.equal(kc.clusters[0]?.cluster["insecure-skip-tls-verify"], true);
    assert.equal(kc.users[0]?.user.token, "abc");
    assert.equal(kc["current-context"], "hearth-dev");
  });
});

describe("validateClusterName", () => {
  it("accepts DNS-label-like names and rejects others", () => {
    assert.equal(validateClusterName("test-123"), "test-123");
    for (const bad of ["", "Dev", "-a", "a-", "a/b", "x".repeat(41)]) assert.throws(() => validateClusterName(bad));
  });
});

describe("parseProcStat", () => {
  it("reads state and process group even with spaces and parentheses in the name", () => {
    assert.deepEqual(parseProcStat("4242 (kube (api) server) S 1 4240 4240 0 -1"), { pid: 4242, state: "S", pgrp: 4240 });
    assert.deepEqual(parseProcStat("7 (etcd) Z 1 7 7"), { pid: 7, state: "Z", pgrp: 7 });
    assert.equal(parseProcStat("garbage"), undefined);
  });
});
