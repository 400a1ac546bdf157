// `hearth logs` on the real test cluster. Dev mode: the local runner keeps each worker process's
// output in a per-pod file, both runtimes tag the lines a handler prints with its task id, and
// `hearth logs fn/<name>` / `hearth logs task <id>` (--follow too) read them. The cluster path
// (pods/log through the apiserver) is exercised against the same pods: kwok's fake pods have no
// kubelet, so the apiserver cannot serve their logs — the test checks that every pod is found by
// its Function label and that each failure is reported per pod with the apiserver's message.
import { it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { mkdtempSync, rmSync } from "node:fs";
import { CustomObjectsApi } from "@kubernetes/client-node";
import { createClient } from "../../src/client/index.ts";
import { kubeConfigFromEnv, waitFor, withNamespace } from "../support/cluster.ts";
import { startDevMode } from "../support/dev-process.ts";

type Condition = { type: string; status: string };

function hearth(args: string[], env: Record<string, string>, timeoutMs = 60_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const p = spawn(process.execPath, ["src/cli/main.ts", ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    p.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => p.kill("SIGKILL"), timeoutMs);
    p.once("exit", (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

it("hearth logs: per-pod worker logs and one task's tagged lines, both runtimes, in dev mode; pods/log on the cluster", { timeout: 300_000 }, async (t) => {
  const kubeconfig = process.env["HEARTH_KUBECONFIG"];
  assert.ok(kubeconfig, "HEARTH_KUBECONFIG must be set");
  const kc = kubeConfigFromEnv();
  const ns = await withNamespace(t, kc, "logs");
  const stateDir = mkdtempSync(join(tmpdir(), "hearth-logs-test-"));
  t.after(() => rmSync(stateDir, { recursive: true, force: true }));
  const dm = await startDevMode(t, { kubeconfig, namespace: ns, stateDir });
  const { token } = dm;
  const logsDir = await waitFor(() => /HEARTH_LOGS_DIR=(\S+)/.exec(dm.output)?.[1], { what: "HEARTH_LOGS_DIR in the banner" });
  assert.equal(logsDir, join(stateDir, "logs"));

  const custom = kc.makeApiClient(CustomObjectsApi);
  const codePath = resolve("test/integration/handlers/logs");
  for (const runtime of ["node", "python"] as const) {
    await custom.createNamespacedCustomObject({
      group: "hearth.dev",
      version: "v1alpha1",
      namespace: ns,
      plural: "functions",
      body: {
        apiVersion: "hearth.dev/v1alpha1",
        kind: "Function",
        metadata: { name: `chatty-${runtime}`, namespace: ns, annotations: { "hearth.dev/dev-code-path": codePath } },
        spec: { image: "example/chatty:1", handler: "chatty:Chatty", runtime, resources: { cpu: "100m", memory: "128Mi" }, concurrency: 2, warmPool: { minReplicas: 2, maxReplicas: 2 } },
      },
    });
  }
  for (const runtime of ["node", "python"]) {
    await waitFor(
      async () => {
        const obj = (await custom.getNamespacedCustomObject({ group: "hearth.dev", version: "v1alpha1", namespace: ns, plural: "functions", name: `chatty-${runtime}` })) as {
          status?: { conditions?: Condition[]; warmWorkers?: number; setup?: { signatureKnown?: boolean } };
        };
        // The workers reported the handler's signature after setup(): status says so (the gateway → setup-status path).
        return obj.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true && obj.status.warmWorkers === 2 && obj.status.setup?.signatureKnown === true;
      },
      { timeoutMs: 120_000, what: `Function chatty-${runtime} Ready with 2 warm workers and status.setup.signatureKnown` },
    );
  }

  const env = { HEARTH_URL: dm.url, HEARTH_TOKEN: token, HEARTH_LOGS_DIR: logsDir, HEARTH_NAMESPACE: ns };
  const client = createClient({ url: env.HEARTH_URL, token });
  t.after(() => client.close());
  for (const runtime of ["node", "python"]) {
    const fn = client.function(`${ns}/chatty-${runtime}`);
    const words = ["alpha", "bravo", "charlie", "delta"];
    const handles = await Promise.all(words.map((w) => fn.push(w)));
    const ids = handles.map((h) => h.id);
    for (const [i, h] of handles.entries()) assert.equal(await h.result({ timeoutMs: 60_000 }), words[i]?.toUpperCase());

    // Every worker's lines, prefixed by its pod: both pods, setup lines (untagged) and the calls' lines (tagged).
    const all = await hearth(["logs", `fn/chatty-${runtime}`], env);
    assert.equal(all.code, 0, all.stderr);
    const pods = new Set(all.stdout.split("\n").filter((l) => l !== "").map((l) => /^\[([^\]]+)\] /.exec(l)?.[1]));
    assert.equal(pods.size, 2, `lines of two pods:\n${all.stdout}`);
    for (const pod of pods) assert.ok(pod?.startsWith(`chatty-${runtime}-pool-`), `prefix ${pod} is a pod name`);
    assert.equal(all.stdout.split("\n").filter((l) => l.endsWith(`] chatty(${runtime}): setup done`)).length, 2, all.stdout);
    for (const [i, w] of words.entries()) {
      assert.ok(all.stdout.includes(`] [task:${ids[i]}] chatty(${runtime}) says ${w}\n`), `tagged line of ${w}:\n${all.stdout}`);
    }

    // One task's lines: stdout and stderr, multi-line writes tagged per line, nothing of the other tasks.
    const one = await hearth(["logs", "task", ids[1] ?? ""], env);
    assert.equal(one.code, 0, one.stderr);
    const lines = one.stdout.split("\n").filter((l) => l !== "").map((l) => l.replace(/^\[[^\]]+\] /, ""));
    assert.deepEqual(lines.sort(), [`chatty(${runtime}) says bravo`, `chatty(${runtime}) warns bravo`, "second line bravo"].sort(), one.stdout);

    // --tail limits each pod's history.
    // (Per pod, not "two lines": a pod the ReplicaSet replaced meanwhile is listed with its last line.)
    const tail = await hearth(["logs", `fn/chatty-${runtime}`, "--tail", "1"], env);
    const tailPods = tail.stdout.split("\n").filter((l) => l !== "").map((l) => /^\[([^\]]+)\] /.exec(l)?.[1] ?? l);
    assert.equal(new Set(tailPods).size, tailPods.length, `one line per pod:\n${tail.stdout}`);
    for (const pod of pods) assert.ok(tailPods.includes(pod ?? ""), `a line of ${pod}:\n${tail.stdout}`);
  }

  // --follow: lines of a call made after the command started arrive; `logs task <id> -f` ends after the task does.
  const follow = spawn(process.execPath, ["src/cli/main.ts", "logs", "fn/chatty-python", "--follow", "--tail", "1"], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
  let followed = "";
  follow.stdout.on("data", (c: Buffer) => (followed += c.toString()));
  follow.stderr.on("data", (c: Buffer) => (followed += c.toString()));
  t.after(() => follow.kill("SIGKILL"));
  // It is reading both files once it printed each pod's last line; only then is the next call "later".
  await waitFor(() => followed.split("\n").filter((l) => l.startsWith("[chatty-python-pool-")).length >= 2, { timeoutMs: 30_000, what: `follow started; so far:\n${followed}` });
  const late = await client.function(`${ns}/chatty-python`).push("echo-late");
  const followTask = hearth(["logs", "task", late.id, "--follow"], env, 90_000);
  assert.equal(await late.result({ timeoutMs: 60_000 }), "ECHO-LATE");
  await waitFor(() => followed.includes(`[task:${late.id}] chatty(python) says echo-late`), { timeoutMs: 30_000, what: `followed line; so far:\n${followed}` });
  const ended = await followTask;
  assert.equal(ended.code, 0, ended.stderr);
  assert.ok(ended.stdout.includes("chatty(python) says echo-late"), ended.stdout);
  follow.kill("SIGINT");

  // The cluster path: the same pods through the apiserver's pods/log. kwok pods have no kubelet,
  // so each read fails — reported per pod with the apiserver's reason, exit 1, no crash.
  const cluster = await hearth(["logs", "fn/chatty-node", `--kubeconfig=${kubeconfig}`], { ...env, HEARTH_LOGS_DIR: "" });
  assert.equal(cluster.code, 1, `${cluster.stdout}\n${cluster.stderr}`);
  const failures = cluster.stderr.split("\n").filter((l) => /^hearth logs: pod chatty-node-pool-\S+: cannot read its log: \S/.test(l));
  assert.equal(failures.length, 2, cluster.stderr);
  // Bad input: an unknown task is the gateway's 404, a bad target a usage error.
  const unknown = await hearth(["logs", "task", "no-such-task"], env);
  assert.notEqual(unknown.code, 0);
  assert.match(unknown.stderr, /NotFound|not found/i);
  const bad = await hearth(["logs", "a/b/c"], env);
  assert.equal(bad.code, 2, bad.stderr);

  assert.ok(dm.process.pid !== undefined);
  process.kill(dm.process.pid, "SIGINT");
  assert.equal(await dm.exited, 0, dm.output.slice(-2000));
});
