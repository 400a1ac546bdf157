// Entry of the child process the supervisor forks (node src/runtime/child-main.ts). Everything
// it needs comes from the environment the supervisor passes.
import { ChildRuntime } from "./child.ts";
import type { FromChild } from "./ipc.ts";
import { batchingSender, parseToChild, unbatch } from "./ipc.ts";
import { hop } from "../trace/hops.ts";

function main(): void {
  const send = process.send?.bind(process);
  if (send === undefined) {
    console.error("hearth: the runtime child must be started by the supervisor (no IPC channel)");
    process.exit(2);
  }
  const env = process.env;
  const roots = [...(env["HEARTH_CODE_PATH"] ?? "").split(":").filter((p) => p !== ""), process.cwd()];
  const child = new ChildRuntime({
    handler: env["HEARTH_HANDLER"] ?? "",
    roots,
    function: env["HEARTH_FUNCTION"] ?? "",
    startupTimeoutSeconds: Number(env["HEARTH_STARTUP_TIMEOUT_SECONDS"] ?? "600") || 600,
    gatewayUrl: env["HEARTH_GATEWAY_URL"],
    // Outcomes of one turn cross as one message (ipc.ts).
    send: batchingSender<FromChild>((msg) => {
      hop("k.send");
      send(msg);
    }),
  });
  // The supervisor gone means nobody will read results: stop rather than hold the GPU.
  process.on("disconnect", () => process.exit(0));
  void child.start().then((ready) => {
    if (!ready) return;
    process.on("message", (raw: unknown) => {
      hop("k.recv");
      for (const one of unbatch(raw)) {
        const msg = parseToChild(one);
        if (msg !== undefined) child.handle(msg);
      }
    });
  });
}

main();
