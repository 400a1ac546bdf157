// The Helm chart renders with its defaults and with the common overrides, every object passes a
// server-side dry-run on the real test cluster, and its RBAC stays least-privilege.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { parse } from "yaml";
import { callerClusterRoles } from "../../src/auth/cluster-roles.ts";
import { parseOperatorConfig } from "../../src/operator/config.ts";
import { toolPath } from "../support/tools.ts";

const kubeconfig = process.env["HEARTH_KUBECONFIG"] ?? "";
const namespace = `chart-${process.pid}`;

function render(...sets: string[]): string {
  return execFileSync(
    toolPath("helm"),
    // No --kube-version: the project's helm is built with upstream's version ldflags.
    ["template", "hearth", "charts/hearth", "--namespace", namespace, ...sets.flatMap((s) => ["--set", s])],
    { encoding: "utf8" },
  );
}

function kubectl(args: string[], input?: string) {
  return spawnSync(toolPath("kubectl"), ["--kubeconfig", kubeconfig, ...args], { encoding: "utf8", input });
}

type Doc = { kind?: string; metadata?: { name?: string }; data?: Record<string, string>; rules?: { apiGroups?: string[]; resources?: string[]; verbs?: string[] }[] };
const docs = (yaml: string): Doc[] => parseAllDocuments(yaml).map((d) => d.toJS() as Doc).filter((d) => d !== null);

