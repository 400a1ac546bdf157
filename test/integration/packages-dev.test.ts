// pythonPackages in dev mode, end to end on the real test cluster with real processes: the test
// builds a wheel from a local directory, dev mode runs the pod's install-packages step as a venv
// per package set under its state directory (pip pointed at the wheel's directory with the
// developer's own PIP_* settings), and the worker — whose handler module imports the package at
// load time — runs in that venv. Two workers share one venv; a requirement that is not PEP 508 is
// refused by the CRD schema with a clear message; a package pip cannot find makes the Function
// Degraded (PackageInstallFailed) and starts no worker.
import { it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { CustomObjectsApi } from "@kubernetes/client-node";
import { createClient } from "../../src/client/index.ts";
import { kubeConfigFromEnv, waitFor, withNamespace } from "../support/cluster.ts";
import { startDevMode } from "../support/dev-process.ts";

const GROUP = { group: "hearth.dev", version: "v1alpha1" };

/** A pure-Python wheel (zip + dist-info with a RECORD of sha256s), written by Python's zipfile. */
function buildWheel(dir: string): string {
  const script = `
import base64, hashlib, sys, zipfile
out = sys.argv[1]
files = {
  "hearthtestpkg/__init__.py": 'GREETING = "Hello from a local wheel"\\n__version__ = "1.0.0"\\n',
  "hearthtestpkg-1.0.0.dist-info/METADATA": "Metadata-Version: 2.1\\nName: hearthtestpkg\\nVersion: 1.0.0\\n",
  "hearthtestpkg-1.0.0.dist-info/WHEEL": "Wheel-Version: 1.0\\nGenerator: hearth-test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
}
record = []
with zipfile.ZipFile(out, "w") as z:
  for name, text in files.items():
    data = text.encode()
    z.writestr(name, data)
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    record.append(f"{name},sha256={digest},{len(data)}")
  record.append("hearthtestpkg-1.0.0.dist-info/RECORD,,")
  z.writestr("hearthtestpkg-1.0.0.dist-info/RECORD", "\\n".join(record) + "\\n")
`;
  const path = join(dir, "hearthtestpkg-1.0.0-py3-none-any.whl");
  execFileSync("python3", ["-c", script, path]);
  return path;
}

it("dev mode installs pythonPackages for real: a venv per package set, from a wheel the test built", { timeout: 300_000 }, async (t) => {
  const kubeconfig = process.env["HEARTH_KUBECONFIG"];
  assert.ok(kubeconfig, "HEARTH_KUBECONFIG must be set");
  const kc = kubeConfigFromEnv();
  const ns = await withNamespace(t, kc, "packages");
  const stateDir = mkdtempSync(join(tmpdir(), "hearth-packages-test-"));
  t.after(() => rmSync(stateDir, { recursive: true, force: true }));
  const wheels = join(stateDir, "wheels");
  mkdirSync(wheels);
  buildWheel(wheels);

  const dm = await startDevMode(t, { kubeconfig, namespace: ns, stateDir, env: { PIP_NO_INDEX: "1", PIP_FIND_LINKS: wheels } });
  const { token } = dm;

  const custom = kc.makeApiClient(CustomObjectsApi);
  const fn = (name: string, pythonPackages: string[]) => ({
    apiVersion: "hearth.dev/v1alpha1",
    kind: "Function",
    metadata: { name, namespace: ns, annotations: { "hearth.dev/dev-code-path": resolve("test/integration/handlers/packages") } },
    spec: { image: "python:3.11-slim", handler: "uses_pkg:UsesPkg", runtime: "python", resources: { cpu: "100m", memory: "128Mi" }, pythonPackages, warmPool: { minReplicas: 2, maxReplicas: 2 } },
  });

  // Bad input first: pip options and shell text are not requirements.
  for (const bad of ["--index-url=https://evil.example/simple", "numpy; rm -rf /; x", "numpy>="]) {
    await assert.rejects(custom.createNamespacedCustomObject({ ...GROUP, namespace: ns, plural: "functions", body: fn("bad", ["tqdm", bad]) }), (err: unknown) => {
      assert.match(String((err as { body?: unknown }).body ?? err), /PEP 508 requirement/);
      return true;
    });
  }

  await custom.createNamespacedCustomObject({ ...GROUP, namespace: ns, plural: "functions", body: fn("greeter", ["hearthtestpkg==1.0.0"]) });
  try {
    await waitFor(
      async () => {
        const obj = (await custom.getNamespacedCustomObject({ ...GROUP, namespace: ns, plural: "functions", name: "greeter" })) as { status?: { warmWorkers?: number } };
        return obj.status?.warmWorkers === 2;
      },
      { timeoutMs: 180_000, what: "2 warm workers of greeter" },
    );
  } catch (err) {
    throw new Error(`${String(err)}\n--- dev output ---\n${dm.output.slice(-4000)}`, { cause: err });
  }
  const client = createClient({ url: dm.url, token });
  t.after(() => client.close());
  assert.equal(await client.function(`${ns}/greeter`).run("Ada", { timeoutMs: 60_000 }), "Hello from a local wheel, Ada (hearthtestpkg 1.0.0)");

  // A package pip cannot find: no worker starts, and the Function is Degraded with the reason and pip's words.
  await custom.createNamespacedCustomObject({ ...GROUP, namespace: ns, plural: "functions", body: fn("broken", ["no-such-package==9.9"]) });
  const degraded = await waitFor(
    async () => {
      const obj = (await custom.getNamespacedCustomObject({ ...GROUP, namespace: ns, plural: "functions", name: "broken" })) as { status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] } };
      return obj.status?.conditions?.find((c) => c.type === "Degraded" && c.status === "True");
    },
    { timeoutMs: 120_000, what: "Function broken Degraded" },
  );
  assert.equal(degraded.reason, "PackageInstallFailed", JSON.stringify(degraded));
  assert.match(degraded.message ?? "", /no-such-package/);

  // One complete venv: greeter's set, shared by both workers (the failing set, still retried, has none).
  const envs = readdirSync(join(stateDir, "python-envs")).filter((e) => existsSync(join(stateDir, "python-envs", e, ".hearth-complete")));
  assert.equal(envs.length, 1, envs.join(", "));
  assert.match(envs[0] ?? "", /^py-[0-9a-f]{32}$/);

  assert.ok(dm.process.pid !== undefined);
  process.kill(dm.process.pid, "SIGINT");
  assert.equal(await dm.exited, 0, dm.output.slice(-2000));
});
