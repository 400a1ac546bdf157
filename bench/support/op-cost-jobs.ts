// What single requests of a Hearth Job's life cost the control plane, in CPU (apiserver + etcd,
// from /proc), measured one kind at a time with the idle rate subtracted: the Job's POST, its
// final status written as a server-side apply, a merge patch or a JSON patch (alternating order
// per round), an Event. No operator runs; nothing else is created. Noisy on a shared machine
// (Go's GC lands on whichever phase runs): compare over several rounds.
//
//   node hack/with-cluster.ts node_modules/.bin/node bench/support/op-cost-jobs.ts [--n 300] [--rounds 2]
import { parseArgs } from "node:util";
import { installCrds } from "../../test/support/operator.ts";
import { createClient } from "../../src/kube/client.ts";
import { SystemClock } from "../../src/kube/clock.ts";
import { fromKubeconfigFile } from "../../src/kube/kubeconfig.ts";
import { events, hearthJobs, namespaces } from "../../src/kube/resources.ts";
import { cpuSeconds } from "./cpu.ts";

const { values: args } = parseArgs({ options: { n: { type: "string", default: "300" }, rounds: { type: "string", default: "2" }, concurrency: { type: "string", default: "16" } } });
const N = Number(args.n);
const C = Number(args.concurrency);
const kubeconfig = process.env["HEARTH_KUBECONFIG"] ?? "";
const clock = new SystemClock();
const client = createClient({ connection: await fromKubeconfigFile(kubeconfig), clock, fieldManager: "hearth-job-controller", qps: 5000, burst: 5000 });

const plane = (): number => {
  const m = cpuSeconds(kubeconfig);
  return (m.get("kube-apiserver") ?? 0) + (m.get("etcd") ?? 0);
};

async function pool(n: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: C }, async () => {
    while (next < n) await fn(next++);
  }));
}

/** CPU-ms per op of the apiserver + etcd, idle rate subtracted. */
async function measure(label: string, n: number, fn: (i: number) => Promise<void>, idleMsPerS: number): Promise<number> {
  const c0 = plane();
  const t0 = performance.now();
  await pool(n, fn);
  await new Promise((r) => setTimeout(r, 300));
  const secs = (performance.now() - t0) / 1000;
  const used = (plane() - c0) * 1000 - idleMsPerS * secs;
  const per = used / n;
  process.stderr.write(`  ${label.padEnd(34)} ${per.toFixed(2)} ms/op (${n} in ${secs.toFixed(1)} s)\n`);
  return per;
}

function finalStatus(i: number): Record<string, unknown> {
  const t = new Date().toISOString();
  return {
    conditions: [{ type: "Complete", status: "True", reason: "Succeeded", message: "batch Job j-run succeeded", lastTransitionTime: t, observedGeneration: 1 }],
    observedGeneration: 1,
    invocation: "isolated",
    batchJob: `j${i}-run`,
    attempts: [{ index: 0, pod: `j${i}-run-abcde`, startTime: t, endTime: t, exitCode: 0, reason: "Succeeded" }],
    startTime: t,
    completionTime: t,
    output: { ok: true },
  };
}

await installCrds(client);
for (let round = 0; round < Number(args.rounds); round++) {
  const ns = `opcost-${Date.now().toString(36)}`;
  await client.create(namespaces, { metadata: { name: ns } });
  await new Promise((r) => setTimeout(r, 2000));
  const c0 = plane();
  await new Promise((r) => setTimeout(r, 3000));
  const idle = (plane() - c0) * 1000 / 3;
  process.stderr.write(`round ${round + 1}: idle apiserver+etcd ${idle.toFixed(0)} ms/s\n`);
  const name = (i: number): string => `j${String(i).padStart(4, "0")}`;
  await measure("POST hearth Job", 4 * N, async (i) => {
    await client.create(hearthJobs, { metadata: { name: name(i), namespace: ns }, spec: { functionRef: { name: "bench" }, input: { item: name(i) } } });
  }, idle);
  const path = (i: number): string => `/apis/hearth.dev/v1alpha1/namespaces/${ns}/jobs/${name(i)}/status`;
  const kinds: [string, (i: number) => Promise<void>][] = [
    ["APPLY jobs/status", async (i) => void (await client.applyStatus(hearthJobs, { name: name(i), namespace: ns }, finalStatus(i)))],
    ["merge-patch jobs/status", async (i) => void (await client.transport.request("PATCH", path(i), { verb: "patch", resource: "jobs/status", body: { status: finalStatus(i) }, contentType: "application/merge-patch+json", query: { fieldManager: "hearth-job-controller" } }))],
    ["json-patch add /status", async (i) => void (await client.transport.request("PATCH", path(i), { verb: "patch", resource: "jobs/status", body: [{ op: "add", path: "/status", value: finalStatus(i) }], contentType: "application/json-patch+json", query: { fieldManager: "hearth-job-controller" } }))],
  ];
  const order = round % 2 === 0 ? kinds : [...kinds].reverse();
  for (const [k, [label, fn]] of order.entries()) await measure(label, N, (i) => fn(k * N + i), idle);
  await measure("POST event", N, async (i) => {
    await client.create(events, {
      metadata: { name: `${name(i)}.${Date.now().toString(16)}${i}`, namespace: ns },
      involvedObject: { apiVersion: "hearth.dev/v1alpha1", kind: "Job", name: name(i), namespace: ns },
      reason: "Completed", message: "batch Job succeeded", type: "Normal", source: { component: "hearth-operator" },
      firstTimestamp: new Date().toISOString(), lastTimestamp: new Date().toISOString(), count: 1,
    });
  }, idle);
  await client.delete(namespaces, ns);
}
client.transport.close();
