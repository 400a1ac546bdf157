// hack/build-control-plane.sh's cache decisions, with a stand-in `go` on PATH that records what
// it was asked to do and writes the binaries it was asked to build: only missing binaries are
// built; kubectl comes from the control plane's wrapper module; helm is rebuilt exactly once
// when its build flags change (marker file), with upstream's version ldflags.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";

const K8S_VERSION = /^\tk8s\.io\/kubernetes (v[0-9.]+)$/m.exec(readFileSync("hack/k8s/go.mod", "utf8"))?.[1] ?? "";
const ALL = ["kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "etcd", "kwok", "helm"];

const root = mkdtempSync(join(tmpdir(), "hearth-build-cp-"));
after(() => rmSync(root, { recursive: true, force: true }));

// `go mod download -json helm…` answers with a go.mod naming client-go v0.34.0; `go build -o X`
// and `go install` (GOBIN) write a stub binary. Every call is appended to $GO_LOG.
const fakeBin = join(root, "fake-bin");
mkdirSync(fakeBin);
const helmGoMod = join(root, "helm-go.mod");
writeFileSync(helmGoMod, "module helm.sh/helm/v3\n\nrequire (\n\tk8s.io/client-go v0.34.0\n)\n");
writeFileSync(
  join(fakeBin, "go"),
  `#!/usr/bin/env bash
printf '%s\\n' "$*" >> "$GO_LOG"
case "$1" in
  mod) [[ "$*" == *-json* ]] && printf '{"Path":"helm.sh/helm/v3","GoMod": "%s"}\\n' "${helmGoMod}"; exit 0 ;;
  build) while [[ $# -gt 0 ]]; do if [[ "$1" == -o ]]; then printf '#!/bin/sh\\n' > "$2"; chmod +x "$2"; fi; shift; done ;;
  install) pkg="\${@: -1}"; name="\${pkg%@*}"; name="\${name##*/}"; mkdir -p "$GOBIN"; printf '#!/bin/sh\\n' > "$GOBIN/$name"; chmod +x "$GOBIN/$name" ;;
esac
`,
);
chmodSync(join(fakeBin, "go"), 0o755);

function run(cache: string): { status: number | null; stdout: string; stderr: string; goCalls: string[] } {
  const log = join(cache, "go.log");
  writeFileSync(log, "");
  const r = spawnSync("bash", ["hack/build-control-plane.sh"], {
    encoding: "utf8",
    env: { PATH: `${fakeBin}:${process.env["PATH"] ?? ""}`, HOME: root, HEARTH_CACHE: cache, GO_LOG: log },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, goCalls: readFileSync(log, "utf8").split("\n").filter((l) => l !== "") };
}

function cacheWith(name: string, present: string[], marker?: string): { cache: string; bin: string } {
  const cache = join(root, name);
  const bin = join(cache, `k8s-${K8S_VERSION}`, "bin");
  mkdirSync(bin, { recursive: true });
  for (const b of present) {
    writeFileSync(join(bin, b), "#!/bin/sh\n");
    chmodSync(join(bin, b), 0o755);
  }
  if (marker !== undefined) writeFileSync(join(bin, ".helm-build"), marker);
  return { cache, bin };
}

describe("hack/build-control-plane.sh", () => {
  it("rebuilds a helm without the marker once, with upstream's version ldflags, then never again", () => {
    const { cache, bin } = cacheWith("stale-helm", ALL);
    const first = run(cache);
    assert.equal(first.status, 0, first.stderr);
    assert.equal(first.stdout.trim().split("\n").at(-1), bin);
    const install = first.goCalls.filter((c) => c.startsWith("install"));
    assert.equal(install.length, 1, first.goCalls.join("\n"));
    const flags = install[0] ?? "";
    assert.match(flags, /helm\.sh\/helm\/v3\/cmd\/helm@v3\.\d+\.\d+$/);
    assert.match(flags, /-X helm\.sh\/helm\/v3\/internal\/version\.version=v3\.\d+\.\d+ /);
    for (const p of ["pkg/chartutil", "pkg/lint/rules"]) {
      assert.match(flags, new RegExp(`-X helm\\.sh/helm/v3/${p}\\.k8sVersionMajor=1 `));
      assert.match(flags, new RegExp(`-X helm\\.sh/helm/v3/${p}\\.k8sVersionMinor=34( |$)`));
    }
    assert.ok(!first.goCalls.some((c) => c.startsWith("build")), "nothing else is rebuilt");
    assert.match(first.stderr, /rebuilding it once/);
    assert.match(first.stderr, /\[control-plane \d\d:\d\d:\d\d\] helm: done in \d+s/, "progress lines");
    assert.ok(existsSync(join(bin, ".helm-build")));

    const second = run(cache);
    assert.equal(second.status, 0, second.stderr);
    assert.deepEqual(second.goCalls, [], "a current cache builds nothing");
    assert.equal(second.stdout.trim(), bin);
  });

  it("builds only a missing kubectl, from the control plane's wrapper module", () => {
    const marker = readFileSync(join(root, "stale-helm", `k8s-${K8S_VERSION}`, "bin", ".helm-build"), "utf8");
    const { cache, bin } = cacheWith("no-kubectl", ALL.filter((b) => b !== "kubectl"), marker);
    const r = run(cache);
    assert.equal(r.status, 0, r.stderr);
    const builds = r.goCalls.filter((c) => c.startsWith("build"));
    assert.equal(builds.length, 1, r.goCalls.join("\n"));
    assert.match(builds[0] ?? "", /-ldflags .*gitVersion=v1\.\d+\.\d+.* -o \S+\/kubectl\.tmp k8s\.io\/kubernetes\/cmd\/kubectl$/);
    assert.ok(!r.goCalls.some((c) => c.startsWith("install")), "helm and kwok stay");
    assert.ok(existsSync(join(bin, "kubectl")));
  });
});
