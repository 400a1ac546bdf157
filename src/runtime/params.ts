// Parameter names of a JavaScript function, read from its source text: JavaScript keeps no
// signature object, and binding a JSON object "by parameter name" (docs/protocol.md) needs the
// names. Type annotations are gone by the time V8 sees a .ts file (Node strips them to spaces),
// so the same scanner serves .js and .ts handlers.

export interface Param {
  /** Identifier, or undefined for a destructuring pattern. */
  readonly name: string | undefined;
  readonly hasDefault: boolean;
  readonly rest: boolean;
}

/** undefined: the source does not show a parameter list (native or bound functions). */
export type ParamList = readonly Param[] | undefined;

const IDENT = /^[A-Za-z_$][\w$]*$/;

export function paramsOf(fn: (...args: never[]) => unknown): ParamList {
  let source: string;
  try {
    source = Function.prototype.toString.call(fn);
  } catch {
    return undefined;
  }
  return parseParams(source);
}

export function parseParams(source: string): ParamList {
  if (source.includes("[native code]")) return undefined;
  let text = skipSpace(source, 0);
  let rest = source.slice(text);
  // `async x => …`, `x => …`: an arrow with one bare parameter.
  const bare = /^(?:async\s+)?([A-Za-z_$][\w$]*)\s*=>/.exec(rest);
  if (bare !== null && bare[1] !== undefined && bare[1] !== "async") {
    return [{ name: bare[1], hasDefault: false, rest: false }];
  }
  text = findParamsOpen(source, text);
  if (text < 0) return undefined;
  const close = matching(source, text);
  if (close < 0) return undefined;
  rest = stripComments(source.slice(text + 1, close));
  return splitTopLevel(rest, ",")
    .map((p) => p.trim())
    .filter((p) => p !== "")
    .map(parseParam);
}

/**
 * The source text of each parameter's default (undefined where there is none), aligned with
 * parseParams: what the handler signature reports (src/runtime/signature.ts).
 */
export function defaultTexts(source: string): (string | undefined)[] | undefined {
  if (source.includes("[native code]")) return undefined;
  const start = skipSpace(source, 0);
  if (/^(?:async\s+)?([A-Za-z_$][\w$]*)\s*=>/.test(source.slice(start))) return [undefined];
  const open = findParamsOpen(source, start);
  if (open < 0) return undefined;
  const close = matching(source, open);
  if (close < 0) return undefined;
  return splitTopLevel(stripComments(source.slice(open + 1, close)), ",")
    .map((p) => p.trim())
    .filter((p) => p !== "")
    .map((p) => {
      const parts = splitTopLevel(p, "=");
      return parts.length > 1 ? parts.slice(1).join("=").trim() : undefined;
    });
}

function parseParam(text: string): Param {
  const isRest = text.startsWith("...");
  const body = isRest ? text.slice(3).trim() : text;
  const parts = splitTopLevel(body, "=");
  // `a = b == c` splits into more pieces; only the first `=` separates name from default.
  const target = (parts[0] ?? "").trim();
  const hasDefault = parts.length > 1;
  return { name: IDENT.test(target) ? target : undefined, hasDefault, rest: isRest };
}

/** Index of the `(` that opens the parameter list, skipping a method's computed name. */
function findParamsOpen(s: string, from: number): number {
  for (let i = from; i < s.length; i++) {
    const c = s[i];
    if (c === "(") return i;
    if (c === "{" || c === "=") return -1;
    if (c === "[") {
      i = matching(s, i);
      if (i < 0) return -1;
    } else if (c === '"' || c === "'" || c === "`") {
      i = endOfString(s, i);
    } else if (c === "/" && (s[i + 1] === "/" || s[i + 1] === "*")) {
      i = endOfComment(s, i) - 1;
    }
  }
  return -1;
}

/** Index of the bracket closing the one at `open`, honouring strings and comments. */
function matching(s: string, open: number): number {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    const c = s[i];
    if (c === "(" || c === "[" || c === "{") depth++;
    else if (c === ")" || c === "]" || c === "}") {
      depth--;
      if (depth === 0) return i;
    } else if (c === '"' || c === "'" || c === "`") i = endOfString(s, i);
    else if (c === "/" && (s[i + 1] === "/" || s[i + 1] === "*")) i = endOfComment(s, i) - 1;
  }
  return -1;
}

function endOfString(s: string, start: number): number {
  const quote = s[start];
  for (let i = start + 1; i < s.length; i++) {
    const c = s[i];
    if (c === "\\") i++;
    else if (c === quote) return i;
    else if (quote === "`" && c === "$" && s[i + 1] === "{") {
      const end = matching(s, i + 1);
      if (end < 0) return s.length;
      i = end;
    }
  }
  return s.length;
}

function endOfComment(s: string, start: number): number {
  if (s[start + 1] === "/") {
    const nl = s.indexOf("\n", start);
    return nl < 0 ? s.length : nl + 1;
  }
  const end = s.indexOf("*/", start + 2);
  return end < 0 ? s.length : end + 2;
}

function stripComments(s: string): string {
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '"' || c === "'" || c === "`") {
      const end = endOfString(s, i);
      out += s.slice(i, end + 1);
      i = end;
    } else if (c === "/" && (s[i + 1] === "/" || s[i + 1] === "*")) {
      out += " ";
      i = endOfComment(s, i) - 1;
    } else {
      out += c;
    }
  }
  return out;
}

function skipSpace(s: string, i: number): number {
  while (i < s.length) {
    const c = s[i];
    if (c === " " || c === "\n" || c === "\t" || c === "\r") i++;
    else if (c === "/" && (s[i + 1] === "/" || s[i + 1] === "*")) i = endOfComment(s, i);
    else break;
  }
  return i;
}

/**
 * Splits at `sep` outside brackets, strings and comments. For "=" it ignores `==`, `=>`, `<=`,
 * `>=` and `!=`, so a default such as `(a = b >= c)` stays whole.
 */
function splitTopLevel(s: string, sep: "," | "="): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === "(" || c === "[" || c === "{") depth++;
    else if (c === ")" || c === "]" || c === "}") depth--;
    else if (c === '"' || c === "'" || c === "`") i = endOfString(s, i);
    else if (c === "/" && (s[i + 1] === "/" || s[i + 1] === "*")) i = endOfComment(s, i) - 1;
    else if (depth === 0 && c === sep) {
      if (sep === "=") {
        const prev = s[i - 1];
        const next = s[i + 1];
        if (next === "=" || next === ">" || prev === "=" || prev === "<" || prev === ">" || prev === "!") continue;
        out.push(s.slice(start, i));
        out.push(s.slice(i + 1));
        return out;
      }
      out.push(s.slice(start, i));
      start = i + 1;
    }
  }
  out.push(s.slice(start));
  return out;
}
