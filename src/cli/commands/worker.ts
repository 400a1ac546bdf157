// `hearth worker`: the runtime entrypoint of worker images. Warm (default) leases tasks from the
// gateway; oneshot runs HEARTH_INPUT_FILE once for an isolated Job. Configured by the worker
// environment (docs/protocol.md) or the equivalent flags (`--timeout-seconds 5`).
import { SystemClock } from "../../kube/clock.ts";
import { childEnv, ConfigError, configFromEnv, DEFAULT_TERMINATION_LOG, flagsToEnv, type WorkerConfig } from "../../runtime/config.ts";
import { failureResult, runOneshot, writeTerminationLog } from "../../runtime/oneshot.ts";
import { TaskChannel } from "../../runtime/oneshot-task.ts";
import { forkChild } from "../../runtime/supervisor.ts";
import { runWarmWorker } from "../../runtime/warm.ts";

export const summary = "run a handler as a worker (HEARTH_MODE=warm leases from the gateway, oneshot runs one input)";

const log = (msg: string): void => {
  process.stderr.write(`${msg}\n`);
};

/** An isolated call: claim the task, run it once, post the output (src/runtime/oneshot-task.ts). */
async function runIsolatedCall(config: WorkerConfig, taskId: string, deps: Parameters<typeof runOneshot>[1]): Promise<{ doc: string; exitCode: number }> {
  const channel = new TaskChannel({ gatewayUrl: config.gatewayUrl ?? "", taskId, token: config.taskToken, workerId: config.workerId, log });
  try {
    const claimed = await channel.claim();
    switch (claimed.kind) {
      case "failed":
        log(`hearth: ${claimed.failure.type}: ${claimed.failure.message}`);
        return failureResult(claimed.failure);
      case "ended":
        log(`hearth: task ${taskId} needs no run: ${claimed.message}`);
        return { doc: JSON.stringify({ outputRef: { kind: "Task", name: taskId } }), exitCode: 0 };
      case "claimed": {
        const { leaseId, input, token } = claimed.claim;
        return await runOneshot(config, { ...deps, task: { id: taskId, input, token, deliver: (output) => channel.deliver(leaseId, output), progress: (value, message) => channel.progress(leaseId, value, message) } });
      }
    }
  } finally {
    channel.close();
  }
}

export async function run(args: string[]): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    console.log(
      "usage: hearth worker [--mode warm|oneshot] [--handler module:attr] [--function ns/name] [--gateway-url URL] …\n" +
        "Every HEARTH_* variable of docs/protocol.md has a flag: HEARTH_TIMEOUT_SECONDS is --timeout-seconds.",
    );
    return 0;
  }
  let config: WorkerConfig;
  let env: Record<string, string | undefined>;
  try {
    env = { ...process.env, ...flagsToEnv(args) };
    config = configFromEnv(env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    log(`hearth worker: BadConfiguration: ${err.message}`);
    const partial = { ...process.env };
    if (partial["HEARTH_MODE"] === "oneshot") {
      await writeTerminationLog(partial["HEARTH_TERMINATION_LOG"] ?? DEFAULT_TERMINATION_LOG, failureResult({ type: "BadConfiguration", message: err.message }).doc, log);
    }
    return 2;
  }
  const spawn = forkChild(childEnv(env, config));
  const clock = new SystemClock();
  if (config.mode === "oneshot") {
    const result = config.taskId !== undefined ? await runIsolatedCall(config, config.taskId, { spawn, clock, log }) : await runOneshot(config, { spawn, clock, log });
    await writeTerminationLog(config.terminationLog, result.doc, log);
    return result.exitCode;
  }
  return runWarmWorker(config, { spawn, clock, log });
}
