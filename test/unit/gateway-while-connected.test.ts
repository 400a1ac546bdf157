// whileConnected: a long wait on a caller's behalf (a :run, GET ?wait=) ends when the caller hangs up.
import assert from "node:assert/strict";
import { createServer, request, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, it } from "node:test";
import { whileConnected } from "../../src/gateway/http.ts";

/** A server whose one handler waits through whileConnected; resolves with what the wait saw. */
async function serve(wait: (signal: AbortSignal) => Promise<string>, client: (port: number) => void): Promise<{ closed: boolean; aborted: boolean; listeners: number }> {
  return new Promise((resolve) => {
    const server = createServer((_req, res: ServerResponse) => {
      let aborted = false;
      void whileConnected(res, (signal) => {
        signal.addEventListener("abort", () => (aborted = true));
        return wait(signal);
      }).then((r) => {
        if (!r.closed) res.end(r.value);
        resolve({ closed: r.closed, aborted, listeners: res.listenerCount("close") });
        server.close();
      });
    });
    server.listen(0, "127.0.0.1", () => client((server.address() as AddressInfo).port));
  });
}

describe("whileConnected", () => {
  it("returns the wait's value while the caller is still there", async () => {
    let body = "";
    const r = await serve(
      async () => "done",
      (port) =>
        request({ host: "127.0.0.1", port, path: "/" }, (res) => {
          res.on("data", (d: Buffer) => (body += d.toString()));
        }).end(),
    );
    assert.deepEqual(r, { closed: false, aborted: false, listeners: 0 });
  });

  it("aborts the wait and answers nothing once the caller hangs up", async () => {
    const r = await serve(
      (signal) => new Promise((resolve) => signal.addEventListener("abort", () => resolve("too late"))),
      (port) => {
        const req = request({ host: "127.0.0.1", port, path: "/" });
        req.on("error", () => undefined);
        req.end();
        setTimeout(() => req.destroy(), 50);
      },
    );
    assert.deepEqual(r, { closed: true, aborted: true, listeners: 0 });
  });
});
