import { spawn } from "node:child_process";
import { closeSync, openSync, readdirSync, readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";

/**
 * Component processes: each in its own process group (spawn `detached`), so a stop signals the
 * whole group and nothing is ever found or killed by name.
 */

export interface RunningProcess {
  readonly name: string;
  readonly pid: number;
  /** Process group id: equal to pid for a `detached` spawn. */
  readonly pgid: number;
  /** Binary path, checked against /proc before signalling a group found in a state file. */
  readonly bin: string;
  readonly logFile: string;
}

export interface SpawnedProcess extends RunningProcess {
  /** Resolves when the process exits (with its code or signal); never rejects. */
  readonly exited: Promise<string>;
}

export function spawnInGroup(name: string, bin: string, args: readonly string[], logFile: string): SpawnedProcess {
  const fd = openSync(logFile, "w");
  try {
    const child = spawn(bin, args, { detached: true, stdio: ["ignore", fd, fd] });
    const pid = child.pid;
    if (pid === undefined) throw new Error(`failed to start ${name} (${bin})`);
    const exited = new Promise<string>((resolve) => {
      child.once("exit", (code, signal) => resolve(signal !== null ? `signal ${signal}` : `code ${String(code)}`));
      child.once("error", (err) => resolve(`error ${err.message}`));
    });
    // Components must not keep the caller's event loop alive; the caller's handle stops them.
    child.unref();
    return { name, pid, pgid: pid, bin, logFile, exited };
  } finally {
    closeSync(fd);
  }
}

interface ProcStat {
  readonly pid: number;
  readonly state: string;
  readonly pgrp: number;
}

/** Parses /proc/<pid>/stat; the command name (field 2) may contain spaces and parentheses. */
export function parseProcStat(text: string): ProcStat | undefined {
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  if (open < 0 || close < open) return undefined;
  const rest = text.slice(close + 2).split(" ");
  const pid = Number(text.slice(0, open).trim());
  const state = rest[0];
  const pgrp = Number(rest[2]);
  if (!Number.isInteger(pid) || state === undefined || !Number.isInteger(pgrp)) return undefined;
  return { pid, state, pgrp };
}

/** Live (non-zombie) members of a process group, from /proc. */
export function groupMembers(pgid: number): number[] {
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return signalGroup(pgid, 0) ? [pgid] : [];
  }
  const members: number[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: ProcStat | undefined;
    try {
      stat = parseProcStat(readFileSync(`/proc/${entry}/stat`, "utf8"));
    } catch {
      continue; // exited meanwhile
    }
    if (stat !== undefined && stat.pgrp === pgid && stat.state !== "Z" && stat.state !== "X") members.push(stat.pid);
  }
  return members;
}

/** True when the group's leader is still the binary we started (guards against pid reuse). */
export function isOurGroup(p: Pick<RunningProcess, "pgid" | "bin">): boolean {
  try {
    const argv0 = readFileSync(`/proc/${p.pgid}/cmdline`, "utf8").split("\0")[0] ?? "";
    // A zombie leader has an empty cmdline: judge by the group's live members then.
    return argv0 === "" ? groupMembers(p.pgid).length > 0 : argv0 === p.bin;
  } catch {
    // Leader gone (or no /proc): the group may still have members; they were started by the
    // leader we recorded only if a member's pgid matches, which is all we can check.
    return groupMembers(p.pgid).length > 0;
  }
}

function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

async function waitGroupGone(pgid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (groupMembers(pgid).length === 0) return true;
    if (Date.now() >= deadline) return false;
    await sleep(50);
  }
}

/**
 * Stops process groups: SIGTERM to all at once, SIGKILL to those still alive after graceMs.
 * Only groups whose leader is still our binary are signalled. Returns the groups that had to be
 * killed.
 */
export async function stopGroups(processes: readonly RunningProcess[], graceMs = 5000): Promise<string[]> {
  const ours = processes.filter((p) => isOurGroup(p));
  for (const p of ours) signalGroup(p.pgid, "SIGTERM");
  const killed: string[] = [];
  await Promise.all(
    ours.map(async (p) => {
      if (await waitGroupGone(p.pgid, graceMs)) return;
      killed.push(p.name);
      signalGroup(p.pgid, "SIGKILL");
      await waitGroupGone(p.pgid, 5000);
    }),
  );
  return killed;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return typeof err === "object" && err !== null && "code" in err && err.code === "EPERM";
  }
}
