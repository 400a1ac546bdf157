import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer as createHttpServer, type Server } from "node:http";
import { createServer as createNetServer, type Server as NetServer, type Socket } from "node:net";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { ConnectionPool, parseHead, requestHead } from "../../src/client/connection.ts";
import { HttpClient } from "../../src/client/http.ts";

const servers: (Server | NetServer)[] = [];
after(() => {
  for (const s of servers) s.close();
});

function listen<S extends Server | NetServer>(server: S): Promise<number> {
  servers.push(server);
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port)));
}

/** A raw TCP server answering every request (head and body read) with `answer(request text)`. */
async function rawServer(answer: (req: string, socket: Socket) => void): Promise<{ port: number; sockets: Socket[] }> {
  const sockets: Socket[] = [];
  const server = createNetServer((socket) => {
    sockets.push(socket);
    let buf = "";
    socket.on("data", (d: Buffer) => {
      buf += d.toString("latin1");
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      const len = Number(/content-length: (\d+)/i.exec(buf.slice(0, end))?.[1] ?? 0);
      if (buf.length < end + 4 + len) return;
      const req = buf.slice(0, end + 4 + len);
      buf = buf.slice(end + 4 + len);
      answer(req, socket);
    });
    socket.on("error", () => undefined);
  });
  return { port: await listen(server), sockets };
}

