// Input binding cases for test/protocol/cases.json (same names as handlers/python/binding.py).
import type { HearthContext } from "../../../../src/runtime/index.ts";

export function add(a: number, b: number): number {
  return a + b;
}

export function greet(name: string, greeting = "hello"): string {
  return `${greeting}, ${name}!`;
}

export function keys(payload: Record<string, unknown>): string[] {
  return Object.keys(payload).sort();
}

export function identity(value: unknown): unknown {
  return value;
}

export function nothing(): string {
  return "nothing";
}

export function with_context(x: number, ctx: HearthContext): { x: number; hasContext: boolean } {
  return { x, hasContext: typeof ctx.updateProgress === "function" };
}
