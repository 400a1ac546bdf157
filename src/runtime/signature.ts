// The handler's signature as the runtime reports it once setup() is done (docs/protocol.md,
// "Handler signature"): a JSON Schema of the input object, so the console can generate a form
// and callers can see what a Function takes. JavaScript keeps no types at run time: the schema
// has the parameter names, which are required, and the defaults (with the type a literal default
// implies). A handler may export its own schema as a static `inputSchema` property instead.
import type { InputShape } from "./handler.ts";
import { defaultTexts } from "./params.ts";

export interface JsonSchemaObject {
  type: "object";
  properties: Record<string, Record<string, unknown>>;
  required?: string[];
  additionalProperties?: boolean;
  [key: string]: unknown;
}

export interface HandlerSignature {
  /** `parameters`: read from the parameter list; `exported`: the handler's own inputSchema. */
  source: "parameters" | "exported" | "type-hints";
  inputSchema: JsonSchemaObject;
}

/** Most bytes of a signature on the wire: a larger exported schema is not reported. */
export const MAX_SIGNATURE_BYTES = 64 * 1024;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A static `inputSchema` on the class, function or object the handler names. */
function exportedSchema(target: unknown): JsonSchemaObject | undefined {
  if ((typeof target !== "function" && typeof target !== "object") || target === null) return undefined;
  const schema: unknown = (target as Record<string, unknown>)["inputSchema"];
  if (!isPlainObject(schema) || schema["type"] !== "object" || !isPlainObject(schema["properties"])) return undefined;
  return schema as JsonSchemaObject;
}

/** A default's source text as a JSON value, when it is a literal (numbers, strings, true/false/null, JSON arrays/objects). */
export function literalDefault(text: string): { value: unknown } | undefined {
  const t = text.trim();
  if (/^'(?:[^'\\]|\\.)*'$/.test(t)) return { value: t.slice(1, -1).replace(/\\'/g, "'").replace(/\\\\/g, "\\") };
  if (/^`[^`$\\]*`$/.test(t)) return { value: t.slice(1, -1) };
  try {
    return { value: JSON.parse(t) as unknown };
  } catch {
    return undefined;
  }
}

function typeOfValue(v: unknown): string | undefined {
  if (v === null) return undefined;
  if (typeof v === "number") return Number.isInteger(v) ? "integer" : "number";
  if (typeof v === "string") return "string";
  if (typeof v === "boolean") return "boolean";
  if (Array.isArray(v)) return "array";
  if (typeof v === "object") return "object";
  return undefined;
}

/** undefined: the signature is not knowable (a runner, a destructured or variadic-only parameter list). */
export function signatureOf(shape: InputShape): HandlerSignature | undefined {
  const exported = exportedSchema(shape.target);
  if (exported !== undefined) return { source: "exported", inputSchema: exported };
  const plan = shape.plan;
  if (plan === undefined || plan.params === undefined || shape.fn === undefined) return undefined;
  let defaults: (string | undefined)[] | undefined;
  try {
    defaults = defaultTexts(Function.prototype.toString.call(shape.fn));
  } catch {
    defaults = undefined;
  }
  const properties: Record<string, Record<string, unknown>> = {};
  const required: string[] = [];
  let rest = false;
  for (const { index, param } of plan.inputs) {
    if (param.rest) {
      rest = true;
      continue;
    }
    // A destructured parameter takes the whole object: its keys are not names we can report.
    if (param.name === undefined) return undefined;
    const prop: Record<string, unknown> = {};
    const text = defaults?.[index];
    if (param.hasDefault && text !== undefined) {
      const literal = literalDefault(text);
      if (literal !== undefined) {
        prop["default"] = literal.value;
        const type = typeOfValue(literal.value);
        if (type !== undefined) prop["type"] = type;
      }
    }
    properties[param.name] = prop;
    if (!param.hasDefault) required.push(param.name);
  }
  const inputSchema: JsonSchemaObject = { type: "object", properties };
  if (required.length > 0) inputSchema.required = required;
  if (!rest) inputSchema.additionalProperties = false;
  return { source: "parameters", inputSchema };
}

/** The signature to send, or undefined when it is unknown or too large. */
export function wireSignature(shape: InputShape): HandlerSignature | undefined {
  let sig: HandlerSignature | undefined;
  try {
    sig = signatureOf(shape);
  } catch {
    return undefined;
  }
  if (sig === undefined) return undefined;
  return Buffer.byteLength(JSON.stringify(sig)) <= MAX_SIGNATURE_BYTES ? sig : undefined;
}
