// `hearth push ns/name [INPUT]`: queues a task and prints its id (`--wait` prints the result).
import { parseArgs } from "node:util";
import { clientFrom, target, CONNECTION_HELP, print, readInput, report, UsageError } from "../../client/cli.ts";

export const summary = "queue a function call and print the task id";

const USAGE = `usage: hearth push <namespace>/<name> [INPUT] [flags]
       hearth push wf/<namespace>/<name> [INPUT] [flags]   (a Workflow)
  INPUT            JSON text; - reads stdin; absent = null
  --file PATH      read the input from a file
  --wait           wait for the task and print its output
  --idempotency-key KEY   repeats with the same key return the same task
${CONNECTION_HELP}`;

export async function run(args: string[]): Promise<number> {
  let client;
  try {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { url: { type: "string" }, token: { type: "string" }, file: { type: "string" }, wait: { type: "boolean" }, "idempotency-key": { type: "string" }, help: { type: "boolean", short: "h" } },
    });
    if (values.help === true) {
      console.log(USAGE);
      return 0;
    }
    const [ref, arg, ...extra] = positionals;
    if (ref === undefined || extra.length > 0) throw new UsageError(`expected <namespace>/<name> [INPUT]\n${USAGE}`);
    const input = await readInput(arg, values.file);
    client = clientFrom(values);
    const task = await target(client, ref).push(input, values["idempotency-key"] === undefined ? {} : { idempotencyKey: values["idempotency-key"] });
    if (values.wait === true) {
      console.error(`task ${task.id}`);
      print(await task.result());
    } else {
      console.log(task.id);
    }
    return 0;
  } catch (err) {
    return report(err);
  } finally {
    client?.close();
  }
}
