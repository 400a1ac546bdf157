// Reading what steps return, where the gateway must: a map step's list, a router's choice. Pure;
// every failure is a message naming the step, for the run's error.
import type { Encoding } from "../../protocol/index.ts";
import { pickleJson, pickleList, readNames } from "./pickle.ts";

/**
 * A pickle map step's stored output: the JSON list of its items' pickles (base64), which the
 * runtime sent as `outputItemsB64` because the lease asked for `outputItems`.
 */
export function isPickleItems(output: string): boolean {
  return output.startsWith("[");
}

/** A stored pickle output as one pickle (base64): a map step's items become `pickle.loads` of each, in a list. */
export function pickleOutputB64(output: string): string {
  if (!isPickleItems(output)) return output;
  const items = JSON.parse(output) as string[];
  return pickleList(items.map((b) => Buffer.from(b, "base64"))).toString("base64");
}

/** A map step's items as values of `encoding` (JSON texts, or base64 pickles). */
export function splitItems(step: string, output: string, encoding: Encoding): { items: string[] } | { error: string } {
  if (encoding === "json") return splitList(step, output);
  if (!isPickleItems(output)) return { error: `step "${step}" has map: true but its worker sent one pickle, not its items (a runtime too old for pickle map steps?)` };
  let items: unknown;
  try {
    items = JSON.parse(output);
  } catch {
    return { error: `step "${step}" has map: true but its items are malformed` };
  }
  return Array.isArray(items) && items.every((i) => typeof i === "string") ? { items } : { error: `step "${step}" has map: true but its items are malformed` };
}

/** The routes a router chose, from its output in its encoding. */
export function chosenRoutesOf(step: string, routes: readonly string[], output: string, encoding: Encoding): { routes: string[] } | { error: string } {
  if (encoding === "json") return chosenRoutes(step, routes, output);
  const names = readNames(Buffer.from(output, "base64"));
  if (names === undefined) return { error: `router "${step}" must return a route name or a list of route names (one of ${routes.join(", ")}); its pickled output is something else` };
  return chosenRoutes(step, routes, JSON.stringify(names));
}

/**
 * A reducer's input `(accumulator, item)`: JSON `[acc, item]`, or for a pickle reducer a pickle
 * of that list made of the two pickles (a JSON accumulator — `initial` — is pickled here).
 */
export function reducerInput(acc: string, item: string, encoding: Encoding): string {
  if (encoding === "json") return `[${acc},${item}]`;
  return pickleList([accPickle(acc), Buffer.from(item, "base64")]).toString("base64");
}

/** Accumulators are JSON text until a pickle reducer returned one: then `pickle:<base64>`. */
export function accPickle(acc: string): Buffer {
  return acc.startsWith("pickle:") ? Buffer.from(acc.slice(7), "base64") : pickleJson(JSON.parse(acc));
}

/** A reducer's final value as a value of `encoding`. */
export function accValue(acc: string, encoding: Encoding): string {
  if (encoding === "json") return acc;
  return acc.startsWith("pickle:") ? acc.slice(7) : pickleJson(JSON.parse(acc)).toString("base64");
}

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
