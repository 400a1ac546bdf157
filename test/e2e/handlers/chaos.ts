// The chaos suite's handler: every execution answers with a fresh nonce, so a task that ran twice
// and had both results seen would show two different outputs.
import { randomUUID } from "node:crypto";

export function stamp(x: unknown): { x: unknown; nonce: string } {
  return { x, nonce: randomUUID() };
}
