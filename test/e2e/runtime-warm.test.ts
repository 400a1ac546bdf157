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

// The groups take turns: the child holds the worker channel (the default), lease/results
// requests instead of a channel, the supervisor relays the channel: every path runs real cases.
// Failures and deadlines (crash, Fatal, timeouts, progress) run in every mode: the supervisor
// knows a direct child's tasks from its task journal alone, and must still enforce them.
const MODES = ["on", "off", "relay"] as const;
const runs: { key: string; channel: (typeof MODES)[number]; fn: string; cases: ProtocolCase[] }[] = [];
{
  let n = 0;
  for (const [key, cases] of groups) {
    const handler = cases[0]?.handler ?? "";
    const every = handler.startsWith("failures:") || handler.startsWith("timing:");
    const channels = every ? MODES : [MODES[n++ % MODES.length] ?? "on"];
    for (const channel of channels) runs.push({ key, channel, fn: fnName(every ? `${key}-${channel}` : key), cases });
  }
}

describe("protocol cases, Node runtime, warm", () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway(runs.map((r) => ({ name: r.fn, timeoutSeconds: r.cases[0]?.timeoutSeconds ?? 300 })));
  });
  after(async () => gw.stop());

  for (const { key, channel, fn: name, cases } of runs) {
    describe(`${key} (worker channel ${channel})`, () => {
      let worker: WorkerProcess;
      before(() => {
        worker = startWorker({ gatewayUrl: gw.gateway.url, fn: `default/${name}`, handler: cases[0]?.handler ?? "", codePath: NODE_HANDLERS, env: { HEARTH_WORKER_CHANNEL: channel } });
      });
      after(async () => {
        await worker.kill();
      });
      for (const c of cases) {
        it(c.name, async () => {
          const fn = gw.client.function(`default/${name}`);
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
