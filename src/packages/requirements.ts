// spec.pythonPackages: PEP 508 requirement strings ("numpy>=1.26", "torch[cuda]==2.3.1",
// "mypkg @ https://…/mypkg.whl", "uvloop; sys_platform != 'win32'"), checked before anything
// runs, and the key a package set is cached under (per node in a cluster, per state dir in dev
// mode). Pure.
import { createHash } from "node:crypto";

const NAME = "[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?";
const EXTRAS = `\\[\\s*(?:${NAME}(?:\\s*,\\s*${NAME})*)?\\s*\\]`;
const OP = "(?:~=|===|==|!=|<=|>=|<|>)";
const VERSION = "[A-Za-z0-9_.*+!-]+";
const SPECS = `${OP}\\s*${VERSION}(?:\\s*,\\s*${OP}\\s*${VERSION})*`;
const VERSIONS = `(?:\\(\\s*${SPECS}\\s*\\)|${SPECS})`;
const URL = "@\\s*[A-Za-z][A-Za-z0-9+.-]*://\\S+";
const MARKER = ";\\s*[^;]+";

/** A PEP 508 requirement (name, extras, versions or a URL, markers); RE2-compatible for the CRD. */
export const REQUIREMENT_PATTERN = `^\\s*${NAME}\\s*(?:${EXTRAS})?\\s*(?:${URL}(?:\\s+${MARKER})?|(?:${VERSIONS})?\\s*(?:${MARKER})?)\\s*$`;
const requirement = new RegExp(REQUIREMENT_PATTERN);
export const REQUIREMENT_MESSAGE = "each entry must be a PEP 508 requirement such as numpy>=1.26, torch[cuda]==2.3.1 or pkg @ https://host/pkg.whl; pip options belong in the operator config (packages.pipOptions)";

/** Why `req` is not a requirement pip should see, or undefined when it is one. */
export function requirementError(req: string): string | undefined {
  if (req.trimStart().startsWith("-")) return `${JSON.stringify(req)} is a pip option, not a requirement: options belong in the operator config (packages.pipOptions)`;
  if (!requirement.test(req)) return `${JSON.stringify(req)} is not a PEP 508 requirement (e.g. "numpy>=1.26", "torch[cuda]==2.3.1", "pkg @ https://host/pkg.whl")`;
  return undefined;
}

/** The cache key of a package set: the requirements, the pip options and the image (its Python and ABI). */
export function packageSetKey(packages: readonly string[], pipOptions: readonly string[], image: string): string {
  return `py-${createHash("sha256").update(JSON.stringify({ packages, pipOptions, image })).digest("hex").slice(0, 32)}`;
}

/**
 * The install-packages init container's script (sh, in the Function's image): the package set
 * lands in `<dir>/site` of a per-node cache entry keyed by packageSetKey; a second pod on the
 * node finds `.hearth-complete` and installs nothing; concurrent pods install into their own
 * temporary directory and the first rename wins. `$@` = pip options, then the requirements.
 */
export function installScript(dir: string): string {
  return [
    "set -e",
    `dir=${dir}`,
    'if [ -f "$dir/site/.hearth-complete" ]; then echo "hearth: python packages already installed on this node"; exit 0; fi',
    'tmp="$dir/.tmp-$(hostname)"',
    'trap \'rm -rf "$tmp"\' EXIT',
    'python -m pip install --no-cache-dir --disable-pip-version-check --target "$tmp" "$@"',
    'touch "$tmp/.hearth-complete"',
    'if [ -d "$dir/site" ]; then rm -rf "$tmp"; echo "hearth: another pod on this node installed them first"; else mv "$tmp" "$dir/site"; fi',
  ].join("\n");
}

/** pip's options from the operator config: the index, extra indexes, then the free-form options. */
export function pipArgs(o: { indexURL?: string | undefined; extraIndexURLs: readonly string[]; pipOptions: readonly string[] }): string[] {
  return [...(o.indexURL !== undefined ? ["--index-url", o.indexURL] : []), ...o.extraIndexURLs.flatMap((u) => ["--extra-index-url", u]), ...o.pipOptions];
}
