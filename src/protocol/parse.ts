// Text forms the API accepts: durations (`?timeout=`, `?wait=`, CLI flags) and `ns/name`
// Function references.

/**
 * Parses a duration as the API writes it: `30s`, `1500ms`, `2m`, `1h`, or a bare number of
 * seconds. Returns milliseconds, or undefined when the text is not a duration.
 */
export function parseDuration(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(text);
  if (m === null || m[1] === undefined) return undefined;
  const n = Number(m[1]);
  const unit = m[2] ?? "s";
  const factor = unit === "ms" ? 1 : unit === "s" ? 1000 : unit === "m" ? 60_000 : 3_600_000;
  const ms = n * factor;
  return Number.isFinite(ms) ? Math.round(ms) : undefined;
}

/** `ns/name` → parts, or undefined when malformed. */
export function parseFunctionRef(ref: string): { namespace: string; name: string } | undefined {
  const m = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/.exec(ref);
  if (m === null || m[1] === undefined || m[3] === undefined) return undefined;
  return { namespace: m[1], name: m[3] };
}
