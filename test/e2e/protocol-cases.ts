// Loads test/protocol/cases.json (the shared test vectors both runtimes run) for the e2e tests.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export interface ProtocolCase {
  name: string;
  handler: string;
  input: unknown;
  expect: { exitCode: number; output?: unknown; errorType?: string; messageContains?: string };
  timeoutSeconds?: number;
  modes?: ("oneshot" | "warm")[];
  description?: string;
}

export const PROTOCOL_DIR = fileURLToPath(new URL("../protocol/", import.meta.url));
export const NODE_HANDLERS = fileURLToPath(new URL("../protocol/handlers/node/", import.meta.url));

export function loadCases(mode: "oneshot" | "warm"): ProtocolCase[] {
  const all = JSON.parse(readFileSync(new URL("../protocol/cases.json", import.meta.url), "utf8")) as ProtocolCase[];
  return all.filter((c) => c.modes === undefined || c.modes.includes(mode));
}

/** `"@size:N"` is shorthand for "x" repeated N times. */
export function expectedOutput(output: unknown): unknown {
  if (typeof output === "string") {
    const m = /^@size:(\d+)$/.exec(output);
    if (m !== null) return "x".repeat(Number(m[1]));
  }
  return output;
}
