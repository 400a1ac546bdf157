// `hearth get task ID`: prints a task document (`--wait 30s` long-polls, `--watch` streams
// progress and status events until the task ends).
import { parseArgs } from "node:util";
import { parseDuration } from "../../protocol/index.ts";
import { clientFrom, CONNECTION_HELP, print, report, UsageError } from "../../client/cli.ts";

export const summary = "show a task (hearth get task ID [--wait 30s] [--watch])";

const USAGE = `usage: hearth get task <id> [flags]
  --wait DUR       wait up to DUR for the task to finish
  --watch          print progress and status events as they happen
${CONNECTION_HELP}`;

export async function run(args: string[]): Promise<number> {
  let client;
  try {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { url: { type: "string" }, token: { type: "string" }, wait: { type: "string" }, watch: { type: "boolean" }, help: { type: "boolean", short: "h" } },
    });
    if (values.help === true) {
      console.log(USAGE);
      return 0;
    }
    const [kind, id, ...extra] = positionals;
    if ((kind !== "task" && kind !== "tasks") || id === undefined || extra.length > 0) throw new UsageError(`expected: task <id>\n${USAGE}`);
    client = clientFrom(values);
    const task = client.task(id);
    if (values.watch === true) {
      for await (const ev of task.events()) {
        if (ev.type === "progress") console.log(`progress ${(ev.progress.value * 100).toFixed(0)}%${ev.progress.message === undefined ? "" : ` ${ev.progress.message}`}`);
        else print(ev.task);
      }
      return 0;
    }
    const opts: { waitMs?: number } = {};
    if (values.wait !== undefined) {
      const ms = parseDuration(values.wait);
      if (ms === undefined) throw new UsageError(`--wait must be a duration such as 30s, got ${values.wait}`);
      opts.waitMs = ms;
    }
    print(await task.status(opts));
    return 0;
  } catch (err) {
    return report(err);
  } finally {
    client?.close();
  }
}
