// Entry of the child process the supervisor forks (node src/runtime/child-main.ts). Everything
// it needs comes from the environment the supervisor passes, and (direct mode) the worker
// channel's connection, handed over as an IPC handle (child-channel.ts).
import { Socket } from "node:net";
import { ChildChannel } from "./child-channel.ts";
import { ChildRuntime } from "./child.ts";
import type { FromChild } from "./ipc.ts";
import { batchingSender, parseToChild, unbatch } from "./ipc.ts";
import { fdJournalWriter, JOURNAL_FD_ENV } from "./task-journal.ts";
import { SystemClock } from "../kube/clock.ts";
import { hop } from "../trace/hops.ts";

function main(): void {
  const send = process.send?.bind(process);
  if (send === undefined) {
    console.error("hearth: the runtime child must be started by the supervisor (no IPC channel)");
    process.exit(2);
  }
  const env = process.env;
  // The task journal the supervisor created (task-journal.ts); then unset, so that processes
  // user code starts do not take the descriptor for theirs.
  const fdText = env[JOURNAL_FD_ENV];
  const journalFd = fdText !== undefined && /^\d+$/.test(fdText) ? Number(fdText) : undefined;
  delete env[JOURNAL_FD_ENV];
  const roots = [...(env["HEARTH_CODE_PATH"] ?? "").split(":").filter((p) => p !== ""), process.cwd()];
  // Outcomes of one turn cross as one message (ipc.ts).
  const batched = batchingSender<FromChild>((msg) => {
    hop("k.send");
    send(msg);
  });
  const child = new ChildRuntime({
    handler: env["HEARTH_HANDLER"] ?? "",
    roots,
    function: env["HEARTH_FUNCTION"] ?? "",
    startupTimeoutSeconds: Number(env["HEARTH_STARTUP_TIMEOUT_SECONDS"] ?? "600") || 600,
    gatewayUrl: env["HEARTH_GATEWAY_URL"],
    send: batched,
  });
  const direct = new ChildChannel({
    runtime: child,
    clock: new SystemClock(),
    notify: batched,
    notifyNow: (msg) => send(msg),
    exit: (code) => process.exit(code),
    supervised: () => process.connected,
    log: (msg) => console.error(msg),
    journal: journalFd === undefined ? undefined : fdJournalWriter(journalFd),
  });
  // The supervisor gone means nobody will read results: stop rather than hold the GPU.
  process.on("disconnect", () => process.exit(0));
  void child.start().then((ready) => {
    if (!ready) return;
    process.on("message", (raw: unknown, handle: unknown) => {
      hop("k.recv");
      for (const one of unbatch(raw)) {
        const msg = parseToChild(one);
        if (msg === undefined) continue;
        switch (msg.t) {
          case "task":
            child.handle(msg);
            break;
          case "cancel":
            direct.cancel(msg.id);
            child.handle(msg);
            break;
          case "channel":
            if (handle instanceof Socket) direct.attach(handle, Buffer.from(msg.head, "base64"), { concurrency: msg.concurrency, restartOnError: msg.restartOnError, journal: msg.journal === true });
            // The connection did not come along (it closed on the way): the supervisor opens another.
            else batched({ t: "channelClosed" });
            break;
          case "pause":
            direct.pause();
            break;
          case "stop":
            direct.stop();
            break;
          case "retire":
            direct.retire();
            break;
        }
      }
    });
  });
}

main();
