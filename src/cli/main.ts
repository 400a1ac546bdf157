#!/usr/bin/env node
// The `hearth` command. Each subcommand lives in src/cli/commands/<name>.ts and exports
// `run(args: string[]): Promise<number>` plus a one-line `summary`; they load lazily so that
// `hearth run` does not pay for the operator's imports.
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

interface Command {
  summary: string;
  run(args: string[]): Promise<number>;
}

const commandsDir = join(dirname(fileURLToPath(import.meta.url)), "commands");

function available(): string[] {
  return readdirSync(commandsDir)
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts"))
    .map((f) => f.slice(0, -3))
    .sort();
}

async function load(name: string): Promise<Command> {
  return (await import(join(commandsDir, `${name}.ts`))) as Command;
}

async function usage(): Promise<string> {
  const lines = ["usage: hearth <command> [args]", "", "commands:"];
  for (const name of available()) lines.push(`  ${name.padEnd(12)} ${(await load(name)).summary}`);
  return lines.join("\n");
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    console.log(await usage());
    return name === undefined ? 2 : 0;
  }
  if (!available().includes(name)) {
    console.error(`hearth: unknown command "${name}"\n\n${await usage()}`);
    return 2;
  }
  return (await load(name)).run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`hearth: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
