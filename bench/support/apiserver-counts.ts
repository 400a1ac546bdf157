// What the apiserver itself counted while a bench phase ran (its /metrics): requests by verb and
// resource from every client (the operator, the bench, kube-controller-manager, the scheduler,
// kwok) and watch events sent to every watcher, by resource. Counts, unlike seconds, do not
// depend on how loaded the machine is: the fair comparison of the work a side asks of the cluster.
// Leases are left out (node and leader heartbeats: they grow with the phase's duration, not its objects).
import type { Transport } from "../../src/kube/client.ts";
import { parseMetrics } from "../../test/support/operator.ts";

export interface ApiserverCounts {
  /** "VERB resource[/subresource]" → requests. */
  readonly requests: Map<string, number>;
  /** resource → watch events sent (each event once per watcher that received it). */
  readonly watchEvents: Map<string, number>;
}

/** Reads the counters now. */
export async function apiserverCounts(transport: Transport, signal: AbortSignal = AbortSignal.timeout(30_000)): Promise<ApiserverCounts> {
  const lines: string[] = [];
  await transport.lines("/metrics", { verb: "get", resource: "metrics" }, signal, (l) => {
    if (l.startsWith("apiserver_request_total{") || l.startsWith("apiserver_watch_events_total{")) lines.push(l);
  });
  return countsOf(parseMetrics(lines.join("\n")));
}

/** The counters of a parsed /metrics text (pure). */
export function countsOf(metrics: ReturnType<typeof parseMetrics>): ApiserverCounts {
  const requests = new Map<string, number>();
  for (const s of metrics.get("apiserver_request_total") ?? []) {
    const resource = s.labels["resource"] ?? "";
    // Non-resource paths (/healthz, /metrics, discovery) and heartbeats are not the phase's objects.
    if (resource === "" || resource === "leases") continue;
    const sub = s.labels["subresource"] ?? "";
    const key = `${s.labels["verb"] ?? "?"} ${resource}${sub === "" ? "" : `/${sub}`}`;
    requests.set(key, (requests.get(key) ?? 0) + s.value);
  }
  const watchEvents = new Map<string, number>();
  for (const s of metrics.get("apiserver_watch_events_total") ?? []) {
    const resource = s.labels["resource"] ?? s.labels["kind"] ?? "?";
    if (resource === "leases") continue;
    watchEvents.set(resource, (watchEvents.get(resource) ?? 0) + s.value);
  }
  return { requests, watchEvents };
}

/** after − before, dropping what did not change. */
export function countsSince(before: ApiserverCounts, after: ApiserverCounts): ApiserverCounts {
  const diff = (a: Map<string, number>, b: Map<string, number>): Map<string, number> =>
    new Map([...b].map(([k, v]) => [k, v - (a.get(k) ?? 0)] as const).filter(([, v]) => v > 0));
  return { requests: diff(before.requests, after.requests), watchEvents: diff(before.watchEvents, after.watchEvents) };
}

const sum = (m: Map<string, number>): number => [...m.values()].reduce((a, b) => a + b, 0);

/** "writes W, reads R, watch events E per <what>" and the biggest entries of each, per object. */
export function formatCounts(c: ApiserverCounts, objects: number, what: string, top = 8): string {
  const isWrite = (k: string): boolean => /^(POST|PUT|PATCH|DELETE|APPLY|CREATE|UPDATE) /.test(k);
  const writes = new Map([...c.requests].filter(([k]) => isWrite(k)));
  const reads = new Map([...c.requests].filter(([k]) => !isWrite(k)));
  const per = (n: number): string => (n / objects).toFixed(2);
  const list = (m: Map<string, number>): string =>
    [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, v]) => `${k} ${per(v)}`).join(", ");
  return (
    `apiserver requests per ${what}: writes ${per(sum(writes))} (${list(writes)}); reads ${per(sum(reads))} (${list(reads)}); ` +
    `watch events sent per ${what}: ${per(sum(c.watchEvents))} (${list(c.watchEvents)})`
  );
}

/** Totals per object: writes, all requests, watch events. */
export function countTotals(c: ApiserverCounts, objects: number): { writes: number; requests: number; watchEvents: number } {
  const writes = [...c.requests].filter(([k]) => /^(POST|PUT|PATCH|DELETE|APPLY|CREATE|UPDATE) /.test(k)).reduce((a, [, v]) => a + v, 0);
  return { writes: writes / objects, requests: sum(c.requests) / objects, watchEvents: sum(c.watchEvents) / objects };
}
