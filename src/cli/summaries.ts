// What `hearth list` and `hearth describe` print, from the gateway's console API documents
// (docs/protocol.md, "Console API"). Pure: documents in, text out.
import type { FunctionDetail, FunctionSummary, TaskSummary } from "../gateway/views.ts";

function gpuText(gpu: FunctionSummary["gpu"]): string {
  if (gpu === undefined) return "cpu";
  const what = gpu.type ?? "gpu";
  if (gpu.split !== undefined && gpu.split > 1) return `${what}/${gpu.split}`;
  return `${gpu.count ?? 1}x${what}`;
}

function readyText(fn: FunctionSummary): string {
  if (fn.ready === undefined) return "Unknown";
  return fn.ready.status === "True" ? (fn.ready.reason === "ScaledToZero" ? "ScaledToZero" : "True") : (fn.ready.reason ?? "False");
}

/** Columns padded to their widest cell; the last column is not padded. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join("  ").trimEnd()).join("\n");
}

function clip(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}

export function formatList(functions: readonly FunctionSummary[]): string {
  if (functions.length === 0) return "No Functions.";
  const rows = [["NAMESPACE", "NAME", "READY", "GPU", "WARM/BUSY", "QUEUE", "SIGNATURE", "TAGS", "DESCRIPTION"]];
  for (const f of functions) {
    rows.push([f.namespace, f.name, readyText(f), gpuText(f.gpu), `${f.warmWorkers}/${f.busyWorkers}`, String(f.queueDepth), f.signatureKnown ? "known" : "-", f.tags.join(",") || "-", clip(f.description ?? "", 60)]);
  }
  return table(rows);
}

function paramLine(name: string, schema: Record<string, unknown>, required: boolean): string {
  const type = Array.isArray(schema["enum"]) ? `one of ${schema["enum"].map((v) => JSON.stringify(v)).join(", ")}` : Array.isArray(schema["type"]) ? schema["type"].join(" | ") : typeof schema["type"] === "string" ? schema["type"] : "any";
  const format = typeof schema["format"] === "string" ? ` (${schema["format"]})` : "";
  const dflt = "default" in schema ? ` = ${JSON.stringify(schema["default"])}` : "";
  return `    ${name}${required ? "" : "?"}: ${type}${format}${dflt}`;
}

export function formatDescribe(fn: FunctionDetail, tasks: readonly TaskSummary[]): string {
  const lines: string[] = [];
  const kv = (k: string, v: string): void => void lines.push(`${`${k}:`.padEnd(14)}${v}`);
  kv("Name", `${fn.namespace}/${fn.name}`);
  if (fn.title !== fn.name) kv("Title", fn.title);
  if (fn.description !== undefined) kv("Description", fn.description);
  if (fn.tags.length > 0) kv("Tags", fn.tags.join(", "));
  if (fn.codeURL !== undefined) kv("Code", fn.codeURL);
  kv("Runtime", `${fn.runtime}, handler ${fn.handler ?? "?"}, invocation ${fn.invocation}`);
  if (fn.image !== undefined) kv("Image", fn.image);
  kv("Status", fn.ready === undefined ? "Unknown (not reconciled yet)" : `Ready=${fn.ready.status} ${fn.ready.reason ?? ""}${fn.ready.message ? `: ${fn.ready.message}` : ""}`);
  kv("GPU", fn.gpu === undefined ? "none (CPU)" : `${gpuText(fn.gpu)}${fn.gpu.fraction !== undefined ? `, ${fn.gpu.fraction} per worker` : ""}${fn.gpu.resource !== undefined ? ` via ${fn.gpu.resource} (${fn.gpu.strategy ?? "?"})` : ""}`);
  kv("Workers", `${fn.replicas.ready}/${fn.replicas.desired} ready (min ${fn.replicas.min ?? "?"}, max ${fn.replicas.max ?? "?"}); ${fn.warmWorkers} warm, ${fn.busyWorkers} busy`);
  kv("Queue", `${fn.queueDepth} queued, ${fn.inFlight} running`);
  if (fn.conditions.length > 0) {
    lines.push("Conditions:");
    lines.push(table([["  TYPE", "STATUS", "REASON", "MESSAGE"], ...fn.conditions.map((c) => [`  ${c.type}`, c.status, c.reason ?? "", clip(c.message ?? "", 100)])]));
  }
  const sig = fn.signature;
  if (sig.known && sig.inputSchema !== undefined) {
    lines.push(`Signature:    from ${sig.source ?? "?"}`);
    const props = sig.inputSchema["properties"];
    const required = new Set(Array.isArray(sig.inputSchema["required"]) ? (sig.inputSchema["required"] as unknown[]) : []);
    if (typeof props === "object" && props !== null) {
      for (const [name, schema] of Object.entries(props as Record<string, Record<string, unknown>>)) lines.push(paramLine(name, schema, required.has(name)));
    }
  } else {
    kv("Signature", sig.rejected !== undefined ? `rejected: ${sig.rejected}` : "unknown (no worker has finished setup() since the gateway started)");
  }
  if (fn.readme.markdown !== undefined) {
    const first = fn.readme.markdown.split("\n").filter((l) => l.trim() !== "").slice(0, 6);
    lines.push(`Readme:       (${fn.readme.source})`);
    for (const l of first) lines.push(`    ${clip(l, 100)}`);
  } else if (fn.readme.error !== undefined) {
    kv("Readme", fn.readme.error);
  }
  if (tasks.length === 0) lines.push("Recent tasks: none");
  else {
    lines.push("Recent tasks:");
    lines.push(
      table([
        ["  ID", "STATUS", "ATTEMPTS", "CREATED", "ERROR"],
        ...tasks.map((t) => [`  ${t.id}`, t.status + (t.progress !== undefined && t.status === "running" ? ` ${Math.round(t.progress.value * 100)}%` : ""), String(t.attempts), t.createdAt, t.error === undefined ? "" : clip(`${t.error.type}: ${t.error.message}`, 80)]),
      ]),
    );
  }
  return lines.join("\n");
}
