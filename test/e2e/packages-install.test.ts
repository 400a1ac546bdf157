// The install-packages init container's own command (src/packages/requirements.ts installScript,
// `sh -c <script> install-packages <pip options…> <requirements…>`), run for real with a pip
// from a fresh venv (the image's `python`) against a wheel the test builds: kwok runs no init
// containers, so this is where the cluster's install is exercised. First run installs into
// <dir>/site; the second finds the set complete and installs nothing; the packages import from
// <dir>/site (the worker's PYTHONPATH). Plus the PEP 508 check and pip's options from the config.
import { it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { installScript, packageSetKey, pipArgs, requirementError } from "../../src/packages/requirements.ts";
import { tempDir } from "./harness.ts";

const WHEEL = `
import base64, hashlib, sys, zipfile
files = {
  "hearthtestpkg/__init__.py": 'GREETING = "Hello from a local wheel"\\n',
  "hearthtestpkg-1.0.0.dist-info/METADATA": "Metadata-Version: 2.1\\nName: hearthtestpkg\\nVersion: 1.0.0\\n",
  "hearthtestpkg-1.0.0.dist-info/WHEEL": "Wheel-Version: 1.0\\nGenerator: hearth-test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
}
record = []
with zipfile.ZipFile(sys.argv[1], "w") as z:
  for name, text in files.items():
    z.writestr(name, text)
    d = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
    record.append(f"{name},sha256={d},{len(text.encode())}")
  record.append("hearthtestpkg-1.0.0.dist-info/RECORD,,")
  z.writestr("hearthtestpkg-1.0.0.dist-info/RECORD", "\\n".join(record) + "\\n")
`;

it("the cluster's install-packages command installs once per node directory, from the operator's pip options", { timeout: 180_000 }, () => {
  const tmp = tempDir("hearth-pkg-");
  try {
    const wheels = join(tmp.path, "wheels");
    mkdirSync(wheels);
    execFileSync("python3", ["-c", WHEEL, join(wheels, "hearthtestpkg-1.0.0-py3-none-any.whl")]);
    // The image's `python` with pip: a venv's.
    const venv = join(tmp.path, "venv");
    execFileSync("python3", ["-m", "venv", venv]);
    const dir = join(tmp.path, packageSetKey(["hearthtestpkg==1.0.0"], [], "python:3.11"));
    mkdirSync(dir);
    const pip = pipArgs({ extraIndexURLs: [], pipOptions: ["--no-index", "--find-links", wheels] });
    const run = (): { status: number | null; out: string } => {
      const r = spawnSync("sh", ["-c", installScript(dir), "install-packages", ...pip, "hearthtestpkg==1.0.0"], { env: { PATH: `${join(venv, "bin")}:${process.env["PATH"] ?? ""}`, HOME: tmp.path }, encoding: "utf8" });
      return { status: r.status, out: `${r.stdout}${r.stderr}` };
    };
    const first = run();
    assert.equal(first.status, 0, first.out);
    assert.ok(existsSync(join(dir, "site", ".hearth-complete")));
    const second = run();
    assert.equal(second.status, 0, second.out);
    assert.match(second.out, /already installed on this node/);
    const imported = execFileSync("python3", ["-c", "import hearthtestpkg; print(hearthtestpkg.GREETING)"], { env: { PATH: process.env["PATH"] ?? "", PYTHONPATH: join(dir, "site") }, encoding: "utf8" });
    assert.equal(imported.trim(), "Hello from a local wheel");
    // A package pip cannot find fails the container (→ PackageInstallFailed), leaving no half-made set.
    const other = join(tmp.path, "other");
    mkdirSync(other);
    const bad = spawnSync("sh", ["-c", installScript(other), "install-packages", ...pip, "no-such-package==9"], { env: { PATH: `${join(venv, "bin")}:${process.env["PATH"] ?? ""}`, HOME: tmp.path }, encoding: "utf8" });
    assert.notEqual(bad.status, 0);
    assert.equal(existsSync(join(other, "site")), false);
  } finally {
    tmp.remove();
  }
});

it("PEP 508 requirements pass; pip options, shell text and half versions are refused with a reason", () => {
  for (const ok of ["numpy", "numpy>=1.26", "torch[cuda]==2.3.1", "a.b-c_d (>=1.0, <2)", "pkg @ https://host/pkg.whl", 'uvloop; sys_platform != "win32"', "requests[security,socks]>=2.8.1,==2.8.*"]) {
    assert.equal(requirementError(ok), undefined, ok);
  }
  assert.match(requirementError("--index-url=https://evil/simple") ?? "", /pip option/);
  assert.match(requirementError("-e .") ?? "", /pip option/);
  for (const bad of ["numpy>=", "rm -rf /", "a b", "", "numpy; x; y"]) assert.match(requirementError(bad) ?? "", /not a PEP 508 requirement/, bad);
  assert.deepEqual(pipArgs({ indexURL: "https://m/simple", extraIndexURLs: ["https://e/simple"], pipOptions: ["--trusted-host", "m"] }), ["--index-url", "https://m/simple", "--extra-index-url", "https://e/simple", "--trusted-host", "m"]);
});
