// Cutting fields out of a JSON text before JSON.parse: the informers' watch events carry whole
// objects, and most of their bytes are fields no controller reads. A Job's pod event was 7.9 KB
// on average, of which managedFields 3.6 KB and spec 2.3 KB; a batch Job's 7.6 KB, of which
// managedFields 3.5 KB and its pod template most of spec's 3.2 KB (bench/jobs, round 9). Parsing
// them (and collecting the garbage) was the largest share of the operator's CPU. The scan here
// only looks at structure and the text is rebuilt only along the paths cut.

const QUOTE = 34;
const BACKSLASH = 92;
const LBRACE = 123;
const RBRACE = 125;
const LBRACKET = 91;
const RBRACKET = 93;
const COMMA = 44;
const COLON = 58;

/** A field path from the root object, e.g. ["object", "metadata", "managedFields"]. */
export type FieldPath = readonly string[];

class Malformed extends Error {}

function skipSpace(s: string, i: number): number {
  for (;;) {
    const c = s.charCodeAt(i);
    if (c !== 32 && c !== 10 && c !== 13 && c !== 9) return i;
    i++;
  }
}

/** Index just past the string that starts at `i` (a quote). */
function stringEnd(s: string, i: number): number {
  // A plain loop: most strings here are short keys ("f:status"), where indexOf's call costs more.
  const n = s.length;
  for (let j = i + 1; j < n; j++) {
    const c = s.charCodeAt(j);
    if (c === QUOTE) return j + 1;
    if (c === BACKSLASH) j++;
  }
  throw new Malformed("unterminated string");
}

/** Structural characters outside strings: 1 a quote, 2 an opening bracket, 3 a closing one. */
const CLASS = new Uint8Array(128);
CLASS[QUOTE] = 1;
CLASS[LBRACE] = CLASS[LBRACKET] = 2;
CLASS[RBRACE] = CLASS[RBRACKET] = 3;

/** Index just past the value that starts at `i` (no leading space). */
function valueEnd(s: string, i: number): number {
  const c = s.charCodeAt(i);
  if (c === QUOTE) return stringEnd(s, i);
  if (c === LBRACE || c === LBRACKET) {
    let depth = 0;
    const n = s.length;
    for (let j = i; j < n; j++) {
      const d = s.charCodeAt(j);
      const k = d < 128 ? CLASS[d] : 0;
      if (k === 0) continue;
      if (k === 1) j = stringEnd(s, j) - 1;
      else if (k === 2) depth++;
      else if (--depth === 0) return j + 1;
    }
    throw new Malformed("unterminated object or array");
  }
  let j = i;
  for (;;) {
    const d = s.charCodeAt(j);
    if (Number.isNaN(d) || d === COMMA || d === RBRACE || d === RBRACKET || d === 32 || d === 10 || d === 13 || d === 9) break;
    j++;
  }
  if (j === i) throw new Malformed("no value");
  return j;
}

/**
 * The object starting at `i`, with the members `paths` name removed (a path of one key removes
 * that member; a longer one descends into it when it is an object). Returns the text and where
 * the object ended.
 */
function elideObject(s: string, i: number, paths: readonly FieldPath[]): { text: string; end: number } {
  let j = skipSpace(s, i + 1);
  if (s.charCodeAt(j) === RBRACE) return { text: s.slice(i, j + 1), end: j + 1 };
  const kept: string[] = [];
  let changed = false;
  for (;;) {
    if (s.charCodeAt(j) !== QUOTE) throw new Malformed("expected a key");
    const keyEnd = stringEnd(s, j);
    const key = s.slice(j + 1, keyEnd - 1);
    const colon = skipSpace(s, keyEnd);
    if (s.charCodeAt(colon) !== COLON) throw new Malformed("expected a colon");
    const v = skipSpace(s, colon + 1);
    let end: number;
    let drop = false;
    let text: string | undefined;
    const here = paths.filter((p) => p[0] === key);
    if (here.some((p) => p.length === 1)) {
      end = valueEnd(s, v);
      drop = true;
    } else if (here.length > 0 && s.charCodeAt(v) === LBRACE) {
      const inner = elideObject(
        s,
        v,
        here.map((p) => p.slice(1)),
      );
      end = inner.end;
      if (inner.text.length !== end - v) text = s.slice(j, v) + inner.text;
    } else {
      end = valueEnd(s, v);
    }
    if (drop || text !== undefined) changed = true;
    if (!drop) kept.push(text ?? s.slice(j, end));
    const next = skipSpace(s, end);
    const c = s.charCodeAt(next);
    if (c === RBRACE) return { text: changed ? `{${kept.join(",")}}` : s.slice(i, next + 1), end: next + 1 };
    if (c !== COMMA) throw new Malformed("expected a comma or the object's end");
    j = skipSpace(s, next + 1);
  }
}

/**
 * `text` (a JSON object) without the fields at `paths`; `text` itself when it is not a JSON
 * object this scan can read (JSON.parse then reports what is wrong). Fields cut are never
 * parsed, so never checked: cut only what no reader needs.
 */
export function elide(text: string, paths: readonly FieldPath[]): string {
  try {
    const i = skipSpace(text, 0);
    if (text.charCodeAt(i) !== LBRACE) return text;
    const { text: out, end } = elideObject(text, i, paths);
    if (skipSpace(text, end) !== text.length) return text;
    return out;
  } catch (err) {
    if (err instanceof Malformed) return text;
    throw err;
  }
}
