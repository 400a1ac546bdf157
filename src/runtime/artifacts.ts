// Where the Function's artifacts are (spec.artifacts): name → path, from HEARTH_ARTIFACTS, which
// the operator (and dev mode) set once the files are in place. `artifacts()` in handler code,
// `ctx.artifacts` on task and setup contexts.
export function parseArtifacts(raw: string | undefined): Readonly<Record<string, string>> {
  if (raw === undefined || raw.trim() === "") return Object.freeze({});
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new Error(`HEARTH_ARTIFACTS is not JSON: ${raw.slice(0, 200)}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error("HEARTH_ARTIFACTS must be a JSON object of name → path");
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) if (typeof v === "string") out[k] = v;
  return Object.freeze(out);
}

let parsed: { raw: string | undefined; value: Readonly<Record<string, string>> } | undefined;

/** The Function's artifacts in this worker: `{whisper: "/models/whisper"}` (parsed once per value of HEARTH_ARTIFACTS). */
export function artifacts(): Readonly<Record<string, string>> {
  const raw = process.env["HEARTH_ARTIFACTS"];
  if (parsed === undefined || parsed.raw !== raw) parsed = { raw, value: parseArtifacts(raw) };
  return parsed.value;
}
