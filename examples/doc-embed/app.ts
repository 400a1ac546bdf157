// The handlers of examples/doc-embed: a Tensorlake-style map-reduce (split a document, embed each
// chunk, sum the embeddings) and a router. Plain functions: `handler: app:split` and so on.
// The "embedding" is a tiny deterministic feature vector so the example needs no model; swap in a
// real encoder (and a GPU Function) without touching the Workflow.

/** Chunks of a document: its sentences (map: true in the Workflow, so each travels on alone). */
export function split(text: string): string[] {
  if (typeof text !== "string") throw new TypeError(`split takes a string, got ${typeof text}`);
  return text
    .split(/(?<=[.!?])\s+|\n{2,}/)
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

/** A 4-number "embedding" of a chunk: [words, letters, digits, chunks (always 1)]. */
export function embed(chunk: string): number[] {
  const words = chunk.split(/\s+/).filter((w) => w !== "").length;
  const letters = (chunk.match(/\p{L}/gu) ?? []).length;
  const digits = (chunk.match(/\d/g) ?? []).length;
  return [words, letters, digits, 1];
}

/** The reducer (accumulate: {initial: [0, 0, 0, 0]}): element-wise sum, in chunk order. */
export function sum(acc: number[], vector: number[]): number[] {
  return acc.map((v, i) => v + (vector[i] ?? 0));
}

/** The router of doc-triage: short texts are shouted back, long ones go through embed. */
export function classify(text: string): string {
  return typeof text === "string" && text.length <= 40 ? "shout" : "embed";
}

export function shout(text: string): string {
  return `${String(text).toUpperCase()}!`;
}
