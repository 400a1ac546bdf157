// `hearth run ns/name [INPUT]`: runs a function and prints its output. Exits with the task's
// exit-code class when it fails (1 UserError, 65 InputRejected, 124 Timeout, …).
import { parseArgs } from "node:util";
import { parseDuration } from "../../protocol/index.ts";
import { clientFrom, target, CONNECTION_HELP, print, readInput, report, UsageError } from "../../client/cli.ts";

export const summary = "run a function and print its output (INPUT is JSON, - for stdin)";

const USAGE = `usage: hearth run <namespace>/<name> [INPUT] [flags]
       hearth run wf/<namespace>/<name> [INPUT] [flags]   (a Workflow)
  INPUT            JSON text; - reads stdin; absent = null
  --file PATH      read the input from a file
  --timeout DUR    stop waiting after DUR (e.g. 30s); the task keeps running
  --idempotency-key KEY
${CONNECTION_HELP}`;

export async function run(args: string[]): Promise<number> {
  let client;
  try {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { url: { type: "string" }, token: { type: "string" }, file: { type: "string" }, timeout: { type: "string" }, "idempotency-key": { type: "string" }, help: { type: "boolean", short: "h" } },
    });
    if (values.help === true) {
      console.log(USAGE);
      return 0;
    }
    const [ref, arg, ...extra] = positionals;
    if (ref === undefined || extra.length > 0) throw new UsageError(`expected <namespace>/<name> [INPUT]\n${USAGE}`);
    const input = await readInput(arg, values.file);
    const opts: { timeoutMs?: number; idempotencyKey?: string } = {};
    if (values.timeout !== undefined) {
      const ms = parseDuration(values.timeout);
      if (ms === undefined) throw new UsageError(`--timeout must be a duration such as 30s, got ${values.timeout}`);
      opts.timeoutMs = ms;
    }
    if (values["idempotency-key"] !== undefined) opts.idempotencyKey = values["idempotency-key"];
    client = clientFrom(values);
    print(await target(client, ref).run(input, opts));
    return 0;
  } catch (err) {
    return report(err);
  } finally {
    client?.close();
  }
}
