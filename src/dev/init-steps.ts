// Dev mode's init containers: what a worker pod's init containers do, done on this machine
// before its worker process starts, with the same commands where they are Hearth's own.
// - fetch-artifacts: `hearth artifacts fetch` with the container's environment (so progress and
//   failures reach the gateway as in a cluster), into dev mode's artifact cache;
// - install-packages (pythonPackages): a venv per package set under the state directory
//   (`<envsDir>/<key>`), created once and reused across runs; the worker runs its interpreter;
// - artifact-<name> (an image copied by an init container) and PVC/image volumes: dev mode has
//   no images or volumes, so the Function maps such artifacts to local directories with the
//   annotation hearth.dev/dev-artifacts: '{"whisper": "./models/whisper"}';
// and the worker's HEARTH_ARTIFACTS is rewritten to where the files are on this machine.
// Pure: the pod, its Function's annotations and the data sources in, the steps out.
import { isAbsolute, join, resolve } from "node:path";
import { packageSetKey } from "../packages/requirements.ts";
import { CACHE_VOLUME } from "../workload/artifacts.ts";

/** Function annotation: artifact name → local directory (relative to the code path or the repo). */
export const DEV_ARTIFACTS_ANNOTATION = "hearth.dev/dev-artifacts";

export interface InitStep {
  /** The init container it stands for. */
  name: string;
  command: string;
  args: string[];
  env: Record<string, string>;
  /** Files to write (0600) before the step runs and remove after: a mounted Secret's keys. */
  files: Record<string, string>;
}

export interface InitPlanInput {
  podUid: string;
  initContainers: readonly { name: string; env: Record<string, string>; mounts: readonly { name: string; mountPath: string }[]; command?: readonly string[] | undefined }[];
  workerMounts: readonly { name: string; mountPath: string; subPath?: string | undefined }[];
  /** The pod's volumes that are Secrets: volume name → decoded data (undefined: not found yet). */
  secretVolumes: ReadonlyMap<string, Record<string, string> | undefined>;
  /** The worker's HEARTH_ARTIFACTS (name → path in the pod). */
  artifacts: Record<string, string>;
  /** The Function's hearth.dev/dev-artifacts annotation, raw. */
  devArtifacts: string | undefined;
  /** Where relative dev-artifact paths start. */
  baseDir: string;
  cacheDir: string;
  /** Where dev mode keeps one venv per package set. */
  envsDir: string;
  /** The interpreter venvs are made from. */
  python: string;
  node: string;
  cli: string;
}

/** `python`: the worker's interpreter when the pod has pythonPackages (its package set's venv). */
export type InitPlan = { steps: InitStep[]; artifacts: Record<string, string>; python?: string } | { missing: string };

/** Creates the venv of one package set once (`$1`), concurrent runs racing to one rename. */
export const VENV_SCRIPT = [
  "set -e",
  'dir=$1; shift',
  'if [ -f "$dir/.hearth-complete" ]; then echo "hearth: python packages already installed ($dir)"; exit 0; fi',
  'tmp="$dir.tmp-$$"',
  'trap \'rm -rf "$tmp"\' EXIT',
  '"$HEARTH_PYTHON" -m venv "$tmp"',
  '"$tmp/bin/python" -m pip install --disable-pip-version-check "$@"',
  'touch "$tmp/.hearth-complete"',
  'if [ -d "$dir" ]; then rm -rf "$tmp"; else mv "$tmp" "$dir"; fi',
].join("\n");

const fetchSpec = (v: unknown): v is { name: string; headersDir?: string } => typeof v === "object" && v !== null && typeof (v as { name?: unknown }).name === "string";

