// The external-autoscaler examples validate against their real schemas on the test cluster: the
// KEDA ScaledObject against KEDA's own CRDs (from KEDA's Go module, hack/build-tools.sh), the HPA
// against autoscaling/v2; both target the Function's scale subresource.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { chartToolPath } from "../support/chart-tools.ts";
import { toolPath } from "../support/tools.ts";

const kubeconfig = process.env["HEARTH_KUBECONFIG"] ?? "";
const namespace = `asm-${process.pid}`;

function kubectl(args: string[], input?: string) {
  return spawnSync(toolPath("kubectl"), ["--kubeconfig", kubeconfig, ...args], { encoding: "utf8", input });
}

describe("autoscaling examples", { timeout: 1_800_000 }, () => {
  before(() => {
    assert.ok(kubeconfig, "HEARTH_KUBECONFIG must be set");
    assert.equal(kubectl(["create", "namespace", namespace]).status, 0);
    const crds = kubectl(["apply", "--server-side", "-f", "crds/"]);
    assert.equal(crds.status, 0, crds.stderr);
    const keda = kubectl(["apply", "--server-side", "-f", `${chartToolPath("keda-crds")}/keda.sh_scaledobjects.yaml`]);
    assert.equal(keda.status, 0, keda.stderr);
    const ready = kubectl(["wait", "--for=condition=Established", "--timeout=60s", "crd/scaledobjects.keda.sh", "crd/functions.hearth.dev"]);
    assert.equal(ready.status, 0, ready.stderr);
  });
  after(() => {
    kubectl(["delete", "namespace", namespace, "--wait=false"]);
  });

  it("the Function with autoscaler: external is accepted", () => {
    const r = kubectl(["apply", "-n", namespace, "-f", "examples/autoscaling/function.yaml"]);
    assert.equal(r.status, 0, r.stderr);
  });

  it("the KEDA ScaledObject passes a server-side dry-run against KEDA's CRD", () => {
    const r = kubectl(["apply", "--dry-run=server", "-n", namespace, "-f", "examples/autoscaling/keda-scaledobject.yaml"]);
    assert.equal(r.status, 0, r.stderr);
    // The schema is really enforced: a misspelt field is refused.
    const bad = kubectl(["apply", "--dry-run=server", "--validate=strict", "-n", namespace, "-f", "-"], `apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: bad}
spec:
  scaleTargetRef: {name: whisper}
  maxReplicaCount: "ten"
  triggers: []
`);
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /maxReplicaCount/);
  });

  it("the HPA with an external metric passes a server-side dry-run (autoscaling/v2)", () => {
    const r = kubectl(["apply", "--dry-run=server", "-n", namespace, "-f", "examples/autoscaling/hpa-external.yaml"]);
    assert.equal(r.status, 0, r.stderr);
  });

  it("kubectl scale reaches the Function through its scale subresource", () => {
    const r = kubectl(["scale", "-n", namespace, "function/whisper", "--replicas=3"]);
    assert.equal(r.status, 0, r.stderr);
    const got = kubectl(["get", "-n", namespace, "function/whisper", "-o", "jsonpath={.spec.warmPool.replicas}"]);
    assert.equal(got.stdout, "3");
    const scale = kubectl(["get", "--raw", `/apis/hearth.dev/v1alpha1/namespaces/${namespace}/functions/whisper/scale`]);
    assert.equal(scale.status, 0, scale.stderr);
    assert.equal((JSON.parse(scale.stdout) as { spec: { replicas: number } }).spec.replicas, 3);
  });
});
