// Records every execution in $HEARTH_E2E_RECORD (one line per attempt) and then waits: lets a
// test kill a worker mid-task and count how often the task really ran.
import { appendFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";

export async function record(tag: string, ms: number): Promise<{ tag: string; pid: number }> {
  const file = process.env["HEARTH_E2E_RECORD"];
  if (file !== undefined) appendFileSync(file, `${tag} ${process.pid}\n`);
  await sleep(ms);
  return { tag, pid: process.pid };
}
