// bench/heap-summary: what holds the memory of a V8 heap snapshot (`--heapsnapshot-signal`, or
// bench/reconcile's --heap-snapshots). Computes the dominator tree (weak edges ignored, as
// DevTools does) and prints:
//   - retained size by constructor (the objects no other object of the same name dominates),
//   - the largest retainers with the property path that holds them,
//   - for each object of a --class (default: Informer, Map-holding controllers), the retained size
//     behind each of its properties.
//
//   node bench/heap-summary.ts /tmp/snap/operator-1000.heapsnapshot [--top 40] [--class Informer,WorkQueue]
//   node bench/heap-summary.ts idle.heapsnapshot --per 1000 n.heapsnapshot   (difference per object)
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: unknown[]; edge_fields: string[]; edge_types: unknown[] } };
  nodes: number[];
  edges: number[];
  strings: string[];
}

export interface Heap {
  count: number;
  names: string[];
  /** Per node: type name, name, self size, first edge, edge count. */
  type: string[];
  name: Uint32Array;
  self: Float64Array;
  firstEdge: Uint32Array;
  edgeCount: Uint32Array;
  edgeType: string[];
  edgeName: (string | number)[];
  edgeTo: Uint32Array;
  retained: Float64Array;
  dominator: Int32Array;
}

export function loadHeap(file: string): Heap {
  const snap = JSON.parse(readFileSync(file, "utf8")) as Snapshot;
  const nf = snap.snapshot.meta.node_fields;
  const ef = snap.snapshot.meta.edge_fields;
  const nodeTypes = snap.snapshot.meta.node_types[0] as string[];
  const edgeTypes = snap.snapshot.meta.edge_types[0] as string[];
  const NF = nf.length;
  const EF = ef.length;
  const [iType, iName, iSelf, iEdges] = ["type", "name", "self_size", "edge_count"].map((f) => nf.indexOf(f)) as [number, number, number, number];
  const [eType, eName, eTo] = ["type", "name_or_index", "to_node"].map((f) => ef.indexOf(f)) as [number, number, number];
  const count = snap.nodes.length / NF;
  const type: string[] = new Array<string>(count);
  const name = new Uint32Array(count);
  const self = new Float64Array(count);
  const firstEdge = new Uint32Array(count);
  const edgeCount = new Uint32Array(count);
  let e = 0;
  for (let i = 0; i < count; i++) {
    type[i] = nodeTypes[snap.nodes[i * NF + iType] ?? 0] ?? "?";
    name[i] = snap.nodes[i * NF + iName] ?? 0;
    self[i] = snap.nodes[i * NF + iSelf] ?? 0;
    firstEdge[i] = e;
    edgeCount[i] = snap.nodes[i * NF + iEdges] ?? 0;
    e += edgeCount[i] ?? 0;
  }
  const edges = snap.edges.length / EF;
  const edgeType: string[] = new Array<string>(edges);
  const edgeName: (string | number)[] = new Array<string | number>(edges);
  const edgeTo = new Uint32Array(edges);
  for (let j = 0; j < edges; j++) {
    const t = edgeTypes[snap.edges[j * EF + eType] ?? 0] ?? "?";
    edgeType[j] = t;
    const n = snap.edges[j * EF + eName] ?? 0;
    edgeName[j] = t === "element" || t === "hidden" ? n : (snap.strings[n] ?? "?");
    edgeTo[j] = (snap.edges[j * EF + eTo] ?? 0) / NF;
  }
  const heap: Heap = { count, names: snap.strings, type, name, self, firstEdge, edgeCount, edgeType, edgeName, edgeTo, retained: new Float64Array(count), dominator: new Int32Array(count) };
  dominate(heap);
  return heap;
}

