// Direct mode's hand-over with real processes: the supervisor opens an upgraded worker channel
// and hands the connection to a real child (child-main.ts, a real handler), while a scripted
// gateway writes a grant. Whatever the gateway wrote while the supervisor held the connection
// must reach the child: a grant read (or left to be read) by the supervisor is lost, and with it
// the channel's credit (round 7's "lost first grant").
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { SystemClock } from "../../src/kube/clock.ts";
import { forkChild, Supervisor } from "../../src/runtime/supervisor.ts";
import { WorkerChannel } from "../../src/runtime/worker-channel.ts";
import { until } from "../support/until.ts";

const HANDLERS = fileURLToPath(new URL("../protocol/handlers/node/", import.meta.url));

/** A gateway that upgrades every channel and writes one grant `grantAfterMs` after its 101. */
class ScriptedGateway {
  readonly server: Server;
  /** Lines the worker side sent, per connection in order. */
  readonly lines: string[] = [];
  private readonly sockets = new Set<Duplex>();
  private grants = 0;
  private granted: (() => void)[] = [];

  constructor(grantAfterMs: number) {
    this.server = createServer((_req, res) => res.writeHead(404).end());
    this.server.on("upgrade", (_req: IncomingMessage, socket: Duplex) => {
      this.sockets.add(socket);
      socket.on("error", () => undefined);
      socket.write("HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: hearth-channel\r\n\r\n");
      let partial = "";
      socket.on("data", (chunk: Buffer) => {
        partial += chunk.toString("utf8");
        for (let nl = partial.indexOf("\n"); nl >= 0; nl = partial.indexOf("\n")) {
          this.lines.push(partial.slice(0, nl));
          partial = partial.slice(nl + 1);
        }
      });
      setTimeout(() => {
        const n = this.grants++;
        const task = { id: `t${n}`, attempt: 1, leaseId: `l${n}`, encoding: "json", deadline: Date.now() + 30_000, timeoutSeconds: 30, input: { a: 20, b: n } };
        socket.write(`${JSON.stringify({ tasks: [task] })}\n`);
        for (const w of this.granted.splice(0)) w();
      }, grantAfterMs);
    });
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Resolves once the next grant was written. */
  nextGrant(): Promise<void> {
    return new Promise((resolve) => this.granted.push(resolve));
  }

  close(): void {
    for (const s of this.sockets) s.destroy();
    this.server.close();
  }
}


describe("direct mode: handing the worker channel to the child (real processes)", () => {
  let gw: ScriptedGateway;
  let sup: Supervisor;

  before(async () => {
    gw = new ScriptedGateway(30);
    await new Promise<void>((resolve) => gw.server.listen(0, "127.0.0.1", resolve));
    const env = { PATH: process.env["PATH"] ?? "", HEARTH_HANDLER: "binding:add", HEARTH_FUNCTION: "default/add", HEARTH_CODE_PATH: HANDLERS };
    sup = new Supervisor({ spawn: forkChild(env), clock: new SystemClock(), concurrency: 1, restartOnError: false, retrySetup: false, respawn: false });
    sup.start();
    assert.equal(await sup.settled(), "ready", `setup: ${JSON.stringify(sup.setupError)}`);
  });
  after(() => {
    sup.stop();
    gw.close();
  });

  it("a grant the gateway wrote while the supervisor still held the connection reaches the child, which runs and reports it", async () => {
    const grant = gw.nextGrant();
    const conn = await WorkerChannel.upgrade(gw.url, undefined, "default/add", "w-handoff");
    assert.ok(typeof conn === "object", `upgrade: ${typeof conn === "string" ? conn : ""}`);
    await grant;
    // The grant is on the wire (or already read by this process) before the hand-over.
    await sleep(100);
    assert.equal(sup.handOver(conn), true);
    await until("t0's outcome on the channel", () => gw.lines.some((l) => l.includes('"id":"t0"') && l.includes('"output":20')));
    // The child also gave credit on its own channel.
    assert.ok(gw.lines.some((l) => l.startsWith('{"want":')), gw.lines.join("\n"));
  });
});
