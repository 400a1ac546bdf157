// test/protocol/cases.json against the Node runtime in warm mode: each case is a run() through
// a real gateway to a real `hearth worker` holding the case's handler.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { HearthError } from "../../src/client/index.ts";
import { startGateway, startWorker, type TestGateway, type WorkerProcess } from "./harness.ts";
import { expectedOutput, loadCases, NODE_HANDLERS, type ProtocolCase } from "./protocol-cases.ts";

const groups = new Map<string, ProtocolCase[]>();
for (const c of loadCases("warm")) {
  const key = `${c.handler}@${c.timeoutSeconds ?? 300}`;
  groups.set(key, [...(groups.get(key) ?? []), c]);
}

function fnName(key: string): string {
  return key.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
}

describe("protocol cases, Node runtime, warm", () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway([...groups.entries()].map(([key, cases]) => ({ name: fnName(key), timeoutSeconds: cases[0]?.timeoutSeconds ?? 300 })));
  });
  after(async () => gw.stop());

  // The groups take turns: the child holds the worker channel (the default), lease/results
  // requests instead of a channel, the supervisor relays the channel: every path runs real cases.
  const modes = ["on", "off", "relay"] as const;
  let n = 0;
  for (const [key, cases] of groups) {
    const channel = modes[n++ % modes.length] ?? "on";
    describe(`${key} (worker channel ${channel})`, () => {
      let worker: WorkerProcess;
      before(() => {
        worker = startWorker({ gatewayUrl: gw.gateway.url, fn: `default/${fnName(key)}`, handler: cases[0]?.handler ?? "", codePath: NODE_HANDLERS, env: { HEARTH_WORKER_CHANNEL: channel } });
      });
      after(async () => {
        await worker.kill();
      });
      for (const c of cases) {
        it(c.name, async () => {
          const fn = gw.client.function(`default/${fnName(key)}`);
          if (c.expect.exitCode === 0) {
            assert.deepEqual(await fn.run(c.input, { timeoutMs: 30_000 }), expectedOutput(c.expect.output));
            return;
          }
          await assert.rejects(fn.run(c.input, { timeoutMs: 30_000 }), (err: unknown) => {
            assert.ok(err instanceof HearthError, String(err));
            assert.equal(err.type, c.expect.errorType, err.message);
            assert.equal(err.exitCode, c.expect.exitCode);
            if (c.expect.messageContains !== undefined) assert.ok(err.message.includes(c.expect.messageContains), err.message);
            return true;
          });
        });
      }
    });
  }
});
