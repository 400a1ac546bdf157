// `hearth list`: the Functions the gateway knows, with readiness, GPU, workers, queue, whether
// their handler signature is known, tags and description.
import { parseArgs } from "node:util";
import { CONNECTION_HELP, print, report, UsageError } from "../../client/cli.ts";
import type { FunctionSummary } from "../../gateway/views.ts";
import { gatewayUrl, getJson } from "../gateway-read.ts";
import { formatList } from "../summaries.ts";

export const summary = "list Functions: status, GPU, workers, queue, tags (hearth list [-n NS] [--tag T] [-o json])";

const USAGE = `usage: hearth list [flags]
  -n, --namespace NS   only this namespace
  --tag TAG            only Functions with this tag
  -o, --output json    the documents instead of a table
${CONNECTION_HELP}`;

export async function run(args: string[]): Promise<number> {
  try {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        url: { type: "string" },
        token: { type: "string" },
        namespace: { type: "string", short: "n" },
        tag: { type: "string" },
        output: { type: "string", short: "o" },
        help: { type: "boolean", short: "h" },
      },
    });
    if (values.help === true) {
      console.log(USAGE);
      return 0;
    }
    if (positionals.length > 0 && !(positionals.length === 1 && ["fn", "functions", "function"].includes(positionals[0] ?? ""))) throw new UsageError(`unexpected ${positionals.join(" ")}\n${USAGE}`);
    if (values.output !== undefined && values.output !== "json") throw new UsageError(`--output must be json, got ${values.output}`);
    const doc = await getJson<{ functions: FunctionSummary[] }>(gatewayUrl(values.url), values.token, "/v1/functions");
    const shown = doc.functions.filter((f) => (values.namespace === undefined || f.namespace === values.namespace) && (values.tag === undefined || f.tags.includes(values.tag)));
    if (values.output === "json") print({ functions: shown });
    else console.log(formatList(shown));
    return 0;
  } catch (err) {
    return report(err);
  }
}
