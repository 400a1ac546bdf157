// The gateway's Kubernetes registry on the real cluster: Functions applied with the API are
// served (their timeoutSeconds and retries taken from the spec), edits are seen, deleted ones
// become 404. A real worker process answers through it.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import pino from "pino";
import { HearthError, createClient } from "../../src/client/index.ts";
import { Gateway } from "../../src/gateway/gateway.ts";
import { KubeFunctionRegistry } from "../../src/gateway/kube-registry.ts";
import { SystemClock } from "../../src/kube/clock.ts";
import type { KubeClient } from "../../src/kube/client.ts";
import { hearthFunctions } from "../../src/kube/resources.ts";
import { startWorker } from "../e2e/harness.ts";
import { NODE_HANDLERS } from "../e2e/protocol-cases.ts";
import { kubeConfigFromEnv, waitFor, withNamespace } from "../support/cluster.ts";
import { aFunction } from "../support/function-builder.ts";
import { installCrds, testClient } from "../support/operator.ts";

const kc = kubeConfigFromEnv();
const client: KubeClient = await testClient();
await installCrds(client);
const ns = await withNamespace({ after }, kc, "gw");

describe("gateway with the Kubernetes Function registry", () => {
  it("serves the Functions of the cluster and follows edits and deletions", async () => {
    const registry = new KubeFunctionRegistry({ client, clock: new SystemClock(), logger: pino({ level: "silent" }), namespaces: [ns] });
    await client.apply(hearthFunctions, aFunction("echo", ns).handler("binding:identity").with({ runtime: "node", timeoutSeconds: 7, retries: { maxRetries: 2 } }).manifest());
    const gw = await Gateway.start({ storePath: ":memory:", registry, auth: { insecureOpen: true } });
    const caller = createClient({ url: gw.url });
    const worker = startWorker({ gatewayUrl: gw.url, fn: `${ns}/echo`, handler: "binding:identity", codePath: NODE_HANDLERS });
    try {
      const settings = await waitFor(() => registry.get(ns, "echo"), { what: "the Function in the informer cache" });
      assert.equal(settings.timeoutSeconds, 7);
      assert.equal(settings.retries.maxRetries, 2);
      assert.equal(settings.retries.multiplier, 2, "defaults applied");

      assert.deepEqual(await caller.function(`${ns}/echo`).run({ value: [1, 2] }), [1, 2]);

      await client.apply(hearthFunctions, aFunction("echo", ns).handler("binding:identity").with({ runtime: "node", timeoutSeconds: 9 }).manifest());
      await waitFor(() => registry.get(ns, "echo")?.timeoutSeconds === 9, { what: "the edit" });

      await assert.rejects(caller.function(`${ns}/absent`).run(1), (err: unknown) => err instanceof HearthError && err.status === 404);
      await client.delete(hearthFunctions, "echo", ns);
      await waitFor(() => registry.get(ns, "echo") === undefined, { what: "the deletion" });
      await assert.rejects(caller.function(`${ns}/echo`).push(1), (err: unknown) => err instanceof HearthError && err.type === "NotFound");
    } finally {
      await worker.kill();
      caller.close();
      await gw.stop();
    }
  });
});
