// The oneshot runtime's result document (docs/protocol.md, "Oneshot mode"), read back from the
// container's termination message.
import { z } from "zod";
import type { JsonValue } from "../../api/v1alpha1/index.ts";
import { isJsonObject } from "../../kube/views.ts";

/** The kubelet keeps at most this many bytes of a termination message and drops the rest. */
export const TERMINATION_MESSAGE_LIMIT = 4096;

/** The result document's definition; `documentOf` below checks it by hand on the hot path. */
export const resultDocument = z.union([
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
  return documentOf(parsed) ?? { kind: "invalid", text };
}

/**
 * `resultDocument` by hand (the Job controller reads every pod's message at every reconcile; zod
 * took about 0.15 ms a pod): exactly one key of the four, its value as the schema wants it. Same
 * answers as the schema (test/unit/job-result.test.ts).
 */
export function documentOf(d: unknown): OneshotResult | undefined {
  if (!isJsonObject(d)) return undefined;
  let only: string | undefined;
  for (const k in d) {
    if (!Object.hasOwn(d, k)) continue;
    if (only !== undefined) return undefined;
    only = k;
  }
  if (only === undefined) return undefined;
  const v = d[only];
  switch (only) {
    case "output":
      // Parsed from JSON text: any value it holds is JSON.
      return { kind: "output", output: v as JsonValue };
    case "outputB64":
      return typeof v === "string" ? { kind: "outputB64", outputB64: v } : undefined;
    case "outputRef": {
      if (!isJsonObject(v)) return undefined;
      const { kind, name } = v;
      return typeof kind === "string" && kind.length <= 64 && typeof name === "string" && name.length <= 253 ? { kind: "outputRef", outputRef: { kind, name } } : undefined;
    }
    case "error": {
      if (!isJsonObject(v)) return undefined;
      const { type, message } = v;
      if (typeof type !== "string" || (message !== undefined && typeof message !== "string")) return undefined;
      return { kind: "error", type, message: message ?? "" };
    }
    default:
      return undefined;
  }
}

/** What the schema makes of a document (the definition `documentOf` is held to). */
export function documentBySchema(d: unknown): OneshotResult | undefined {
  const doc = resultDocument.safeParse(d);
  if (!doc.success) return undefined;
  const r = doc.data;
  if ("output" in r) return { kind: "output", output: r.output };
  if ("outputB64" in r) return { kind: "outputB64", outputB64: r.outputB64 };
  if ("outputRef" in r) return { kind: "outputRef", outputRef: { kind: r.outputRef.kind, name: r.outputRef.name } };
  return { kind: "error", type: r.error.type, message: r.error.message ?? "" };
}

/** What a user reads in status for a message that is not a result document (logs, usually). */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  // Keep the tail: a traceback's last lines (FallbackToLogsOnError) say what went wrong.
  return "…" + text.slice(text.length - (max - 1));
}
