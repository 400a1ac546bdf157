// A Workflow drawn as SVG: steps in columns by distance from `start`, `next` edges solid,
// `routes` edges dashed, map and accumulate steps marked. Pure: spec in, SVG text out.
import { escapeHtml } from "./markdown.js";

const W = 170;
const H = 62;
const GAP_X = 70;
const GAP_Y = 26;

/** Columns of step names: BFS depth from start; unreachable steps in a last column. */
export function layers(spec) {
  const steps = Array.isArray(spec.steps) ? spec.steps : [];
  const byName = new Map(steps.map((s) => [s.name, s]));
  const depth = new Map();
  const queue = [];
  if (byName.has(spec.start)) {
    depth.set(spec.start, 0);
    queue.push(spec.start);
  }
  while (queue.length > 0) {
    const name = queue.shift();
    const s = byName.get(name);
    for (const n of [...(s.next ?? []), ...(s.routes ?? [])]) {
      if (byName.has(n) && !depth.has(n)) {
        depth.set(n, depth.get(name) + 1);
        queue.push(n);
      }
    }
  }
  const last = Math.max(-1, ...depth.values()) + 1;
  const cols = [];
  for (const s of steps) {
    const d = depth.has(s.name) ? depth.get(s.name) : last;
    (cols[d] ??= []).push(s.name);
  }
  return cols.filter((c) => c !== undefined);
}

export function edgesOf(spec) {
  const steps = Array.isArray(spec.steps) ? spec.steps : [];
  return steps.flatMap((s) => [...(s.next ?? []).map((to) => ({ from: s.name, to, kind: "next" })), ...(s.routes ?? []).map((to) => ({ from: s.name, to, kind: "route" }))]);
}

/** `status`: optional map step name → "succeeded" | "running" | "failed" | … (a run's steps). */
export function renderGraph(spec, status = {}) {
  const cols = layers(spec);
  const pos = new Map();
  const rows = Math.max(1, ...cols.map((c) => c.length));
  cols.forEach((col, x) => {
    const offset = ((rows - col.length) * (H + GAP_Y)) / 2;
    col.forEach((name, y) => pos.set(name, { x: 20 + x * (W + GAP_X), y: 20 + offset + y * (H + GAP_Y) }));
  });
  const width = 40 + cols.length * W + Math.max(0, cols.length - 1) * GAP_X;
  const height = 40 + rows * H + (rows - 1) * GAP_Y;
  const steps = new Map((spec.steps ?? []).map((s) => [s.name, s]));
  const parts = [];
  for (const e of edgesOf(spec)) {
    const a = pos.get(e.from);
    const b = pos.get(e.to);
    if (a === undefined || b === undefined) continue;
    const x1 = a.x + W;
    const y1 = a.y + H / 2;
    const x2 = b.x;
    const y2 = b.y + H / 2;
    const back = x2 <= x1;
    const d = back ? `M${a.x + W / 2},${a.y + H} C${a.x + W / 2},${a.y + H + 40} ${b.x + W / 2},${b.y + H + 40} ${b.x + W / 2},${b.y + H}` : `M${x1},${y1} C${x1 + GAP_X / 2},${y1} ${x2 - GAP_X / 2},${y2} ${x2},${y2}`;
    parts.push(`<path class="edge ${e.kind}" d="${d}" marker-end="url(#arrow)"><title>${escapeHtml(`${e.from} → ${e.to}${e.kind === "route" ? " (route)" : ""}`)}</title></path>`);
  }
  for (const [name, p] of pos) {
    const s = steps.get(name) ?? {};
    const marks = [s.map ? "map" : "", s.accumulate ? "accumulate" : "", s.routes ? "routes" : "", name === spec.start ? "start" : ""].filter((m) => m !== "");
    const st = typeof status[name] === "string" ? status[name] : "";
    parts.push(
      `<g class="step ${st ? `status-${escapeHtml(st)}` : ""} ${name === spec.start ? "start" : ""}" transform="translate(${p.x},${p.y})">` +
        `<rect width="${W}" height="${H}" rx="8"></rect>` +
        `<text x="10" y="20" class="name">${escapeHtml(name)}</text>` +
        `<text x="10" y="37" class="fn">${escapeHtml(s.functionRef?.name ?? "")}${marks.length ? ` · ${escapeHtml(marks.join(", "))}` : ""}</text>` +
        (st ? `<text x="10" y="54" class="state">${escapeHtml(st)}</text>` : "") +
        `</g>`,
    );
  }
  const label = `Workflow graph: ${(spec.steps ?? []).length} steps, starting at ${spec.start ?? "?"}`;
  return (
    `<svg class="graph" role="img" aria-label="${escapeHtml(label)}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" xmlns="http://www.w3.org/2000/svg">` +
    `<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"></path></marker></defs>` +
    parts.join("") +
    `</svg>`
  );
}
