// The gateway's edges against unauthenticated and slow clients, on loopback with a real Gateway:
// namespace-bound static tokens (run, read, cancel, stats), auth before any body is read on
// every route, header/request timeouts, the connection limit and /metrics protection.
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { workerToken } from "../../src/auth/worker-token.ts";
import { Gateway } from "../../src/gateway/gateway.ts";
import { StaticRegistry, staticFunction } from "../../src/gateway/registry.ts";

const KEY = "hardening-signing-key";
const TEAM_A = "token-team-a";
const OPS = "token-ops";

/** Sends `head` on a raw socket; resolves with what came back once the server answers or closes. */
function raw(port: number, head: string, waitMs = 5000): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const sock: Socket = connect(port, "127.0.0.1");
    let text = "";
    const done = (closed: boolean): void => {
      clearTimeout(timer);
      sock.destroy();
      resolve({ text, closed });
    };
    const timer = setTimeout(() => done(false), waitMs);
    sock.on("data", (d) => {
      text += d.toString("utf8");
      if (text.includes("\r\n\r\n")) done(false);
    });
    sock.on("close", () => done(true));
    sock.on("error", () => done(true));
    sock.write(head);
  });
}

describe("gateway hardening", () => {
  let gw: Gateway;
  let port: number;
  const registry = new StaticRegistry([staticFunction({ namespace: "team-a", name: "fn" }), staticFunction({ namespace: "team-b", name: "fn" })]);

  before(async () => {
    gw = await Gateway.start({
      storePath: ":memory:",
      registry,
      auth: { callerTokens: [{ token: TEAM_A, namespaces: ["team-a"] }, { token: OPS, namespaces: "*" }], workerSigningKey: KEY },
      limits: { headersTimeoutMs: 1000, requestTimeoutMs: 1500, maxConnections: 20 },
      metricsTokens: ["scrape-me"],
    });
    port = gw.port;
  });
  after(async () => gw.stop());

  const call = (path: string, token: string, init: RequestInit = {}): Promise<Response> => fetch(`${gw.url}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, ...(init.headers as Record<string, string> | undefined) } });

  it("keeps a namespace-bound token to its namespaces: run, read, cancel, stats", async () => {
    assert.equal((await call("/v1/namespaces/team-a/functions/fn:push", TEAM_A, { method: "POST", body: "1" })).status, 202);
    const denied = await call("/v1/namespaces/team-b/functions/fn:push", TEAM_A, { method: "POST", body: "1" });
    assert.equal(denied.status, 403);
    assert.match(((await denied.json()) as { error: { message: string } }).error.message, /not bound to that namespace/);
    const other = (await (await call("/v1/namespaces/team-b/functions/fn:push", OPS, { method: "POST", body: "2" })).json()) as { id: string };
    assert.equal((await call(`/v1/tasks/${other.id}`, TEAM_A)).status, 403);
    assert.equal((await call(`/v1/tasks/${other.id}/events`, TEAM_A)).status, 403);
    assert.equal((await call(`/v1/tasks/${other.id}`, TEAM_A, { method: "DELETE" })).status, 403);
    assert.equal((await (await call(`/v1/tasks/${other.id}`, OPS)).json() as { status: string }).status, "queued", "not cancelled");
    assert.equal((await call("/v1/namespaces/team-b/functions/fn/stats", TEAM_A)).status, 403);
    assert.equal((await call("/v1/namespaces/team-b/functions/fn/tasks", TEAM_A, { method: "DELETE" })).status, 403);
    const seen = (await (await call("/v1/stats", TEAM_A)).json()) as { functions: { namespace: string }[] };
    assert.deepEqual([...new Set(seen.functions.map((f) => f.namespace))], ["team-a"]);
    const all = (await (await call("/v1/stats", OPS)).json()) as { functions: { namespace: string }[] };
    assert.deepEqual([...new Set(all.functions.map((f) => f.namespace))].sort(), ["team-a", "team-b"]);
    // Unknown tasks: 401 before 404 for strangers.
    assert.equal((await fetch(`${gw.url}/v1/tasks/nope`)).status, 401);
  });

  it("authenticates every route before reading its body", async () => {
    const routes = [
      "POST /v1/namespaces/team-a/functions/fn:run",
      "POST /v1/namespaces/team-a/functions/fn:push",
      "POST /v1/namespaces/team-a/functions/fn:pushMany",
      "POST /v1/workers/lease",
      "POST /v1/workers/heartbeat",
      "POST /v1/workers/results",
    ];
    const pushed = (await (await call("/v1/namespaces/team-a/functions/fn:push", TEAM_A, { method: "POST", body: "3" })).json()) as { id: string };
    for (const action of ["progress", "complete", "fail"]) routes.push(`POST /v1/tasks/${pushed.id}/${action}`);
    for (const route of routes) {
      const [method, path] = route.split(" ");
      // The body is announced but never sent: only an answer that does not wait for it can come back.
      const { text } = await raw(port, `${method} ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n`, 1200);
      assert.match(text, /^HTTP\/1\.1 401/, `${route} answered before its body: ${text.slice(0, 40) || "(nothing)"}`);
    }
    // A worker token is checked before the body too, and must match the body's function.
    const token = workerToken(KEY, "team-a", "fn");
    const lease = await fetch(`${gw.url}/v1/workers/lease`, { method: "POST", headers: { authorization: `Bearer ${token}` }, body: JSON.stringify({ function: "team-b/fn", workerId: "w" }) });
    assert.equal(lease.status, 401);
    const ok = await fetch(`${gw.url}/v1/workers/lease`, { method: "POST", headers: { authorization: `Bearer ${token}` }, body: JSON.stringify({ function: "team-a/fn", workerId: "w", max: 1 }) });
    assert.equal(ok.status, 200);
  });

  it("drops clients that send headers or bodies too slowly", async () => {
    const started = Date.now();
    const slowHeaders = await raw(port, "POST /v1/namespaces/team-a/functions/fn:push HTTP/1.1\r\nHost: x\r\n", 8000);
    assert.ok(slowHeaders.closed || /^HTTP\/1\.1 408/.test(slowHeaders.text), `slow headers: ${slowHeaders.text}`);
    const slowBody = await raw(port, `POST /v1/namespaces/team-a/functions/fn:push HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TEAM_A}\r\nContent-Length: 100\r\n\r\n{`, 8000);
    assert.ok(slowBody.closed || /^HTTP\/1\.1 408/.test(slowBody.text), `slow body: ${slowBody.text}`);
    assert.ok(Date.now() - started < 7000, "within the timeouts");
  });

  it("keeps idle keep-alive connections and long polls beyond the request timeout", async () => {
    const pushed = (await (await call("/v1/namespaces/team-a/functions/fn:push", TEAM_A, { method: "POST", body: "4" })).json()) as { id: string };
    const started = Date.now();
    const res = await call(`/v1/tasks/${pushed.id}?wait=2500ms`, TEAM_A);
    assert.equal(res.status, 200);
    assert.ok(Date.now() - started >= 2000, "the long poll waited past requestTimeout");
  });

  it("refuses connections over the limit", async () => {
    const socks: Socket[] = [];
    try {
      for (let i = 0; i < 40; i++) {
        const s = connect(port, "127.0.0.1");
        s.on("error", () => undefined);
        socks.push(s);
      }
      await new Promise((r) => setTimeout(r, 300));
      const closed = socks.filter((s) => s.destroyed || s.readyState === "closed").length;
      assert.ok(closed >= 15, `${closed} of 40 connections refused`);
    } finally {
      for (const s of socks) s.destroy();
    }
    await new Promise((r) => setTimeout(r, 100));
    assert.equal((await call("/v1/stats", OPS)).status, 200, "serves again once connections close");
  });

  it("protects /metrics with its token", async () => {
    assert.equal((await fetch(`${gw.url}/metrics`)).status, 401);
    assert.equal((await call("/metrics", TEAM_A)).status, 401);
    const res = await call("/metrics", "scrape-me");
    assert.equal(res.status, 200);
    assert.match(await res.text(), /hearth_gateway_authz_decisions_total\{kind="static",decision="forbidden"\}/);
  });

  it("serves /metrics on its own port when asked, and not on the API port", async () => {
    const other = await Gateway.start({ storePath: ":memory:", registry, auth: { callerTokens: [OPS], workerSigningKey: KEY }, metricsPort: 0 });
    try {
      assert.equal((await fetch(`${other.url}/metrics`)).status, 404);
      const res = await fetch(`http://127.0.0.1:${other.metricsServer?.port ?? 0}/metrics`);
      assert.equal(res.status, 200);
      assert.match(await res.text(), /hearth_gateway_requests_total/);
    } finally {
      await other.stop();
    }
  });
});
