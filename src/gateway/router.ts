// The gateway's routing table: method + path pattern → handler, path parameters decoded once.
// A pattern is `/`-separated segments: a literal, `{name}` (the whole segment), `{name}:run`
// (the segment ends with the literal `:run`; the parameter is what precedes it), and a final
// `{*rest}` (zero or more remaining segments). Parameters are percent-decoded before a
// suffix is checked, as the gateway always did; a malformed segment is a 400.
import { HttpError } from "./http.ts";

export type Params = Readonly<Record<string, string>>;

export interface Found<H> {
  type: "found";
  handler: H;
  params: Params;
  /** The segments a `{*rest}` took, decoded. */
  rest: string[];
}

/** No route for the path (404), or none for this method (405, with the methods that exist). */
export type RouteMatch<H> = Found<H> | { type: "notFound" } | { type: "methodNotAllowed"; allow: string[] };

type Segment = { kind: "literal"; text: string } | { kind: "param"; name: string; suffix: string } | { kind: "rest"; name: string };

interface Route<H> {
  /** "*" = any method. */
  method: string;
  segments: Segment[];
  handler: H;
  /** An extra condition on the raw path segments (`segs[0]` is the first segment after `/`). */
  when: ((raw: readonly string[]) => boolean) | undefined;
}

export class Router<H> {
  private readonly routes: Route<H>[] = [];

  /** Adds a route; routes are tried in the order they were added. */
  add(method: string, pattern: string, handler: H, when?: (raw: readonly string[]) => boolean): this {
    this.routes.push({ method, segments: parsePattern(pattern), handler, when });
    return this;
  }

  match(method: string, path: string): RouteMatch<H> {
    const raw = path.split("/").slice(1);
    const decoded: (string | undefined)[] = [];
    const decode = (i: number): string => (decoded[i] ??= segment(raw[i] ?? ""));
    let allow: string[] | undefined;
    for (const route of this.routes) {
      const m = matchSegments(route.segments, raw, decode);
      if (m === undefined || (route.when !== undefined && !route.when(raw))) continue;
      if (route.method !== "*" && route.method !== method) {
        (allow ??= []).push(route.method);
        continue;
      }
      return { type: "found", handler: route.handler, params: m.params, rest: m.rest };
    }
    return allow === undefined ? { type: "notFound" } : { type: "methodNotAllowed", allow: [...new Set(allow)] };
  }
}

function parsePattern(pattern: string): Segment[] {
  if (!pattern.startsWith("/")) throw new Error(`route pattern ${pattern} must start with /`);
  const parts = pattern.split("/").slice(1);
  return parts.map((p, i): Segment => {
    const rest = /^\{\*(\w+)\}$/.exec(p);
    if (rest !== null) {
      if (i !== parts.length - 1) throw new Error(`route pattern ${pattern}: {*${rest[1] ?? ""}} must be last`);
      return { kind: "rest", name: rest[1] ?? "" };
    }
    const param = /^\{(\w+)\}(.*)$/.exec(p);
    if (param !== null) return { kind: "param", name: param[1] ?? "", suffix: param[2] ?? "" };
    return { kind: "literal", text: p };
  });
}

function matchSegments(segments: readonly Segment[], raw: readonly string[], decode: (i: number) => string): { params: Record<string, string>; rest: string[] } | undefined {
  const params: Record<string, string> = {};
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i];
    if (s === undefined) return undefined;
    if (s.kind === "rest") {
      const rest: string[] = [];
      for (let j = i; j < raw.length; j++) rest.push(decode(j));
      return { params, rest };
    }
    if (i >= raw.length) return undefined;
    if (s.kind === "literal") {
      if (raw[i] !== s.text) return undefined;
      continue;
    }
    if (raw[i] === "") return undefined;
    const value = decode(i);
    if (!value.endsWith(s.suffix)) return undefined;
    params[s.name] = s.suffix === "" ? value : value.slice(0, -s.suffix.length);
  }
  return raw.length === segments.length ? { params, rest: [] } : undefined;
}

/** One path segment, percent-decoded (400 when malformed). */
export function segment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new HttpError(400, "BadRequest", `malformed path segment ${JSON.stringify(s.slice(0, 100))}`);
  }
}
