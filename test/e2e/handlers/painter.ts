// A handler with named parameters and literal defaults (its reported signature), that reports
// progress while it works: the console's e2e and browser tests use it.
import type { HearthContext } from "../../../src/runtime/index.ts";

export class Painter {
  private prefix = "";

  setup(): void {
    this.prefix = "painted";
  }

  async predict(prompt: string, steps = 3, scale = 1.5, style = "ink", ctx?: HearthContext): Promise<{ text: string; steps: number; scale: number; style: string }> {
    for (let i = 0; i < steps; i++) {
      ctx?.updateProgress(i / steps, `step ${i + 1} of ${steps}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    return { text: `${this.prefix}: ${prompt}`, steps, scale, style };
  }
}

/** A handler that brings its own input schema. */
export function withSchema(input: unknown): unknown {
  return input;
}
withSchema.inputSchema = { type: "object", properties: { q: { type: "string", description: "the question" } }, required: ["q"] };
