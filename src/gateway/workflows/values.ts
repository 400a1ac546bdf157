// Reading what steps return, where the gateway must: a map step's list, a router's choice. Pure;
// every failure is a message naming the step, for the run's error.

/** A map step's output as the JSON texts of its items. */
export function splitList(step: string, output: string): { items: string[] } | { error: string } {
  let value: unknown;
  try {
    value = JSON.parse(output);
  } catch {
    return { error: `step "${step}" has map: true but its output is not JSON` };
  }
  if (!Array.isArray(value)) return { error: `step "${step}" has map: true but returned ${describe(value)}, not a list` };
  return { items: value.map((v: unknown) => JSON.stringify(v === undefined ? null : v)) };
}

/** The routes a router chose: a name or a list of names, each one of `routes`. */
export function chosenRoutes(step: string, routes: readonly string[], output: string): { routes: string[] } | { error: string } {
  let value: unknown;
  try {
    value = JSON.parse(output);
  } catch {
    return { error: `router "${step}" returned something that is not JSON` };
  }
  const names = typeof value === "string" ? [value] : Array.isArray(value) && value.every((v) => typeof v === "string") ? value : undefined;
  if (names === undefined) {
    return { error: `router "${step}" must return a route name or a list of route names (one of ${routes.join(", ")}), got ${preview(value)}` };
  }
  const unknown = names.filter((n) => !routes.includes(n));
  if (unknown.length > 0) return { error: `router "${step}" chose ${unknown.map((n) => JSON.stringify(n)).join(", ")}, not one of its routes (${routes.join(", ")})` };
  return { routes: [...new Set(names)] };
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (typeof v === "object") return "an object";
  return `a ${typeof v}`;
}

function preview(v: unknown): string {
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 120 ? `${text.slice(0, 119)}…` : text;
}

/** The run's output: the value when there is exactly one, else `{step: [values…]}` in item order. */
export function runOutput(values: readonly { step: string; value: string }[]): string {
  if (values.length === 1) return values[0]?.value ?? "null";
  const by = new Map<string, string[]>();
  for (const v of values) {
    let list = by.get(v.step);
    if (list === undefined) by.set(v.step, (list = []));
    list.push(v.value);
  }
  return `{${[...by].map(([step, list]) => `${JSON.stringify(step)}:[${list.join(",")}]`).join(",")}}`;
}
