// Maps a task's input onto a handler's parameters (docs/protocol.md, "Input binding"):
// - a JSON object binds by parameter name; when the handler has exactly one input parameter and
//   the object has no key of that name (or the parameter is a destructuring pattern), the whole
//   object is that parameter;
// - an array binds by position;
// - anything else is the single argument (`null` to a handler without parameters: no argument).
// The context is the argument after the inputs, or the slot of a parameter named `ctx`/`context`
// (which input never binds). Failures are BindError, reported as InputRejected (65).
import { BindError } from "./errors.ts";
import type { Param, ParamList } from "./params.ts";

export const CONTEXT_NAMES: readonly string[] = ["ctx", "context"];

export interface BindPlan {
  /** undefined: parameter names unknown, so input passes through unchecked. */
  readonly params: readonly Param[] | undefined;
  /** Slot of the declared context parameter. */
  readonly contextIndex: number | undefined;
  /** Slots of the input parameters, in declaration order. */
  readonly inputs: readonly { readonly index: number; readonly param: Param }[];
  readonly hasRest: boolean;
}

export function planFor(params: ParamList): BindPlan {
  if (params === undefined) return { params: undefined, contextIndex: undefined, inputs: [], hasRest: false };
  let contextIndex: number | undefined;
  const inputs: { index: number; param: Param }[] = [];
  params.forEach((param, index) => {
    if (contextIndex === undefined && !param.rest && param.name !== undefined && CONTEXT_NAMES.includes(param.name)) {
      contextIndex = index;
    } else {
      inputs.push({ index, param });
    }
  });
  return { params, contextIndex, inputs, hasRest: params.some((p) => p.rest) };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Arguments for one call, the context in its slot; throws BindError. */
export function bind(plan: BindPlan, value: unknown, context: unknown): unknown[] {
  if (plan.params === undefined) {
    // Nothing to check against: the protocol's shapes still decide what is passed.
    return Array.isArray(value) ? [...(value as unknown[]), context] : [value, context];
  }
  const slots: unknown[] = [];
  const declared = plan.inputs.filter((i) => !i.param.rest);
  const rest = plan.inputs.find((i) => i.param.rest);
  const only = declared.length === 1 && rest === undefined ? declared[0] : undefined;

  if (isPlainObject(value)) {
    const contextName = plan.contextIndex === undefined ? undefined : plan.params[plan.contextIndex]?.name;
    if (contextName !== undefined && Object.hasOwn(value, contextName)) {
      throw new BindError(`input key "${contextName}" is reserved for the task context`);
    }
    if (only !== undefined && (only.param.name === undefined || !Object.hasOwn(value, only.param.name))) {
      slots[only.index] = value;
    } else {
      bindByName(plan, declared, value, slots);
    }
  } else if (Array.isArray(value)) {
    bindByPosition(plan, declared, rest, value as unknown[], slots);
  } else if (value === null && plan.inputs.length === 0) {
    // `null` to a handler without parameters: nothing to pass, which is what callers mean.
  } else {
    bindByPosition(plan, declared, rest, [value], slots, true);
  }

  if (plan.contextIndex !== undefined) {
    slots[plan.contextIndex] = context;
  } else if (rest === undefined) {
    slots[Math.max(slots.length, plan.params.length)] = context;
  }
  // Dense: holes would read as undefined anyway, but spread and equality checks prefer it explicit.
  return Array.from(slots);
}

function bindByName(plan: BindPlan, declared: readonly { index: number; param: Param }[], value: Record<string, unknown>, slots: unknown[]): void {
  const pattern = declared.find((i) => i.param.name === undefined);
  if (pattern !== undefined) {
    throw new BindError(`${describe(plan)}: parameter ${pattern.index + 1} is a destructuring pattern, so an object cannot bind by name; send an array`);
  }
  const names = new Set(declared.map((i) => i.param.name));
  const unknown = Object.keys(value).filter((k) => !names.has(k));
  if (unknown.length > 0) {
    throw new BindError(`${describe(plan)}: got unexpected key${unknown.length > 1 ? "s" : ""} ${unknown.map((k) => JSON.stringify(k)).join(", ")}`);
  }
  const missing: string[] = [];
  for (const { index, param } of declared) {
    const name = param.name ?? "";
    if (Object.hasOwn(value, name)) slots[index] = value[name];
    else if (!param.hasDefault) missing.push(name);
  }
  if (missing.length > 0) throw new BindError(`${describe(plan)}: missing ${missing.map((k) => JSON.stringify(k)).join(", ")}`);
  // Absent optional parameters stay `undefined`, which is what makes JavaScript use the default.
}

function bindByPosition(
  plan: BindPlan,
  declared: readonly { index: number; param: Param }[],
  rest: { index: number; param: Param } | undefined,
  items: readonly unknown[],
  slots: unknown[],
  single = false,
): void {
  const given = single ? "a single argument" : `an array of ${items.length} item${items.length === 1 ? "" : "s"}`;
  if (rest === undefined && items.length > declared.length) {
    throw new BindError(`${describe(plan)}: got ${given}, it takes at most ${declared.length}`);
  }
  const required = declared.filter((i) => !i.param.hasDefault).length;
  if (items.length < required) {
    throw new BindError(`${describe(plan)}: got ${given}, it needs at least ${required}`);
  }
  items.forEach((item, n) => {
    const target = declared[n];
    if (target !== undefined) slots[target.index] = item;
    else if (rest !== undefined) slots[rest.index + (n - declared.length)] = item;
  });
}

function describe(plan: BindPlan): string {
  const shown = plan.inputs.map(({ param }) => `${param.rest ? "..." : ""}${param.name ?? "{…}"}${param.hasDefault ? "?" : ""}`).join(", ");
  return `input does not match the handler's parameters (${shown})`;
}