describe("client connections (src/client/connection.ts)", () => {
  it("parses a response head: status, lower-case headers (repeats joined), framing, close", () => {
    const h = parseHead("HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nX-A: 1\r\nx-a: 2\r\nContent-Length: 12");
    assert.equal(h?.status, 202);
    assert.equal(h?.headers["content-type"], "application/json");
    assert.equal(h?.headers["x-a"], "1, 2");
    assert.deepEqual(h?.framing, { kind: "length", left: 12 });
    assert.equal(h?.close, false);
    assert.deepEqual(parseHead("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close")?.framing, { kind: "chunked" });
    assert.equal(parseHead("HTTP/1.1 200 OK\r\nConnection: close")?.close, true);
    assert.deepEqual(parseHead("HTTP/1.1 200 OK")?.framing, { kind: "close" });
    assert.deepEqual(parseHead("HTTP/1.1 204 No Content")?.framing, { kind: "length", left: 0 });
    assert.equal(parseHead("SSH-2.0-OpenSSH"), undefined);
    assert.equal(parseHead("HTTP/1.1 200 OK\r\nContent-Length: -1"), undefined);
  });

  it("writes a request head and refuses what would break the message (as node:http does)", () => {
    assert.equal(requestHead("POST", "h:1", "/a?b=1", { "content-type": "application/json", "Content-Length": 99 }, 3), "POST /a?b=1 HTTP/1.1\r\nhost: h:1\r\ncontent-type: application/json\r\ncontent-length: 3\r\n\r\n");
    assert.throws(() => requestHead("POST", "h", "/a", { "idempotency-key": "k\r\nx-evil: 1" }, 0), TypeError);
    assert.throws(() => requestHead("POST", "h", "/a", { "bad name": "v" }, 0), TypeError);
    assert.throws(() => requestHead("GET", "h", "/a b", {}, undefined), TypeError);
  });

  it("talks to node:http: bodies both ways, one kept connection for sequential calls, at most maxSockets", async () => {
    let connections = 0;
    const server = createHttpServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks).toString();
        res.writeHead(200, { "content-type": "application/json", "x-echo-method": req.method ?? "", "x-auth": req.headers.authorization ?? "" });
        res.end(JSON.stringify({ path: req.url, body }));
      });
    });
    server.on("connection", () => connections++);
    const port = await listen(server);
    const http = new HttpClient(`http://127.0.0.1:${port}`, { token: "t0k", maxSockets: 4 });
    for (let i = 0; i < 5; i++) {
      const res = await http.request({ method: "POST", path: `/x/${i}?q=1`, body: `{"i":${i},"s":"é"}`, headers: { "content-type": "application/json" } });
      assert.equal(res.status, 200);
      assert.equal(res.headers["x-echo-method"], "POST");
      assert.equal(res.headers["x-auth"], "Bearer t0k");
      assert.deepEqual(JSON.parse(res.body.toString()), { path: `/x/${i}?q=1`, body: `{"i":${i},"s":"é"}` });
    }
    const get = await http.request({ method: "GET", path: "/g" });
    const echoed = (r: { body: Buffer }): { path: string; body: string } => JSON.parse(r.body.toString()) as { path: string; body: string };
    assert.equal(echoed(get).body, "");
    const bin = await http.request({ method: "POST", path: "/b", body: Buffer.from([1, 2, 3]), headers: { "content-type": "application/octet-stream" } });
    assert.equal(echoed(bin).body, "\u0001\u0002\u0003");
    assert.equal(connections, 1, "sequential calls share one connection");
    // Concurrent calls: at most maxSockets connections, every answer to its own request.
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => http.request({ method: "POST", path: `/c/${i}`, body: String(i) })));
    answers.forEach((a, i) => assert.equal(echoed(a).path, `/c/${i}`));
    assert.ok(connections <= 4, `${connections} connections for maxSockets 4`);
    // A large answer arrives in many reads.
    const big = createHttpServer((_req, res) => res.end("x".repeat(3_000_000)));
    const bigPort = await listen(big);
    const bigClient = new HttpClient(`http://127.0.0.1:${bigPort}`);
    assert.equal((await bigClient.request({ method: "GET", path: "/" })).body.length, 3_000_000);
    bigClient.close();
    http.close();
  });

  it("reads chunked answers and answers framed by the connection's end; honours Connection: close", async () => {
    const { port, sockets } = await rawServer((req, socket) => {
      if (req.startsWith("GET /chunked")) socket.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1;ext=1\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: 1\r\n\r\n");
      else if (req.startsWith("GET /eof")) socket.end("HTTP/1.1 200 OK\r\n\r\nuntil the end");
      else socket.end("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 2\r\nConnection: close\r\n\r\nno");
    });
    const pool = new ConnectionPool("127.0.0.1", port, 2);
    const chunked = await pool.request({ method: "GET", path: "/chunked", headers: {} });
    assert.equal(chunked.body.toString(), "hello world");
    const again = await pool.request({ method: "GET", path: "/chunked", headers: {} });
    assert.equal(again.body.toString(), "hello world");
    assert.equal(sockets.length, 1, "a chunked answer leaves the connection reusable");
    assert.equal((await pool.request({ method: "GET", path: "/eof", headers: {} })).body.toString(), "until the end");
    const closed = await pool.request({ method: "POST", path: "/x", headers: {}, body: "{}" });
    assert.equal(closed.status, 503);
    assert.equal(closed.body.toString(), "no");
    assert.equal((await pool.request({ method: "GET", path: "/chunked", headers: {} })).body.toString(), "hello world", "a new connection after a closed one");
    pool.close();
  });

  it("fails a call whose connection drops, and the next call gets a fresh connection", async () => {
    let n = 0;
    const { port } = await rawServer((_req, socket) => {
      n++;
      if (n === 1) socket.write("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na");
      else if (n === 2) socket.destroy();
      else socket.write("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb");
    });
    const pool = new ConnectionPool("127.0.0.1", port, 1);
    assert.equal((await pool.request({ method: "GET", path: "/", headers: {} })).body.toString(), "a");
    await assert.rejects(pool.request({ method: "GET", path: "/", headers: {} }), (err: Error & { code?: string }) => err.code === "ECONNRESET");
    assert.equal((await pool.request({ method: "GET", path: "/", headers: {} })).body.toString(), "b");
    // Nothing listens: the connect error comes back.
    const dead = await listen(createNetServer());
    const deadServer = servers.pop();
    await new Promise<void>((r) => deadServer?.close(() => r()));
    const nobody = new ConnectionPool("127.0.0.1", dead, 1);
    await assert.rejects(nobody.request({ method: "GET", path: "/", headers: {} }), (err: Error & { code?: string }) => err.code === "ECONNREFUSED");
    pool.close();
  });

  it("an abort or a timeout fails the call (AbortError as node:http's); a queued call gets the freed slot", async () => {
    const held: Socket[] = [];
    const { port } = await rawServer((req, socket) => {
      if (req.startsWith("GET /slow")) held.push(socket);
      else socket.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    });
    const pool = new ConnectionPool("127.0.0.1", port, 1);
    const ac = new AbortController();
    const slow = pool.request({ method: "GET", path: "/slow", headers: {}, signal: ac.signal });
    const queued = pool.request({ method: "GET", path: "/fast", headers: {} });
    ac.abort();
    await assert.rejects(slow, (err: Error) => err.name === "AbortError");
    assert.equal((await queued).body.toString(), "ok", "the queued call ran on a new connection");
    await assert.rejects(pool.request({ method: "GET", path: "/slow", headers: {}, timeoutMs: 50 }), /timed out after 50 ms/);
    const pre = new AbortController();
    pre.abort();
    await assert.rejects(pool.request({ method: "GET", path: "/fast", headers: {}, signal: pre.signal }), (err: Error) => err.name === "AbortError");
    assert.equal((await pool.request({ method: "GET", path: "/fast", headers: {} })).body.toString(), "ok");
    pool.close();
    await assert.rejects(pool.request({ method: "GET", path: "/fast", headers: {} }), /closed/);
  });

  it("idle kept-alive connections do not keep the process alive (as node:http's agent)", async () => {
    const server = createHttpServer((_req, res) => res.end("ok"));
    // The server keeps the connection open long after the call: only the client's unref lets the process end.
    server.keepAliveTimeout = 60_000;
    const port = await listen(server);
    const script = `
      import { HttpClient } from ${JSON.stringify(fileURLToPath(new URL("../../src/client/http.ts", import.meta.url)))};
      const http = new HttpClient("http://127.0.0.1:${port}");
      const res = await http.request({ method: "GET", path: "/" });
      console.log(res.body.toString());`;
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    const started = Date.now();
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    assert.equal(code, 0);
    assert.equal(out.trim(), "ok");
    assert.ok(Date.now() - started < 30_000, "the child exited without waiting for the server to close the connection");
    server.closeAllConnections();
  });
});