describe("Helm chart", () => {
  before(() => {
    assert.ok(kubeconfig, "HEARTH_KUBECONFIG must be set");
    const created = kubectl(["create", "namespace", namespace]);
    assert.equal(created.status, 0, created.stderr);
    // CRDs first, as helm install does from charts/hearth/crds.
    const crds = kubectl(["apply", "--server-side", "-f", "charts/hearth/crds/"]);
    assert.equal(crds.status, 0, crds.stderr);
  });
  after(() => {
    kubectl(["delete", "namespace", namespace, "--wait=false"]);
  });

  it("passes helm lint", () => {
    const lint = spawnSync(toolPath("helm"), ["lint", "charts/hearth"], { encoding: "utf8" });
    assert.equal(lint.status, 0, lint.stdout + lint.stderr);
  });

  const variants: [string, string[]][] = [
    ["defaults", []],
    ["no gateway persistence, one operator", ["gateway.persistence.enabled=false", "operator.replicas=1"]],
    ["gateway disabled, MIG strategy", ["gateway.enabled=false", "config.gpu.strategy=mig"]],
    ["existing secrets", ["signingKeySecret=my-key", "gateway.callerTokensSecret=my-tokens"]],
    ["watched namespaces (namespaced Roles)", [`operator.watchNamespaces={${namespace}}`]],
  ];
  for (const [name, sets] of variants) {
    it(`renders and passes a server-side dry-run: ${name}`, () => {
      const yaml = render(...sets);
      const kinds = docs(yaml).map((d) => d.kind);
      assert.ok(kinds.includes("Deployment") && kinds.includes("ClusterRole") && kinds.includes("ServiceAccount"));
      assert.equal(kinds.includes("Role") && kinds.includes("RoleBinding"), true);
      const dry = kubectl(["apply", "--dry-run=server", "-n", namespace, "-f", "-"], yaml);
      assert.equal(dry.status, 0, dry.stderr);
    });
  }

  it("renders the operator Deployment and, by default, the gateway with a volume", () => {
    const names = docs(render()).map((d) => `${d.kind}/${d.metadata?.name}`);
    for (const want of ["Deployment/hearth-operator", "Deployment/hearth-gateway", "Service/hearth-gateway", "PersistentVolumeClaim/hearth-gateway", "ConfigMap/hearth-config"]) {
      assert.ok(names.includes(want), `missing ${want} in ${names.join(", ")}`);
    }
  });

  it("runs the operator with the chart's memory settings (NODE_OPTIONS, extra env) and lets them be turned off", () => {
    type Container = { name: string; env?: { name: string; value?: string }[] };
    const operatorEnv = (yaml: string): Record<string, string | undefined> => {
      const dep = docs(yaml).find((d) => d.kind === "Deployment" && d.metadata?.name === "hearth-operator") as { spec?: { template?: { spec?: { containers?: Container[] } } } } | undefined;
      const c = dep?.spec?.template?.spec?.containers?.find((x) => x.name === "operator");
      return Object.fromEntries((c?.env ?? []).map((e) => [e.name, e.value]));
    };
    const env = operatorEnv(render());
    assert.equal(env["NODE_OPTIONS"], "--max-semi-space-size=1");
    assert.equal(env["MALLOC_ARENA_MAX"], "2");
    assert.equal(env["MALLOC_MMAP_THRESHOLD_"], "131072");
    assert.ok("POD_NAME" in env);
    const plain = operatorEnv(render("operator.nodeOptions=", "operator.extraEnv=null"));
    assert.equal("NODE_OPTIONS" in plain || "MALLOC_ARENA_MAX" in plain, false);
  });

  it("renders an operator config that the operator accepts", () => {
    for (const sets of [[], ["config.gpu.strategy=mig", "operator.watchNamespaces={a,b}"], ["config.gpu.strategy=hami"]]) {
      const cm = docs(render(...sets)).find((d) => d.kind === "ConfigMap" && d.metadata?.name === "hearth-config");
      const text = cm?.data?.["config.yaml"];
      assert.ok(text !== undefined, "config.yaml missing");
      const config = parseOperatorConfig(parse(text), "chart config");
      assert.equal(config.gateway.url, `http://hearth-gateway.${namespace}.svc:8080`);
      assert.equal(config.leaderElection.namespace, namespace);
    }
  });

  it("grants no wildcard in any RBAC rule (cluster-wide and with watchNamespaces)", () => {
    const roles = [...docs(render()), ...docs(render("operator.watchNamespaces={a,b}"))].filter((d) => d.kind === "ClusterRole" || d.kind === "Role");
    assert.ok(roles.length >= 3);
    for (const role of roles) {
      for (const rule of role.rules ?? []) {
        for (const field of [rule.apiGroups, rule.resources, rule.verbs]) {
          assert.ok(!(field ?? []).includes("*"), `${role.metadata?.name} has a wildcard: ${JSON.stringify(rule)}`);
        }
      }
    }
  });

  it("assumes the control plane's Kubernetes minor without a cluster (helm built with upstream's version ldflags)", () => {
    const v = spawnSync(toolPath("helm"), ["version", "--template", "{{.Version}}"], { encoding: "utf8" });
    assert.match(v.stdout, /^v3\.\d+\.\d+$/, "helm reports its release version");
    const chart = mkdtempSync(join(tmpdir(), "hearth-caps-"));
    try {
      mkdirSync(join(chart, "templates"));
      writeFileSync(join(chart, "Chart.yaml"), "apiVersion: v2\nname: caps\nversion: 0.1.0\n");
      writeFileSync(join(chart, "templates", "caps.yaml"), "kubeVersion: {{ .Capabilities.KubeVersion.Version }}\n");
      const out = execFileSync(toolPath("helm"), ["template", "x", chart], { encoding: "utf8" });
      const controlPlaneMinor = /k8s-v1\.(\d+)\./.exec(toolPath("helm"))?.[1];
      assert.ok(controlPlaneMinor !== undefined);
      assert.match(out, new RegExp(`kubeVersion: v1\\.${controlPlaneMinor}\\.`));
    } finally {
      rmSync(chart, { recursive: true, force: true });
    }
  });

  it("passes the gateway's auth settings as flags", () => {
    type Dep = Doc & { spec?: { template?: { spec?: { containers?: { args?: string[] }[] } } } };
    const argsOf = (...sets: string[]): string[] =>
      ((docs(render(...sets)).find((d) => d.kind === "Deployment" && d.metadata?.name === "hearth-gateway") as Dep | undefined)?.spec?.template?.spec?.containers?.[0]?.args ?? []);
    const defaults = argsOf();
    assert.ok(defaults.includes("--kubernetes-auth=on") && defaults.includes("--auth-cache-ttl=30s"), defaults.join(" "));
    const custom = argsOf("gateway.auth.kubernetes=false", "gateway.auth.cacheTTL=5s", "gateway.auth.tokenAudiences={hearth,api}");
    for (const want of ["--kubernetes-auth=off", "--auth-cache-ttl=5s", "--token-audience=hearth", "--token-audience=api"]) assert.ok(custom.includes(want), `${want} in ${custom.join(" ")}`);
  });

  it("installs the same caller ClusterRoles as dev mode (src/auth/cluster-roles.ts)", () => {
    const out = docs(render());
    for (const want of callerClusterRoles("hearth")) {
      const got = out.find((d) => d.kind === "ClusterRole" && d.metadata?.name === want.metadata.name) as (Doc & { metadata?: { labels?: Record<string, string> } }) | undefined;
      assert.ok(got !== undefined, `ClusterRole ${want.metadata.name}`);
      assert.deepEqual(got.rules, want.rules, want.metadata.name);
      for (const [k, v] of Object.entries(want.metadata.labels)) assert.equal(got.metadata?.labels?.[k], v, `${want.metadata.name} label ${k}`);
    }
  });

  it("with watchNamespaces grants the operator no cluster-wide role, only a Role per watched namespace", () => {
    const out = docs(render("operator.watchNamespaces={team-a,team-b}"));
    assert.equal(out.find((d) => d.kind === "ClusterRole" && d.metadata?.name === "hearth-operator"), undefined);
    assert.equal(out.find((d) => d.kind === "ClusterRoleBinding" && d.metadata?.name === "hearth-operator"), undefined);
    const roles = out.filter((d) => d.kind === "Role" && d.metadata?.name === "hearth-operator").map((d) => (d as { metadata?: { namespace?: string } }).metadata?.namespace);
    assert.deepEqual(roles.sort(), ["team-a", "team-b"]);
    const gatewayCluster = out.find((d) => d.kind === "ClusterRole" && d.metadata?.name === "hearth-gateway");
    assert.deepEqual((gatewayCluster?.rules ?? []).flatMap((r) => r.resources ?? []).sort(), ["subjectaccessreviews", "tokenreviews"]);
  });

  it("never lets the operator write Nodes, nor Pods beyond a patch (the autoscaler's pod-deletion-cost)", () => {
    const operator = docs(render()).find((d) => d.kind === "ClusterRole" && d.metadata?.name === "hearth-operator");
    const podRules = (operator?.rules ?? []).filter((r) => (r.resources ?? []).some((x) => x === "pods" || x === "nodes"));
    assert.ok(podRules.length > 0);
    for (const r of podRules) {
      const verbs = [...(r.verbs ?? [])].sort();
      if (verbs.includes("patch")) assert.deepEqual({ resources: r.resources, verbs }, { resources: ["pods"], verbs: ["patch"] });
      else assert.deepEqual(verbs, ["get", "list", "watch"]);
    }
  });

  it("ships the PrometheusRule (the promtool-tested rule file) and the Grafana dashboard for the sidecar", () => {
    const out = docs(render("metrics.prometheusRule.enabled=true", "metrics.grafanaDashboard.enabled=true"));
    const rule = out.find((d) => d.kind === "PrometheusRule") as { spec?: unknown } | undefined;
    assert.deepEqual(rule?.spec, parse(readFileSync("charts/hearth/files/prometheus-rules.yaml", "utf8")));
    const dash = out.find((d) => d.kind === "ConfigMap" && d.metadata?.name === "hearth-dashboard") as (Doc & { metadata?: { labels?: Record<string, string> } }) | undefined;
    assert.equal(dash?.metadata?.labels?.["grafana_dashboard"], "1");
    const json = JSON.parse(dash?.data?.["hearth-functions.json"] ?? "{}") as { panels?: { targets?: { expr: string }[] }[] };
    const exprs = (json.panels ?? []).flatMap((p) => (p.targets ?? []).map((t) => t.expr)).join("\n");
    for (const m of ["hearth_gateway_queue_depth", "hearth_autoscaler_desired_replicas", "hearth_gateway_cold_start_seconds_bucket"]) assert.ok(exprs.includes(m), m);
    const dry = kubectl(["apply", "--dry-run=server", "-n", namespace, "-f", "-"], JSON.stringify(dash));
    assert.equal(dry.status, 0, dry.stderr);
  });
});
