// Kubernetes resource quantities ("500m", "1.5Gi", "2e3", 4) as plain numbers of base units.

const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DECIMAL: Record<string, number> = { m: 1e-3, "": 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };
const PATTERN = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(?:([eE][-+]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E))?$/;

/** The quantity's value in base units (bytes, cores, units), or undefined if it is not a quantity. */
export function parseQuantity(q: string | number): number | undefined {
  if (typeof q === "number") return Number.isFinite(q) ? q : undefined;
  const m = PATTERN.exec(q.trim());
  if (m === null) return undefined;
  const [, num, exp, suffix] = m;
  const value = Number(num);
  if (exp !== undefined) return value * 10 ** Number(exp.slice(1));
  const s = suffix ?? "";
  const factor = BINARY[s] ?? DECIMAL[s];
  return factor === undefined ? undefined : value * factor;
}

/** Bytes as a readable binary quantity, e.g. 10737418240 → "10Gi". */
export function formatBytes(bytes: number): string {
  for (const [suffix, f] of Object.entries(BINARY).reverse()) {
    if (bytes >= f && Number.isInteger(bytes / f)) return `${bytes / f}${suffix}`;
  }
  return String(Math.ceil(bytes));
}
