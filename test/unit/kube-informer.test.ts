// The informer and client over real HTTP against a tiny list/watch server that can misbehave on
// demand (410 Gone, silent watches, malformed objects).
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { pino } from "pino";
import { Registry } from "prom-client";
import { SystemClock } from "../../src/kube/clock.ts";
import { KubeClient, Transport } from "../../src/kube/client.ts";
import { describeStatus, isConflict, isNotFound, toStatus } from "../../src/kube/errors.ts";
import { Informer, InformerMetrics } from "../../src/kube/informer.ts";
import { pods, secrets } from "../../src/kube/resources.ts";

const silent = pino({ level: "silent" });

interface RawPod {
  metadata: { name: string; namespace: string; resourceVersion: string; labels?: Record<string, string> };
  status?: unknown;
}

class FakeApiserver {
  server!: http.Server;
  url = "";
  rv = 100;
  objects = new Map<string, RawPod>();
  watchers = new Set<http.ServerResponse>();
  /** Every event, so that a watch from resourceVersion N replays what came after N (as etcd does). */
  history: { rv: number; line: string }[] = [];
  watchRequests = 0;
  /** When each watch request arrived (Date.now()). */
  watchTimes: number[] = [];
  listRequests = 0;
  /** Next watch gets 410 Gone. */
  goneOnce = false;
  /** Watches stay open and silent. */
  silent = false;
  requests: { method: string; url: string; body: string; contentType: string | undefined }[] = [];

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => this.handle(req, res, body));
    });
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const w of this.watchers) w.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  put(name: string, extra: Partial<RawPod> = {}): RawPod {
    const obj: RawPod = { metadata: { name, namespace: "ns", resourceVersion: String(++this.rv) }, ...extra };
    obj.metadata.resourceVersion = String(this.rv);
    const type = this.objects.has(name) ? "MODIFIED" : "ADDED";
    this.objects.set(name, obj);
    this.broadcast(type, obj);
    return obj;
  }

  remove(name: string, broadcast = true): void {
    const obj = this.objects.get(name);
    if (obj === undefined) return;
    this.objects.delete(name);
    this.rv++;
    if (broadcast) this.broadcast("DELETED", { ...obj, metadata: { ...obj.metadata, resourceVersion: String(this.rv) } });
  }

  broadcast(type: string, object: unknown): void {
    const line = JSON.stringify({ type, object }) + "\n";
    this.history.push({ rv: this.rv, line });
    if (this.silent) return;
    for (const w of this.watchers) w.write(line);
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse, body: string): void {
    const url = new URL(req.url ?? "/", this.url);
    this.requests.push({ method: req.method ?? "", url: req.url ?? "", body, contentType: req.headers["content-type"] });
    const json = (code: number, obj: unknown): void => {
      res.writeHead(code, { "content-type": "application/json" });
      res.end(JSON.stringify(obj));
    };
    if (url.pathname.startsWith("/api/v1/namespaces/ns/secrets/")) {
      if (req.method === "GET") return json(404, { kind: "Status", code: 404, reason: "NotFound", message: 'secrets "x" not found' });
      return json(422, { kind: "Status", code: 422, reason: "Invalid", message: "Secret is invalid", details: { causes: [{ field: "data[token]", message: "must be base64" }] } });
    }
    if (url.searchParams.get("watch") === "1") {
      this.watchRequests++;
      this.watchTimes.push(Date.now());
      if (this.goneOnce) {
        this.goneOnce = false;
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ type: "ERROR", object: { kind: "Status", code: 410, reason: "Expired", message: "too old resource version" } }) + "\n");
        return;
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.flushHeaders();
      const from = Number(url.searchParams.get("resourceVersion") ?? "0");
      if (!this.silent) for (const h of this.history) if (h.rv > from) res.write(h.line);
      this.watchers.add(res);
      res.on("close", () => this.watchers.delete(res));
      return;
    }
    this.listRequests++;
    const items = [...this.objects.values()];
    const limit = Number(url.searchParams.get("limit") ?? "0");
    const start = Number(url.searchParams.get("continue") ?? "0");
    const page = limit > 0 ? items.slice(start, start + limit) : items;
    const next = limit > 0 && start + limit < items.length ? String(start + limit) : undefined;
    json(200, { kind: "PodList", metadata: { resourceVersion: String(this.rv), ...(next !== undefined ? { continue: next } : {}) }, items: page });
  }
}

