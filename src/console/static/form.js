// A form generated from a handler's input schema (docs/protocol.md, "Handler signature"): one
// field per property, typed by its JSON Schema, checked before anything is sent. Pure: the page
// (app.js) draws the fields and the unit tests call the same functions.

/** @typedef {{name: string, label: string, kind: string, required: boolean, nullable: boolean, hasDefault: boolean, default: unknown, options: unknown[], help: string}} Field */

function typesOf(schema) {
  const t = schema.type;
  if (Array.isArray(t)) return t.filter((x) => typeof x === "string");
  return typeof t === "string" ? [t] : [];
}

/** The fields of an input schema, or undefined when it cannot be a form (the page shows a JSON editor). */
export function fieldsOf(schema) {
  if (schema === null || typeof schema !== "object" || schema.type !== "object") return undefined;
  const props = schema.properties;
  if (props === null || typeof props !== "object" || Array.isArray(props)) return undefined;
  const required = new Set(Array.isArray(schema.required) ? schema.required : []);
  return Object.entries(props).map(([name, raw]) => {
    const p = raw !== null && typeof raw === "object" ? raw : {};
    const types = typesOf(p);
    const nullable = types.includes("null");
    const main = types.filter((t) => t !== "null");
    let kind = "any";
    if (Array.isArray(p.enum)) kind = "enum";
    else if (main.length === 1) {
      kind = main[0];
      if (kind === "string" && p.format === "uri") kind = "url";
    } else if (main.length > 1) kind = "json";
    const hasDefault = Object.prototype.hasOwnProperty.call(p, "default");
    const help = [typeof p.description === "string" ? p.description : "", kindHelp(kind)].filter((s) => s !== "").join(" · ");
    return {
      name,
      label: typeof p.title === "string" ? p.title : name,
      kind,
      required: required.has(name),
      nullable,
      hasDefault,
      default: hasDefault ? p.default : undefined,
      options: Array.isArray(p.enum) ? p.enum : [],
      help,
    };
  });
}

function kindHelp(kind) {
  switch (kind) {
    case "integer":
      return "a whole number";
    case "number":
      return "a number";
    case "url":
      return "a URL";
    case "array":
      return "a JSON array, e.g. [1, 2]";
    case "object":
      return "a JSON object, e.g. {\"k\": 1}";
    case "json":
    case "any":
      return "JSON, or plain text";
    default:
      return "";
  }
}

/** The text a field starts with. */
export function initialText(field) {
  if (!field.hasDefault || field.default === null || field.default === undefined) return "";
  if (field.kind === "enum") return JSON.stringify(field.default);
  if (typeof field.default === "string" && field.kind !== "json" && field.kind !== "array" && field.kind !== "object") return field.default;
  if (typeof field.default === "boolean") return field.default ? "true" : "false";
  return typeof field.default === "object" || field.kind === "json" ? JSON.stringify(field.default) : String(field.default);
}

/**
 * A field's value from what was typed (checkbox: "true"/"false"; select: the JSON of the option).
 * `{omit: true}`: leave the key out (empty and not required); `{error}`: say this next to the field.
 */
export function readField(field, text) {
  const t = typeof text === "string" ? text : "";
  if (t.trim() === "" && field.kind !== "string" && field.kind !== "boolean") {
    if (field.required && !field.nullable) return { error: `${field.label} is required` };
    return field.required ? { value: null } : { omit: true };
  }
  if (t === "" && field.kind === "string") {
    if (field.required) return { error: `${field.label} is required` };
    return { omit: true };
  }
  switch (field.kind) {
    case "string":
      return { value: t };
    case "url":
      try {
        const u = new URL(t.trim());
        if (u.protocol === "javascript:") return { error: `${field.label} must be a URL` };
        return { value: t.trim() };
      } catch {
        return { error: `${field.label} must be a URL, e.g. https://example.com/a.wav` };
      }
    case "integer": {
      const n = Number(t.trim());
      return Number.isInteger(n) ? { value: n } : { error: `${field.label} must be a whole number` };
    }
    case "number": {
      const n = Number(t.trim());
      return Number.isFinite(n) ? { value: n } : { error: `${field.label} must be a number` };
    }
    case "boolean":
      return { value: t === "true" };
    case "enum": {
      let v;
      try {
        v = JSON.parse(t);
      } catch {
        return { error: `${field.label}: choose one of the options` };
      }
      return field.options.some((o) => JSON.stringify(o) === JSON.stringify(v)) ? { value: v } : { error: `${field.label}: choose one of the options` };
    }
    case "array":
    case "object": {
      let v;
      try {
        v = JSON.parse(t);
      } catch (err) {
        return { error: `${field.label} must be JSON: ${err instanceof Error ? err.message : String(err)}` };
      }
      const ok = field.kind === "array" ? Array.isArray(v) : v !== null && typeof v === "object" && !Array.isArray(v);
      return ok ? { value: v } : { error: `${field.label} must be a JSON ${field.kind}` };
    }
    default:
      // Untyped (a Node parameter without a default): JSON when it parses, else the text.
      try {
        return { value: JSON.parse(t) };
      } catch {
        return { value: t };
      }
  }
}

/** The input object from the fields' texts: `{input}` or `{errors: {name: message}}`. */
export function readForm(fields, texts) {
  const input = {};
  const errors = {};
  for (const f of fields) {
    const r = readField(f, texts[f.name]);
    if (r.error !== undefined) errors[f.name] = r.error;
    else if (!r.omit) input[f.name] = r.value;
  }
  return Object.keys(errors).length > 0 ? { errors } : { input };
}

/** The JSON editor's text as an input: `{input}` or `{error}`. */
export function readJson(text) {
  if (text.trim() === "") return { input: null };
  try {
    return { input: JSON.parse(text) };
  } catch (err) {
    return { error: `not valid JSON: ${err instanceof Error ? err.message : String(err)}` };
  }
}