export function planInitSteps(input: InitPlanInput): InitPlan {
  let mapping: Record<string, string> = {};
  if (input.devArtifacts !== undefined) {
    try {
      const parsed: unknown = JSON.parse(input.devArtifacts);
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error("not an object");
      mapping = Object.fromEntries(Object.entries(parsed).filter((e): e is [string, string] => typeof e[1] === "string"));
    } catch {
      return { missing: `annotation ${DEV_ARTIFACTS_ANNOTATION} must be a JSON object of artifact name → local directory` };
    }
  }
  const local = (p: string): string => (isAbsolute(p) ? p : resolve(input.baseDir, p));
  const steps: InitStep[] = [];
  let python: string | undefined;
  for (const c of input.initContainers) {
    if (c.name === "install-packages") {
      // The cluster's command: sh -c <script> install-packages <pip options…> <requirements…>.
      const args = (c.command ?? []).slice(4);
      const firstReq = args.findIndex((a, i) => !a.startsWith("-") && (i === 0 || !OPTIONS_WITH_VALUE.has(args[i - 1] ?? "")));
      const pip = firstReq < 0 ? args : args.slice(0, firstReq);
      const packages = firstReq < 0 ? [] : args.slice(firstReq);
      const dir = join(input.envsDir, packageSetKey(packages, pip, `dev:${input.python}`));
      steps.push({ name: c.name, command: "sh", args: ["-c", VENV_SCRIPT, "install-packages", dir, ...pip, ...packages], env: { HEARTH_PYTHON: input.python }, files: {} });
      python = join(dir, "bin", "python");
      continue;
    }
    if (c.name === "fetch-artifacts") {
      const env: Record<string, string> = { ...c.env, HEARTH_ARTIFACT_CACHE: input.cacheDir, HEARTH_TERMINATION_LOG: "/dev/null" };
      const files: Record<string, string> = {};
      let specs: unknown;
      try {
        specs = JSON.parse(env["HEARTH_ARTIFACT_SPECS"] ?? "[]");
      } catch {
        return { missing: "fetch-artifacts: HEARTH_ARTIFACT_SPECS is not JSON" };
      }
      if (!Array.isArray(specs)) return { missing: "fetch-artifacts: HEARTH_ARTIFACT_SPECS is not a list" };
      const rewritten: unknown[] = [];
      for (const s of specs) {
        if (!fetchSpec(s) || s.headersDir === undefined) {
          rewritten.push(s);
          continue;
        }
        const mount = c.mounts.find((m) => m.mountPath === s.headersDir);
        const data = mount === undefined ? undefined : input.secretVolumes.get(mount.name);
        if (data === undefined) return { missing: `artifact ${s.name}: its secretRef is not found yet` };
        const dir = join(input.cacheDir, ".secrets", input.podUid, s.name);
        for (const [k, v] of Object.entries(data)) files[join(dir, k)] = v;
        rewritten.push({ ...s, headersDir: dir });
      }
      env["HEARTH_ARTIFACT_SPECS"] = JSON.stringify(rewritten);
      steps.push({ name: c.name, command: input.node, args: [input.cli, "artifacts", "fetch"], env, files });
    }
    // Other init containers copy artifact images: mapped below, nothing to run.
  }
  const artifacts: Record<string, string> = {};
  for (const [name, path] of Object.entries(input.artifacts)) {
    const mount = input.workerMounts.find((m) => m.mountPath === path);
    if (mount?.name === CACHE_VOLUME && mount.subPath !== undefined) artifacts[name] = join(input.cacheDir, mount.subPath);
    else if (mapping[name] !== undefined) artifacts[name] = local(mapping[name]);
    else return { missing: `artifact ${name} comes from a volume or an image dev mode cannot mount: map it to a local directory with the Function annotation ${DEV_ARTIFACTS_ANNOTATION}: '{"${name}": "./path"}'` };
  }
  return python === undefined ? { steps, artifacts } : { steps, artifacts, python };
}

/** pip options that take a value (the value is not a requirement). */
const OPTIONS_WITH_VALUE = new Set(["--index-url", "-i", "--extra-index-url", "--trusted-host", "--find-links", "-f", "--constraint", "-c", "--platform", "--python-version", "--implementation", "--abi", "--cert", "--client-cert", "--proxy", "--retries", "--timeout"]);
