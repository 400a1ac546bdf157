// Static caller tokens (a Secret mounted into the gateway, for CI systems and clusters without
// usable Kubernetes identities). One token per line, each bound to namespaces:
//
//     # token               namespaces it may call (comma-separated, or * for every namespace)
//     3f9c…                 team-a,team-b
//     9a2e…                 *
//
// A bare token (no second field) may call every namespace, as the chart's generated token does
// (the operator uses it for warm Jobs in every namespace it watches). Blank lines and `#`
// comments are ignored.

export interface StaticToken {
  token: string;
  /** Namespaces this token may call, or "*" for all. */
  namespaces: "*" | readonly string[];
}

const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export class TokenFileError extends Error {}

/** Parses a token file; throws TokenFileError naming the line for anything malformed. */
export function parseTokenFile(text: string): StaticToken[] {
  const out: StaticToken[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.replace(/(^|\s)#.*$/, "").trim();
    if (line === "") return;
    const fields = line.split(/\s+/);
    const [token, scope, extra] = fields;
    if (token === undefined) return;
    if (extra !== undefined) throw new TokenFileError(`line ${i + 1}: expected "<token> [namespaces]", got ${fields.length} fields`);
    if (scope === undefined || scope === "*") {
      out.push({ token, namespaces: "*" });
      return;
    }
    const namespaces = scope.split(",").filter((n) => n !== "");
    const bad = namespaces.find((n) => !NAMESPACE.test(n));
    if (namespaces.length === 0 || bad !== undefined) {
      throw new TokenFileError(`line ${i + 1}: ${JSON.stringify(bad ?? scope)} is not a namespace name (namespaces are comma-separated, or * for all)`);
    }
    out.push({ token, namespaces });
  });
  return out;
}

/** `$HEARTH_CALLER_TOKENS`: comma-separated tokens, each optionally `token=ns1;ns2`. */
export function parseTokenList(text: string): StaticToken[] {
  return text
    .split(",")
    .map((t) => t.trim())
    .filter((t) => t !== "")
    .map((t) => {
      const eq = t.indexOf("=");
      if (eq < 0) return { token: t, namespaces: "*" as const };
      return parseTokenFile(`${t.slice(0, eq)} ${t.slice(eq + 1).replaceAll(";", ",")}`)[0] ?? { token: t, namespaces: "*" as const };
    });
}

/** The first token of a token file: what the operator presents to the gateway. */
export function firstToken(text: string): string | undefined {
  try {
    return parseTokenFile(text)[0]?.token;
  } catch {
    return undefined;
  }
}
