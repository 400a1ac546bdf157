// Transport.lane(): a second way to the same apiserver with its own sockets and rate limit but the
// same request counts and metrics — what leader election renews its lease on, so that a renewal
// never queues behind a flood of writes. Real HTTP against a server that can hold requests.
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { Registry } from "prom-client";
import { SystemClock } from "../../src/kube/clock.ts";
import { Transport } from "../../src/kube/client.ts";

describe("Transport.lane", () => {
  let server: http.Server;
  let url = "";
  /** Requests to /held wait here until released. */
  const held: http.ServerResponse[] = [];
  before(async () => {
    server = http.createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        if (req.url?.startsWith("/held") === true) held.push(res);
        else res.writeHead(200, { "content-type": "application/json" }).end("{}");
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    for (const res of held) res.end("{}");
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const connection = () => ({ server: url, tls: { rejectUnauthorized: true }, namespace: "ns", headers: async () => ({}) });

  it("answers while every socket of the main lane is held, and counts into the same counters", async () => {
    const registry = new Registry();
    const main = new Transport({ connection: connection(), clock: new SystemClock(), registry, maxSockets: 1, qps: 1000, burst: 1000 });
    const lane = main.lane({ maxSockets: 1, qps: 5, burst: 5 });
    try {
      const blocked = main.request("GET", "/held", { verb: "get", resource: "deployments" });
      await waitUntil(() => held.length === 1);
      // The main lane's only socket is busy: a second request there waits…
      let mainDone = false;
      const queued = main.request("GET", "/fast", { verb: "get", resource: "pods" }).then(() => (mainDone = true));
      // …while the lane answers at once.
      assert.deepEqual(await lane.request("PUT", "/lease", { verb: "update", resource: "leases", body: {} }), {});
      assert.equal(mainDone, false, "the main lane's queued request must still be waiting for its socket");
      held.shift()?.end("{}");
      await blocked;
      await queued;
      assert.equal(main.counts.get("update leases"), 1);
      assert.equal(lane.counts, main.counts, "one set of counts");
      const metric = await registry.getSingleMetric("hearth_kube_requests_total")?.get();
      const leaseSamples = metric?.values.filter((v) => v.labels["resource"] === "leases") ?? [];
      assert.equal(leaseSamples.reduce((n, v) => n + v.value, 0), 1, "the lane's request is in the registry's counter");
    } finally {
      lane.close();
      main.close();
    }
  });
});

async function waitUntil(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(cond(), "condition not reached in 5 s");
}
