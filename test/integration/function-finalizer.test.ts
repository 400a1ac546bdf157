// The Function finalizer on the real cluster: an operator with a real gateway (Functions from the
// cluster) puts `hearth.dev/gateway-tasks` on each Function; deleting one has the gateway cancel
// its queued calls — a waiting run() hears "the function was deleted" at once instead of hanging —
// and then the finalizer goes and the object with it.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import pino from "pino";
import { HearthError, createClient } from "../../src/client/index.ts";
import { FUNCTION_FINALIZER } from "../../src/controllers/function/finalizer.ts";
import { Gateway } from "../../src/gateway/gateway.ts";
import { KubeFunctionRegistry } from "../../src/gateway/kube-registry.ts";
import { SystemClock } from "../../src/kube/clock.ts";
import type { KubeClient } from "../../src/kube/client.ts";
import { hearthFunctions } from "../../src/kube/resources.ts";
import { kubeConfigFromEnv, waitFor, withNamespace } from "../support/cluster.ts";
import { aFunction } from "../support/function-builder.ts";
import { installCrds, startTestOperator, TEST_SIGNING_KEY, testClient } from "../support/operator.ts";
import { eventsResource } from "../support/autoscale.ts";

const kc = kubeConfigFromEnv();
const client: KubeClient = await testClient();
await installCrds(client);
const ns = await withNamespace({ after }, kc, "fin");

describe("Function finalizer", () => {
  it("deleting a Function cancels its queued calls through the gateway, then the Function goes", { timeout: 180_000 }, async () => {
    const registry = new KubeFunctionRegistry({ client, clock: new SystemClock(), logger: pino({ level: "silent" }), namespaces: [ns] });
    // A real gateway; caller routes open, the operator reaches it with the Function's worker token.
    const gw = await Gateway.start({ storePath: ":memory:", registry, auth: { insecureOpen: true, workerSigningKey: TEST_SIGNING_KEY } });
    const operator = await startTestOperator({
      namespace: ns,
      config: { gateway: { url: gw.url }, controllers: { function: { concurrency: 4, timeoutSeconds: 30, resyncSeconds: 0, gatewayFinalizer: true } } },
    });
    const caller = createClient({ url: gw.url });
    try {
      // No worker ever comes for it (kwok pods run nothing): its calls stay queued.
      await client.apply(hearthFunctions, aFunction("lonely", ns).handler("binding:identity").with({ runtime: "node" }).manifest());
      const withFinalizer = await waitFor(
        async () => {
          const f = await client.get(hearthFunctions, "lonely", ns);
          return f?.metadata.finalizers?.includes(FUNCTION_FINALIZER) === true ? f : undefined;
        },
        { what: "the finalizer on the Function", timeoutMs: 60_000 },
      );
      assert.ok(withFinalizer);
      await waitFor(() => registry.get(ns, "lonely"), { what: "the Function in the gateway's registry" });
      const fn = caller.function(`${ns}/lonely`);
      const pushed = await Promise.all([1, 2, 3].map((i) => fn.push({ i })));
      // Its outcome is taken at once (not left as a bare promise): the deletion below may end it
      // before the assertion is reached, and an unhandled rejection would fail the test.
      const running = fn.run({ waiting: true }, { timeoutMs: 120_000 }).then(
        (output) => ({ output }),
        (err: unknown) => ({ err }),
      );
      await waitFor(async () => ((await fn.stats()).queueDepth === 4 ? true : undefined), { what: "four queued calls" });

      await client.delete(hearthFunctions, "lonely", ns);
      // New calls are refused from the moment the deletion is seen (or the Function is gone).
      await waitFor(() => registry.get(ns, "lonely")?.deleting === true || registry.get(ns, "lonely") === undefined, { what: "the gateway to see the deletion" });
      await assert.rejects(fn.push({ late: true }), (err: unknown) => err instanceof HearthError && err.type === "NotFound");
      // The run() that was waiting ends with the reason.
      const outcome = await running;
      assert.ok("err" in outcome, `run() should have failed, it returned ${JSON.stringify(outcome)}`);
      const err = outcome.err;
      assert.ok(err instanceof HearthError, String(err));
      assert.equal(err.type, "Cancelled");
      assert.match(err.message, /function was deleted/);
      for (const t of pushed) {
        const doc = await t.status();
        assert.equal(doc.status, "cancelled", `task ${t.id}`);
        assert.match(doc.error?.message ?? "", /function was deleted/);
      }
      // Then the finalizer goes, and the Function with it.
      await waitFor(async () => ((await client.get(hearthFunctions, "lonely", ns)) === undefined ? true : undefined), { what: "the Function to be gone", timeoutMs: 60_000 });
      // The operator said so on the Function.
      const events = await waitFor(
        async () => {
          const list = await client.list(eventsResource, { namespace: ns });
          const e = list.items.find((x) => x["reason"] === "CallsCancelled");
          return e === undefined ? undefined : e;
        },
        { what: "the CallsCancelled Event" },
      );
      assert.match(String(events["message"]), /cancelled its 4 unfinished calls/);
    } catch (err) {
      const f = await client.get(hearthFunctions, "lonely", ns).catch(() => undefined);
      throw new Error(`${String(err)}\nFunction now: ${JSON.stringify(f?.metadata)}\noperator log (last lines):\n${operator.logs().slice(-6000)}`, { cause: err });
    } finally {
      caller.close();
      await operator.stop();
      await gw.stop();
    }
  });
});