async function until(what: string, cond: () => boolean, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("Informer over HTTP", () => {
  const api = new FakeApiserver();
  let client: KubeClient;
  let registry: Registry;
  let metrics: InformerMetrics;
  before(async () => {
    await api.start();
    registry = new Registry();
    metrics = new InformerMetrics(registry);
    const transport = new Transport({ connection: { server: api.url, tls: { rejectUnauthorized: true }, namespace: "ns", headers: async () => ({ authorization: "Bearer t" }) }, clock: new SystemClock(), registry });
    client = new KubeClient(transport, "test-manager");
  });
  after(async () => {
    client.transport.close();
    await api.stop();
  });

  it("lists page by page, then follows the watch; handlers and indexes see every change", async () => {
    for (let i = 0; i < 7; i++) api.put(`p${i}`, { metadata: { name: `p${i}`, namespace: "ns", resourceVersion: "0", labels: { fn: i % 2 === 0 ? "even" : "odd" } } });
    const seen: string[] = [];
    const inf = new Informer({ client, resource: pods, clock: new SystemClock(), logger: silent, namespaces: ["ns"], indexers: { fn: (p) => [p.metadata.labels?.["fn"] ?? ""] }, metrics });
    inf.on({ add: (p) => seen.push(`add ${p.metadata.name}`), update: (_, p) => seen.push(`update ${p.metadata.name}`), delete: (p) => seen.push(`delete ${p.metadata.name}`) });
    const listsBefore = api.listRequests;
    inf.start();
    await inf.waitForSync();
    assert.equal(inf.size, 7);
    assert.equal(api.listRequests - listsBefore, 1, "7 objects fit one 500-item page");
    assert.deepEqual(inf.byIndex("fn", "even").map((p) => p.metadata.name).sort(), ["p0", "p2", "p4", "p6"]);
    await until("watch open", () => api.watchers.size === 1);
    api.put("p1", { metadata: { name: "p1", namespace: "ns", resourceVersion: "0", labels: { fn: "even" } }, status: { phase: "Running" } });
    api.remove("p0");
    api.put("p9");
    await until("events applied", () => inf.get("ns/p9") !== undefined && inf.get("ns/p0") === undefined);
    assert.equal(inf.get("ns/p1")?.status.phase, "Running");
    assert.deepEqual(inf.byIndex("fn", "even").map((p) => p.metadata.name).sort(), ["p1", "p2", "p4", "p6"]);
    assert.deepEqual(seen.slice(7), ["update p1", "delete p0", "add p9"]);
    await inf.stop();
    assert.equal(api.watchers.size, 0, "stop closes the watch");
  });

  it("indexes values held by one object and by several alike, as objects come, move and go", async () => {
    await until("previous watches closed", () => api.watchers.size === 0);
    api.objects.clear();
    api.put("a", { metadata: { name: "a", namespace: "ns", resourceVersion: "0", labels: { fn: "one" } } });
    const inf = new Informer({ client, resource: pods, clock: new SystemClock(), logger: silent, namespaces: ["ns"], indexers: { fn: (p) => [p.metadata.labels?.["fn"] ?? ""] } });
    const names = (v: string): string[] => inf.byIndex("fn", v).map((p) => p.metadata.name).sort();
    inf.start();
    await inf.waitForSync();
    assert.deepEqual(names("one"), ["a"]);
    await until("watch open", () => api.watchers.size === 1);
    api.put("b", { metadata: { name: "b", namespace: "ns", resourceVersion: "0", labels: { fn: "one" } } });
    await until("b", () => inf.get("ns/b") !== undefined);
    assert.deepEqual(names("one"), ["a", "b"]);
    // a moves to another value; one is left with b alone; then b goes.
    api.put("a", { metadata: { name: "a", namespace: "ns", resourceVersion: "0", labels: { fn: "two" } } });
    await until("a moved", () => inf.get("ns/a")?.metadata.labels?.["fn"] === "two");
    assert.deepEqual(names("one"), ["b"]);
    assert.deepEqual(names("two"), ["a"]);
    api.put("b", { metadata: { name: "b", namespace: "ns", resourceVersion: "0", labels: { fn: "one" } }, status: { phase: "Running" } });
    await until("b updated", () => inf.get("ns/b")?.status.phase === "Running");
    assert.deepEqual(names("one"), ["b"], "an update keeping its value keeps one entry");
    api.remove("b");
    await until("b gone", () => inf.get("ns/b") === undefined);
    assert.deepEqual(names("one"), []);
    assert.deepEqual(names("two"), ["a"]);
    await inf.stop();
  });

  it("relists after 410 Gone and deletes what vanished meanwhile", async () => {
    await until("previous watches closed", () => api.watchers.size === 0);
    api.objects.clear();
    api.put("a");
    api.put("b");
    const deleted: string[] = [];
    const inf = new Informer({ client, resource: pods, clock: new SystemClock(), logger: silent, namespaces: ["ns"], metrics });
    inf.on({ delete: (p) => deleted.push(p.metadata.name) });
    inf.start();
    await inf.waitForSync();
    await until("watch open", () => api.watchers.size === 1);
    api.goneOnce = true;
    api.remove("a", false); // missed by the watch
    for (const w of api.watchers) w.end(); // server closes the watch; the re-watch gets 410
    const lists = api.listRequests;
    await until("relisted", () => api.listRequests > lists && inf.get("ns/a") === undefined);
    assert.deepEqual(deleted, ["a"]);
    assert.ok(inf.get("ns/b") !== undefined);
    assert.match(await registry.metrics(), /hearth_informer_lists_total\{resource="pods",cause="gone"\} 1/);
    await inf.stop();
  });

  it("restarts a watch that went silent (watchdog)", async () => {
    // The previous test's watch may still be closing on a loaded machine.
    await until("previous watches closed", () => api.watchers.size === 0);
    api.objects.clear();
    api.silent = true;
    const inf = new Informer({ client, resource: pods, clock: new SystemClock(), logger: silent, namespaces: ["ns"], watchdogMs: 1_000, metrics });
    // The watch's silence is counted from its request, which is after this: a restart is due no
    // earlier than t0 + 1 s (measured from here, not from when the test saw the watch open, which
    // can be late on a loaded machine).
    const t0 = Date.now();
    inf.start();
    try {
      await inf.waitForSync();
      await until("first watch open", () => api.watchers.size >= 1);
      // Waits for a restart the watchdog caused (a watch that ends for another reason on a loaded
      // machine is re-opened at once, and is not what this test is about).
      const watchdogRestarts = /hearth_informer_watch_restarts_total\{resource="pods",cause="watchdog"\} [1-9]/;
      let text = "";
      const end = Date.now() + 8_000;
      while (!watchdogRestarts.test((text = await registry.metrics()))) {
        assert.ok(Date.now() < end, `no watchdog restart within 8 s:\n${text}`);
        await sleep(10);
      }
      const restartedAfter = Date.now() - t0;
      assert.ok(restartedAfter >= 990, `the watchdog restarted the watch ${restartedAfter} ms after the informer started, before its 1 s could pass`);
    } finally {
      api.silent = false; // also when the assertions failed: the next test needs a talking server
    }
    await until("watch open", () => api.watchers.size >= 1);
    api.put("after-restart");
    await until("event after restart", () => inf.get("ns/after-restart") !== undefined);
    await inf.stop();
  });

  it("ignores objects that do not match the schema and keeps going", async () => {
    await until("previous watches closed", () => api.watchers.size === 0);
    api.objects.clear();
    const inf = new Informer({ client, resource: pods, clock: new SystemClock(), logger: silent, namespaces: ["ns"] });
    inf.start();
    await inf.waitForSync();
    await until("watch open", () => api.watchers.size === 1);
    api.broadcast("ADDED", { metadata: { name: 42 } });
    api.put("fine");
    await until("good object cached", () => inf.get("ns/fine") !== undefined);
    assert.equal(inf.size, 1);
    await inf.stop();
  });
});

describe("KubeClient over HTTP", () => {
  const api = new FakeApiserver();
  let client: KubeClient;
  before(async () => {
    await api.start();
    const transport = new Transport({ connection: { server: api.url, tls: { rejectUnauthorized: true }, namespace: "ns", headers: async () => ({}) }, clock: new SystemClock() });
    client = new KubeClient(transport, "hearth-function-controller");
  });
  after(async () => {
    client.transport.close();
    await api.stop();
  });

  it("get returns undefined for 404", async () => {
    assert.equal(await client.get(secrets, "missing", "ns"), undefined);
  });

  it("apply is a server-side apply patch with the field manager and force", async () => {
    await assert.rejects(client.apply(secrets, { metadata: { name: "s", namespace: "ns" }, data: { token: "!" } }), (err: unknown) => {
      const s = toStatus(err);
      assert.equal(s.code, 422);
      assert.equal(s.reason, "Invalid");
      assert.deepEqual(s.causes, ["data[token]: must be base64"]);
      assert.match(describeStatus(s), /Invalid 422: Secret is invalid \(data\[token\]: must be base64\)/);
      return true;
    });
    const req = api.requests.at(-1);
    assert.equal(req?.method, "PATCH");
    assert.equal(req?.contentType, "application/apply-patch+yaml");
    assert.match(req?.url ?? "", /fieldManager=hearth-function-controller/);
    assert.match(req?.url ?? "", /force=true/);
    assert.deepEqual(JSON.parse(req?.body ?? "{}"), { apiVersion: "v1", kind: "Secret", metadata: { name: "s", namespace: "ns" }, data: { token: "!" } });
    assert.equal(client.transport.writes(), 1);
  });

  it("applyStatus sends only name, namespace and status to /status", async () => {
    await client.applyStatus(secrets, { name: "s", namespace: "ns" }, { phase: "x" }).catch(() => undefined);
    const req = api.requests.at(-1);
    assert.match(req?.url ?? "", /^\/api\/v1\/namespaces\/ns\/secrets\/s\/status\?/);
    assert.deepEqual(JSON.parse(req?.body ?? "{}"), { apiVersion: "v1", kind: "Secret", metadata: { name: "s", namespace: "ns" }, status: { phase: "x" } });
  });

  it("turns network failures into a status", async () => {
    const dead = new KubeClient(
      new Transport({ connection: { server: "http://127.0.0.1:1", tls: { rejectUnauthorized: true }, namespace: "ns", headers: async () => ({}) }, clock: new SystemClock() }),
      "x",
    );
    await assert.rejects(dead.get(secrets, "s", "ns"), (err: unknown) => toStatus(err).reason === "Network");
    dead.transport.close();
  });
});

describe("toStatus", () => {
  it("understands client-node's ApiException shape", () => {
    const s = toStatus({ code: 409, body: JSON.stringify({ kind: "Status", code: 409, reason: "AlreadyExists", message: "exists" }) });
    assert.equal(s.reason, "AlreadyExists");
    assert.ok(isConflict({ code: 409, body: "{}" }));
    assert.ok(isNotFound({ code: 404, body: "not json" }));
  });

  it("maps aborts and timeouts", () => {
    assert.equal(toStatus(Object.assign(new Error("t"), { name: "TimeoutError" })).reason, "Timeout");
    assert.equal(toStatus(new DOMException("a", "AbortError")).reason, "Aborted");
    assert.equal(toStatus("weird").reason, "Unknown");
  });
});
