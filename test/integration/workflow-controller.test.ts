// The Workflow controller on the real control plane: graph checks and Function readiness become
// Valid/Ready conditions with reasons, status.endpoint and Events; a Function's change
// re-evaluates the Workflows that use it.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { pino } from "pino";
import { Registry } from "prom-client";
import { z } from "zod";
import { WorkflowController } from "../../src/controllers/workflow/controller.ts";
import { createClient } from "../../src/kube/client.ts";
import { SystemClock } from "../../src/kube/clock.ts";
import { fromKubeconfigFile } from "../../src/kube/kubeconfig.ts";
import { events, hearthFunctions, hearthWorkflows } from "../../src/kube/resources.ts";
import { Manager } from "../../src/operator/manager.ts";
import { installCrds } from "../support/operator.ts";
import { createTestNamespace, kubeConfigFromEnv, uniqueName, waitFor, type TestNamespace } from "../support/cluster.ts";

const kc = kubeConfigFromEnv();
const clock = new SystemClock();
const logger = pino({ level: process.env["HEARTH_TEST_LOG"] === "1" ? "debug" : "warn" });
const client = createClient({ connection: await fromKubeconfigFile(process.env["HEARTH_KUBECONFIG"] ?? ""), clock, fieldManager: "hearth-test" });

const cond = z.object({ type: z.string(), status: z.string(), reason: z.string(), message: z.string() });
const wfStatus = z.object({ status: z.object({ conditions: z.array(cond).default([]), endpoint: z.string().optional(), observedGeneration: z.number().optional() }).default({ conditions: [] }) });

