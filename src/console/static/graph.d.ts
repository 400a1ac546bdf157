// Types of graph.js for the unit tests (the browser loads the .js as is).
export interface StepSpec {
  name: string;
  functionRef?: { name: string };
  next?: string[];
  routes?: string[];
  map?: boolean;
  accumulate?: unknown;
}
export interface GraphSpec {
  start?: string;
  steps?: StepSpec[];
}
export function layers(spec: GraphSpec): string[][];
export function edgesOf(spec: GraphSpec): { from: string; to: string; kind: "next" | "route" }[];
export function renderGraph(spec: GraphSpec, status?: Record<string, string>): string;