/** Cooper–Harvey–Kennedy on the reverse post-order from the root (node 0), weak edges ignored. */
function dominate(h: Heap): void {
  const n = h.count;
  const order = new Int32Array(n).fill(-1); // post-order index
  const post: number[] = [];
  const stack: number[] = [0];
  const next = new Uint32Array(n); // next edge to visit
  const visited = new Uint8Array(n);
  visited[0] = 1;
  while (stack.length > 0) {
    const v = stack[stack.length - 1] ?? 0;
    const end = (h.firstEdge[v] ?? 0) + (h.edgeCount[v] ?? 0);
    let pushed = false;
    while ((h.firstEdge[v] ?? 0) + (next[v] ?? 0) < end) {
      const j = (h.firstEdge[v] ?? 0) + (next[v] ?? 0);
      next[v] = (next[v] ?? 0) + 1;
      if (h.edgeType[j] === "weak") continue;
      const w = h.edgeTo[j] ?? 0;
      if (visited[w] === 1) continue;
      visited[w] = 1;
      stack.push(w);
      pushed = true;
      break;
    }
    if (!pushed) {
      stack.pop();
      order[v] = post.length;
      post.push(v);
    }
  }
  // Predecessors of reachable nodes.
  const predCount = new Uint32Array(n);
  for (let v = 0; v < n; v++) {
    if (visited[v] !== 1) continue;
    for (let j = h.firstEdge[v] ?? 0, end = j + (h.edgeCount[v] ?? 0); j < end; j++) if (h.edgeType[j] !== "weak") predCount[h.edgeTo[j] ?? 0] = (predCount[h.edgeTo[j] ?? 0] ?? 0) + 1;
  }
  const predStart = new Uint32Array(n + 1);
  for (let v = 0; v < n; v++) predStart[v + 1] = (predStart[v] ?? 0) + (predCount[v] ?? 0);
  const preds = new Uint32Array(predStart[n] ?? 0);
  const fill = predStart.slice(0, n);
  for (let v = 0; v < n; v++) {
    if (visited[v] !== 1) continue;
    for (let j = h.firstEdge[v] ?? 0, end = j + (h.edgeCount[v] ?? 0); j < end; j++) {
      if (h.edgeType[j] === "weak") continue;
      const w = h.edgeTo[j] ?? 0;
      preds[fill[w] ?? 0] = v;
      fill[w] = (fill[w] ?? 0) + 1;
    }
  }
  const idom = new Int32Array(n).fill(-1); // in post-order numbering
  const root = order[0] ?? 0;
  idom[root] = root;
  const intersect = (a: number, b: number): number => {
    while (a !== b) {
      while (a < b) a = idom[a] ?? 0;
      while (b < a) b = idom[b] ?? 0;
    }
    return a;
  };
  for (let changed = true; changed; ) {
    changed = false;
    for (let k = post.length - 2; k >= 0; k--) {
      const v = post[k] ?? 0;
      let dom = -1;
      for (let p = predStart[v] ?? 0; p < (predStart[v + 1] ?? 0); p++) {
        const u = order[preds[p] ?? 0] ?? -1;
        if (u < 0 || idom[u] === -1) continue;
        dom = dom === -1 ? u : intersect(u, dom);
      }
      if (dom !== -1 && idom[k] !== dom) {
        idom[k] = dom;
        changed = true;
      }
    }
  }
  h.dominator.fill(-1);
  for (let k = 0; k < post.length; k++) h.dominator[post[k] ?? 0] = post[idom[k] ?? 0] ?? 0;
  // Post-order: children before parents.
  for (let k = 0; k < post.length; k++) {
    const v = post[k] ?? 0;
    h.retained[v] = (h.retained[v] ?? 0) + (h.self[v] ?? 0);
    const d = h.dominator[v] ?? -1;
    if (v !== 0 && d >= 0) h.retained[d] = (h.retained[d] ?? 0) + (h.retained[v] ?? 0);
  }
}

const mib = (b: number): string => (b / 1048576).toFixed(2).padStart(8);

export function label(h: Heap, v: number): string {
  const t = h.type[v] ?? "?";
  const nm = h.names[h.name[v] ?? 0] ?? "?";
  return t === "object" || t === "closure" ? nm : `(${t}) ${nm.slice(0, 60)}`;
}