describe("Workflow controller", () => {
  let ns: TestNamespace;
  let manager: Manager;

  before(async () => {
    await installCrds(client);
    ns = await createTestNamespace(kc, "wf");
    manager = new Manager({ client, clock, logger, registry: new Registry(), identity: uniqueName("wf-test"), namespaces: [ns.name] });
    new WorkflowController(manager, { gatewayUrl: "http://gateway.test:8080" });
    manager.start();
  });

  after(async () => {
    await manager.stop();
    await ns.delete();
    client.transport.close();
  });

  async function makeFunction(name: string, opts: { encoding?: "json" | "pickle"; ready?: boolean } = {}): Promise<void> {
    await client.create(hearthFunctions, {
      metadata: { name, namespace: ns.name },
      spec: { image: "registry.example.com/test:1", handler: "app:f", ...(opts.encoding !== undefined ? { encoding: opts.encoding } : {}) },
    });
    if (opts.ready !== undefined) await setReady(name, opts.ready);
  }

  async function setReady(name: string, ready: boolean): Promise<void> {
    await client.applyStatus(
      hearthFunctions,
      { name, namespace: ns.name },
      { conditions: [{ type: "Ready", status: ready ? "True" : "False", reason: ready ? "WorkersReady" : "SetupFailing", message: "set by the test", lastTransitionTime: new Date().toISOString() }] },
    );
  }

  async function makeWorkflow(name: string, spec: object): Promise<void> {
    await client.create(hearthWorkflows, { metadata: { name, namespace: ns.name }, spec });
  }

  async function conditions(name: string, want: (c: Map<string, z.infer<typeof cond>>) => boolean, what: string): Promise<{ conds: Map<string, z.infer<typeof cond>>; endpoint: string | undefined }> {
    return waitFor(
      async () => {
        const raw = await client.get(hearthWorkflows, name, ns.name);
        const s = wfStatus.parse(raw ?? {}).status;
        const conds = new Map(s.conditions.map((c) => [c.type, c]));
        return want(conds) ? { conds, endpoint: s.endpoint } : false;
      },
      { what, timeoutMs: 30_000 },
    );
  }

  async function eventReasons(name: string): Promise<string[]> {
    const list = await client.list(events, { namespace: ns.name });
    return list.items.filter((e) => (e["involvedObject"] as { name?: string } | undefined)?.name === name).map((e) => String(e["reason"]));
  }

  it("a valid graph over Ready Functions is Valid and Ready, with the run endpoint and Events", async () => {
    await makeFunction("split", { ready: true });
    await makeFunction("embed", { ready: true });
    await makeWorkflow("ok", {
      start: "split",
      steps: [
        { name: "split", functionRef: { name: "split" }, map: true, next: ["embed"] },
        { name: "embed", functionRef: { name: "embed" }, next: ["sum"] },
        { name: "sum", functionRef: { name: "embed" }, accumulate: { initial: 0 } },
      ],
    });
    const { conds, endpoint } = await conditions("ok", (c) => c.get("Ready")?.status === "True", "ok to be Ready");
    assert.equal(conds.get("Valid")?.status, "True");
    assert.equal(endpoint, `http://gateway.test:8080/v1/namespaces/${ns.name}/workflows/ok:run`);
    await waitFor(async () => (await eventReasons("ok")).includes("Ready"), { what: "a Ready event" });
  });

  it("a Function becoming not Ready, then Ready, re-evaluates the Workflow", async () => {
    await makeFunction("flip", { ready: true });
    await makeWorkflow("follows", { start: "a", steps: [{ name: "a", functionRef: { name: "flip" } }] });
    await conditions("follows", (c) => c.get("Ready")?.status === "True", "Ready");
    await setReady("flip", false);
    const { conds } = await conditions("follows", (c) => c.get("Ready")?.status === "False", "NotReady after the Function broke");
    assert.equal(conds.get("Ready")?.reason, "FunctionNotReady");
    assert.match(conds.get("Ready")?.message ?? "", /flip \(SetupFailing\)/);
    await setReady("flip", true);
    await conditions("follows", (c) => c.get("Ready")?.status === "True", "Ready again");
    await waitFor(async () => (await eventReasons("follows")).includes("FunctionNotReady"), { what: "a FunctionNotReady event" });
  });

  it("a missing Function is FunctionNotFound until it is created", async () => {
    await makeWorkflow("waits", { start: "a", steps: [{ name: "a", functionRef: { name: "later" } }] });
    const { conds } = await conditions("waits", (c) => c.get("Ready")?.reason === "FunctionNotFound", "FunctionNotFound");
    assert.equal(conds.get("Valid")?.status, "True");
    assert.match(conds.get("Ready")?.message ?? "", /later/);
    await makeFunction("later", { ready: true });
    await conditions("waits", (c) => c.get("Ready")?.status === "True", "Ready once the Function exists");
  });

  for (const [name, spec, reason, message] of [
    ["cycle", { start: "a", steps: [{ name: "a", functionRef: { name: "split" }, next: ["b"] }, { name: "b", functionRef: { name: "split" }, next: ["a"] }] }, "Cycle", /a → b → a/],
    ["unreachable", { start: "a", steps: [{ name: "a", functionRef: { name: "split" } }, { name: "b", functionRef: { name: "split" } }] }, "Unreachable", /"b" cannot be reached/],
    ["nomap", { start: "a", steps: [{ name: "a", functionRef: { name: "split" }, next: ["r"] }, { name: "r", functionRef: { name: "split" }, accumulate: {} }] }, "AccumulateWithoutMap", /"r" accumulates/],
    ["noroutes", { start: "a", steps: [{ name: "a", functionRef: { name: "split" }, routes: [] }] }, "EmptyRoutes", /router with no routes/],
  ] as const) {
    it(`a graph CEL cannot reject is reported: ${reason}`, async () => {
      await makeWorkflow(name, spec);
      const { conds } = await conditions(name, (c) => c.get("Valid")?.status === "False", `${name} Invalid`);
      assert.equal(conds.get("Valid")?.reason, reason);
      assert.match(conds.get("Valid")?.message ?? "", message);
      assert.equal(conds.get("Ready")?.status, "False");
      await waitFor(async () => (await eventReasons(name)).includes(reason), { what: `a ${reason} event` });
    });
  }

  it("json and pickle across an edge is an EncodingMismatch naming the edge", async () => {
    await makeFunction("pyside", { encoding: "pickle", ready: true });
    await makeWorkflow("mixed", { start: "a", steps: [{ name: "a", functionRef: { name: "split" }, next: ["b"] }, { name: "b", functionRef: { name: "pyside" } }] });
    const { conds } = await conditions("mixed", (c) => c.get("Valid")?.status === "False", "mixed Invalid");
    assert.equal(conds.get("Valid")?.reason, "EncodingMismatch");
    assert.match(conds.get("Valid")?.message ?? "", /edge a → b/);
  });
});
