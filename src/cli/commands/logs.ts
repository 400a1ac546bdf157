// `hearth logs fn/<name>` (every worker of a Function, lines prefixed by pod, --follow) and
// `hearth logs task <id>` (the lines the runtime tagged with that task, from whichever worker ran
// it). In a cluster through pods/log; in dev mode from the local runner's log files.
import { parseArgs } from "node:util";
import { CONNECTION_HELP, report, UsageError } from "../../client/cli.ts";
import { SystemClock } from "../../kube/clock.ts";
import { createClient } from "../../kube/client.ts";
import { loadConnection } from "../../kube/kubeconfig.ts";
import { devLogSource, kubeLogSource, streamLogs, type LogSource } from "../../logs/stream.ts";
import { isTerminal, lineOfTask, type TaskDocument } from "../../protocol/index.ts";
import { gatewayUrl, getJson } from "../gateway-read.ts";
import { parseTarget } from "./describe.ts";

export const summary = "print the logs of a Function's workers (fn/<name>) or of one task (task <id>)";

const USAGE = `usage: hearth logs fn/<name> | <namespace>/<name> [flags]
       hearth logs task <id> [flags]
  -f, --follow         keep printing new lines (and new pods); for a task, until it ends
  --tail N             only the last N lines of each pod's log first
  -n, --namespace NS   namespace of fn/<name> (default $HEARTH_NAMESPACE or default)
  --logs-dir DIR       dev mode: read the local workers' log files (default $HEARTH_LOGS_DIR;
                       \`hearth dev\` prints it). Without it: the cluster's pods/log
  --kubeconfig FILE    cluster to read pods/log from (default $KUBECONFIG, then ~/.kube/config)
${CONNECTION_HELP}
  (task <id> asks the gateway which Function ran it)`;

export async function run(args: string[]): Promise<number> {
  try {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        url: { type: "string" },
        token: { type: "string" },
        namespace: { type: "string", short: "n" },
        follow: { type: "boolean", short: "f" },
        tail: { type: "string" },
        "logs-dir": { type: "string" },
        kubeconfig: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
    if (values.help === true) {
      console.log(USAGE);
      return 0;
    }
    const tail = values.tail === undefined ? undefined : Number(values.tail);
    if (tail !== undefined && (!Number.isInteger(tail) || tail < 0)) throw new UsageError(`--tail must be a whole number, got ${values.tail}`);
    let namespace: string;
    let fn: string;
    let task: string | undefined;
    if (positionals[0] === "task") {
      if (positionals.length !== 2 || positionals[1] === "") throw new UsageError(USAGE);
      task = positionals[1] ?? "";
      const doc = await getJson<TaskDocument>(gatewayUrl(values.url), values.token, `/v1/tasks/${encodeURIComponent(task)}`);
      ({ namespace, name: fn } = doc.function);
    } else {
      const [target, ...extra] = positionals;
      if (target === undefined || extra.length > 0) throw new UsageError(USAGE);
      [namespace, fn] = parseTarget(target, values.namespace);
    }
    const logsDir = values["logs-dir"] ?? process.env["HEARTH_LOGS_DIR"];
    const source: LogSource =
      logsDir !== undefined && logsDir !== ""
        ? devLogSource(logsDir, namespace, fn)
        : kubeLogSource(createClient({ connection: await loadConnection(values.kubeconfig !== undefined ? { kubeconfig: values.kubeconfig } : {}), clock: new SystemClock(), fieldManager: "hearth-logs" }), namespace, fn);

    const abort = new AbortController();
    const stop = (): void => abort.abort();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    let watcher: Promise<void> | undefined;
    if (task !== undefined && values.follow === true) watcher = followTask(gatewayUrl(values.url), values.token, task, abort);
    const id = task;
    const result = await streamLogs(source, {
      follow: values.follow === true,
      ...(tail !== undefined ? { tail } : {}),
      signal: abort.signal,
      ...(id !== undefined ? { filter: (line: string) => lineOfTask(line, id) } : {}),
      write: (pod, line) => process.stdout.write(`[${pod}] ${line}\n`),
      warn: (message) => process.stderr.write(`hearth logs: ${message}\n`),
    });
    abort.abort();
    await watcher;
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
    if (result.pods === 0) process.stderr.write(`hearth logs: no pods of ${namespace}/${fn} have logs (${source.describe})\n`);
    return result.pods > 0 && result.failed === result.pods ? 1 : 0;
  } catch (err) {
    return report(err);
  }
}

/** Stops a followed task's logs a moment after the task ends (its last lines are written by then). */
async function followTask(url: string, token: string | undefined, id: string, abort: AbortController): Promise<void> {
  while (!abort.signal.aborted) {
    await new Promise((r) => setTimeout(r, 1000));
    const doc = await getJson<TaskDocument>(url, token, `/v1/tasks/${encodeURIComponent(id)}`).catch(() => undefined);
    if (doc !== undefined && isTerminal(doc.status)) {
      await new Promise((r) => setTimeout(r, 1500));
      abort.abort();
    }
  }
}