function summary(file: string, top: number, classes: string[]): void {
  const h = loadHeap(file);
  let total = 0;
  for (let v = 0; v < h.count; v++) total += h.self[v] ?? 0;
  console.log(`${file}: ${h.count} nodes, ${mib(total)} MiB self total`);
  // Retained by constructor: objects whose dominator chain has no object of the same label.
  const byLabel = new Map<string, { retained: number; self: number; count: number }>();
  for (let v = 0; v < h.count; v++) {
    if ((h.dominator[v] ?? -1) < 0) continue;
    const l = label(h, v);
    const s = byLabel.get(l) ?? { retained: 0, self: 0, count: 0 };
    s.self += h.self[v] ?? 0;
    s.count++;
    let d = h.dominator[v] ?? 0;
    let nested = false;
    while (d !== 0 && d >= 0) {
      if (label(h, d) === l) {
        nested = true;
        break;
      }
      d = h.dominator[d] ?? 0;
    }
    if (!nested) s.retained += h.retained[v] ?? 0;
    byLabel.set(l, s);
  }
  console.log(`\nby constructor (top ${top} by self size):   self MiB  retained MiB   count`);
  for (const [l, s] of [...byLabel].sort((a, b) => b[1].self - a[1].self).slice(0, top)) console.log(`${mib(s.self)} ${mib(s.retained)} ${String(s.count).padStart(9)}  ${l}`);
  // One retaining edge per node (the first non-weak one from its dominator, else any).
  const retainers = new Map<number, number>();
  for (let u = 0; u < h.count; u++)
    for (let j = h.firstEdge[u] ?? 0, end = j + (h.edgeCount[u] ?? 0); j < end; j++) {
      const w = h.edgeTo[j] ?? 0;
      if (h.edgeType[j] !== "weak" && (h.dominator[w] === u || (!retainers.has(w) && h.type[u] !== "synthetic"))) retainers.set(w, j);
    }
  const owners = new Uint32Array(h.edgeTo.length);
  for (let u = 0; u < h.count; u++) for (let j = h.firstEdge[u] ?? 0, end = j + (h.edgeCount[u] ?? 0); j < end; j++) owners[j] = u;
  const path = (v: number): string => {
    const parts: string[] = [];
    for (let x = v, i = 0; x !== 0 && i < 6; i++) {
      const j = retainers.get(x);
      if (j === undefined) break;
      parts.unshift(String(h.edgeName[j]));
      x = owners[j] ?? 0;
      if (h.type[x] === "synthetic") break;
      if (i === 5) parts.unshift(label(h, x));
    }
    return parts.join(".");
  };
  console.log(`\nlargest objects by retained size (objects ≥ 0.25 MiB, not counting their ancestors' overlap):`);
  const big: number[] = [];
  for (let v = 1; v < h.count; v++) if ((h.retained[v] ?? 0) >= 98304 && h.type[v] !== "synthetic") big.push(v);
  big.sort((a, b) => (h.retained[b] ?? 0) - (h.retained[a] ?? 0));
  for (const v of big.slice(0, top)) console.log(`${mib(h.retained[v] ?? 0)}  ${label(h, v).slice(0, 40).padEnd(40)} via ${path(v)}`);
  for (const cls of classes) {
    for (let v = 0; v < h.count; v++) {
      if (label(h, v) !== cls) continue;
      const props: string[] = [];
      for (let j = h.firstEdge[v] ?? 0, end = j + (h.edgeCount[v] ?? 0); j < end; j++) {
        const w = h.edgeTo[j] ?? 0;
        if (h.dominator[w] !== v || (h.retained[w] ?? 0) < 65536) continue;
        props.push(`${String(h.edgeName[j])} ${mib(h.retained[w] ?? 0).trim()}`);
      }
      let title = "";
      for (let j = h.firstEdge[v] ?? 0, end = j + (h.edgeCount[v] ?? 0); j < end; j++)
        if (h.edgeName[j] === "name" && h.type[h.edgeTo[j] ?? 0] === "string") title = h.names[h.name[h.edgeTo[j] ?? 0] ?? 0] ?? "";
      if ((h.retained[v] ?? 0) < 1024) continue;
      console.log(`\n${cls} ${title} #${v} retained ${mib(h.retained[v] ?? 0).trim()} MiB via ${path(v)}: ${props.join(", ")}`);
    }
  }
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: "string", default: "40" }, class: { type: "string", default: "Informer" } } });
  for (const file of positionals) summary(file, Number(values.top), values.class.split(",").filter((c) => c !== ""));
}
