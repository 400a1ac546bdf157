// `hearth describe fn/<name>` (or `<namespace>/<name>`): a readable summary of one Function —
// status and conditions, GPU, workers, queue, metadata, handler signature, readme, recent tasks.
import { parseArgs } from "node:util";
import { CONNECTION_HELP, print, report, UsageError } from "../../client/cli.ts";
import type { FunctionDetail, TaskSummary } from "../../gateway/views.ts";
import { gatewayUrl, getJson } from "../gateway-read.ts";
import { formatDescribe } from "../summaries.ts";

export const summary = "describe a Function: status, GPU, workers, queue, metadata, signature, recent tasks";

const USAGE = `usage: hearth describe fn/<name> | <namespace>/<name> [flags]
  -n, --namespace NS   namespace of fn/<name> (default $HEARTH_NAMESPACE or default)
  --tasks N            recent tasks shown (default 10)
  -o, --output json    the documents instead of text
${CONNECTION_HELP}`;

/** `fn/name`, `function/name`, `ns/name` or `name` → [namespace, name]. */
export function parseTarget(target: string, namespace: string | undefined): [string, string] {
  const parts = target.split("/");
  const defaultNs = namespace ?? process.env["HEARTH_NAMESPACE"] ?? "default";
  if (parts.length === 1 && parts[0] !== "") return [defaultNs, parts[0] ?? ""];
  if (parts.length === 2 && ["fn", "function", "functions"].includes(parts[0] ?? "") && parts[1] !== "") return [defaultNs, parts[1] ?? ""];
  if (parts.length === 2 && parts[0] !== "" && parts[1] !== "") return [parts[0] ?? "", parts[1] ?? ""];
  throw new UsageError(`expected fn/<name> or <namespace>/<name>, got ${JSON.stringify(target)}`);
}

export async function run(args: string[]): Promise<number> {
  try {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        url: { type: "string" },
        token: { type: "string" },
        namespace: { type: "string", short: "n" },
        tasks: { type: "string" },
        output: { type: "string", short: "o" },
        help: { type: "boolean", short: "h" },
      },
    });
    if (values.help === true) {
      console.log(USAGE);
      return 0;
    }
    const [target, ...extra] = positionals;
    if (target === undefined || extra.length > 0) throw new UsageError(USAGE);
    if (values.output !== undefined && values.output !== "json") throw new UsageError(`--output must be json, got ${values.output}`);
    const limit = Number(values.tasks ?? "10");
    if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new UsageError(`--tasks must be an integer from 1 to 500`);
    const [ns, name] = parseTarget(target, values.namespace);
    const url = gatewayUrl(values.url);
    const base = `/v1/namespaces/${encodeURIComponent(ns)}/functions/${encodeURIComponent(name)}`;
    const [fn, tasks] = await Promise.all([getJson<FunctionDetail>(url, values.token, base), getJson<{ tasks: TaskSummary[] }>(url, values.token, `${base}/tasks?limit=${limit}`)]);
    if (values.output === "json") print({ function: fn, tasks: tasks.tasks });
    else console.log(formatDescribe(fn, tasks.tasks));
    return 0;
  } catch (err) {
    return report(err);
  }
}
