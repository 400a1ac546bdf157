// The oneshot runtime's result document (docs/protocol.md, "Oneshot mode"), read back from the
// container's termination message.
import { z } from "zod";
import type { JsonValue } from "../../api/v1alpha1/index.ts";

/** The kubelet keeps at most this many bytes of a termination message and drops the rest. */
export const TERMINATION_MESSAGE_LIMIT = 4096;

const resultDocument = z.union([
  z.strictObject({ output: z.json() }),
  z.strictObject({ outputB64: z.string() }),
  // An isolated call's pod posted its output to the gateway task (too large for this message).
  z.strictObject({ outputRef: z.looseObject({ kind: z.string().max(64), name: z.string().max(253) }) }),
  z.strictObject({ error: z.looseObject({ type: z.string(), message: z.string().optional() }) }),
]);

export type OneshotResult =
  | { readonly kind: "output"; readonly output: JsonValue }
  /** Pickle encoding: the base64 text is the output; the Function's encoding says how to read it. */
  | { readonly kind: "outputB64"; readonly outputB64: string }
  /** The output went elsewhere (`{"kind":"Task","name":<task id>}`: the gateway holds it). */
  | { readonly kind: "outputRef"; readonly outputRef: { readonly kind: string; readonly name: string } }
  | { readonly kind: "error"; readonly type: string; readonly message: string }
  /** No document: a custom `command` that is not the Hearth runtime, or a crash before writing. */
  | { readonly kind: "empty" }
  /** The kubelet cut the document at its limit, so it cannot be parsed. */
  | { readonly kind: "truncated"; readonly bytes: number }
  | { readonly kind: "invalid"; readonly text: string };

export function parseTerminationMessage(message: string | undefined): OneshotResult {
  const text = (message ?? "").trim();
  if (text === "") return { kind: "empty" };
  const bytes = Buffer.byteLength(text);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return bytes >= TERMINATION_MESSAGE_LIMIT && text.startsWith("{") ? { kind: "truncated", bytes } : { kind: "invalid", text };
  }
  const doc = resultDocument.safeParse(parsed);
  if (!doc.success) return { kind: "invalid", text };
  const d = doc.data;
  if ("output" in d) return { kind: "output", output: d.output };
  if ("outputB64" in d) return { kind: "outputB64", outputB64: d.outputB64 };
  if ("outputRef" in d) return { kind: "outputRef", outputRef: { kind: d.outputRef.kind, name: d.outputRef.name } };
  return { kind: "error", type: d.error.type, message: d.error.message ?? "" };
}

/** What a user reads in status for a message that is not a result document (logs, usually). */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  // Keep the tail: a traceback's last lines (FallbackToLogsOnError) say what went wrong.
  return "…" + text.slice(text.length - (max - 1));
}
