// The read-only routes behind the web console and `hearth list/describe` (docs/protocol.md,
// "Console API"), and the console itself: static files from src/console/static, served at `/`.
// One hook in server.ts hands over every request it has no route for.
import { readFile } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { extname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";
import type { Authorizer, Resource } from "./authz.ts";
import type { Catalog, CatalogKind } from "./catalog.ts";
import type { Unstructured } from "../kube/objects.ts";
import { HttpError, queryOf, send } from "./http.ts";
import type { SignatureBook } from "./signatures.ts";
import type { TaskEngine } from "./tasks.ts";
import { functionDetail, functionSummary, jobView, readmeRef, runSummary, taskSummary, workflowView, type FunctionDetail, type RunSummary } from "./views.ts";
import type { WorkflowExecutor } from "./workflows/executor.ts";

export const CONSOLE_DIR = fileURLToPath(new URL("../console/static/", import.meta.url));

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
};

// The console loads nothing from elsewhere; a readme's images may be remote (https) or data URLs.
const CSP = "default-src 'self'; img-src 'self' data: https:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

export interface ConsoleApiOptions {
  engine: TaskEngine;
  catalog: Catalog;
  signatures: SignatureBook;
  authz: Authorizer;
  /** Workflow runs (GET …/workflows/{name}/runs); absent: every Workflow has no runs. */
  runs?: Pick<WorkflowExecutor, "recentRuns" | "stepCounts">;
  /** Where the static files are (default src/console/static). */
  staticDir?: string;
}

/** A route answered (status for the metrics), or undefined when the path is not ours. */
export type Handled = { route: "console"; status: number } | undefined;

export class ConsoleApi {
  private readonly o: ConsoleApiOptions;
  private readonly dir: string;

  constructor(opts: ConsoleApiOptions) {
    this.o = opts;
    this.dir = opts.staticDir ?? CONSOLE_DIR;
  }

  /** Answers the request when it is one of ours; throws HttpError for bad ones. */
  async handle(req: IncomingMessage, res: ServerResponse, path: string, url: string): Promise<Handled> {
    const method = req.method ?? "GET";
    if (method !== "GET" && method !== "HEAD") return undefined;
    if (path === "/" || path === "/index.html") return this.file(res, "index.html");
    if (path.startsWith("/console/")) return this.file(res, path.slice("/console/".length));
    const segs = path.split("/");
    if (segs[1] !== "v1") return undefined;
    if (segs.length === 3 && segs[2] === "functions") return this.json(res, async () => this.listFunctions(await this.visible(req, "Function", "functions")));
    // Jobs invoke Functions: whoever may list a namespace's Functions sees its Jobs.
    if (segs.length === 3 && segs[2] === "jobs") return this.json(res, async () => ({ jobs: (await this.visible(req, "Job", "functions")).map(jobView) }));
    if (segs.length === 3 && segs[2] === "workflows") return this.json(res, async () => ({ workflows: (await this.visible(req, "Workflow", "workflows")).map(workflowView) }));
    if (segs[2] === "namespaces" && segs[4] === "workflows" && segs[3] !== undefined && segs[5] !== undefined && segs.length === 7 && segs[6] === "runs") {
      const ns = decode(segs[3]);
      const name = decode(segs[5]);
      return this.json(res, async () => {
        await this.o.authz.authorize(req, { verb: "list", resource: "workflows", namespace: ns, name });
        return { runs: this.listRuns(ns, name, url) };
      });
    }
    if (segs[2] === "namespaces" && segs[4] === "functions" && segs[3] !== undefined && segs[5] !== undefined && !segs[5].includes(":")) {
      const ns = decode(segs[3]);
      const name = decode(segs[5]);
      if (segs.length === 6) {
        return this.json(res, async () => {
          await this.o.authz.authorize(req, { verb: "get", resource: "functions", namespace: ns, name });
          return this.getFunction(ns, name);
        });
      }
      if (segs.length === 7 && segs[6] === "tasks") {
        return this.json(res, async () => {
          await this.o.authz.authorize(req, { verb: "list", resource: "tasks", namespace: ns, name });
          return this.listTasks(ns, name, url);
        });
      }
    }
    return undefined;
  }

  private async json(res: ServerResponse, body: () => Promise<unknown>): Promise<Handled> {
    const doc = await body();
    send(res, 200, JSON.stringify(doc), "application/json", { "cache-control": "no-store" });
    return { route: "console", status: 200 };
  }

  /** The objects of a kind in the namespaces the caller may list, sorted by namespace/name (401 without an identity). */
  private async visible(req: IncomingMessage, kind: CatalogKind, resource: Resource): Promise<Unstructured[]> {
    const caller = await this.o.authz.authenticate(req);
    const may = new Map<string, Promise<boolean>>();
    const all = [...this.o.catalog.list(kind)].sort((a, b) => `${a.metadata.namespace ?? ""}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace ?? ""}/${b.metadata.name}`));
    const shown = await Promise.all(
      all.map((obj) => {
        const namespace = obj.metadata.namespace ?? "default";
        let p = may.get(namespace);
        if (p === undefined) {
          p = this.o.authz.permits(caller, { verb: "list", resource, namespace });
          may.set(namespace, p);
        }
        return p;
      }),
    );
    return all.filter((_, i) => shown[i] === true);
  }

  private listFunctions(objects: readonly Unstructured[]): unknown {
    const functions = objects.map((obj) => {
      const ns = obj.metadata.namespace ?? "default";
      return functionSummary(obj, this.o.engine.stats(ns, obj.metadata.name), this.o.signatures.get(ns, obj.metadata.name));
    });
    return { functions };
  }

  private async getFunction(ns: string, name: string): Promise<FunctionDetail> {
    const obj = this.o.catalog.get("Function", ns, name);
    if (obj === undefined) throw new HttpError(404, "NotFound", `function ${ns}/${name} not found`);
    const ref = readmeRef(obj);
    let readme: FunctionDetail["readme"] = { source: "none" };
    if (ref !== undefined && "inline" in ref) readme = { source: "inline", markdown: ref.inline };
    else if (ref !== undefined) {
      try {
        const text = await this.o.catalog.configMapKey(ns, ref.configMap.name, ref.configMap.key);
        readme = text === undefined ? { source: "configMap", error: `ConfigMap ${ns}/${ref.configMap.name} has no key ${ref.configMap.key}` } : { source: "configMap", markdown: text };
      } catch (err) {
        readme = { source: "configMap", error: `cannot read ConfigMap ${ns}/${ref.configMap.name}: ${err instanceof Error ? err.message : String(err)}` };
      }
    }
    return functionDetail(obj, this.o.engine.stats(ns, name), this.o.signatures.get(ns, name), readme);
  }

  private listTasks(ns: string, name: string, url: string): unknown {
    if (this.o.catalog.get("Function", ns, name) === undefined) throw new HttpError(404, "NotFound", `function ${ns}/${name} not found`);
    const limit = limitOf(url, 20);
    return { tasks: this.o.engine.recentTasks(ns, name, limit).map(taskSummary) };
  }

  private listRuns(ns: string, name: string, url: string): RunSummary[] {
    if (this.o.catalog.get("Workflow", ns, name) === undefined) throw new HttpError(404, "NotFound", `workflow ${ns}/${name} not found`);
    const limit = limitOf(url, 10);
    return (this.o.runs?.recentRuns(ns, name, limit) ?? []).map((run) => runSummary(run, this.o.runs?.stepCounts(run) ?? {}));
  }

  private async file(res: ServerResponse, rel: string): Promise<Handled> {
    const path = normalize(join(this.dir, rel));
    const type = TYPES[extname(path)];
    if (!path.startsWith(this.dir.endsWith(sep) ? this.dir : this.dir + sep) || type === undefined) return this.notFoundPage(res);
    let body: Buffer;
    try {
      body = await readFile(path);
    } catch {
      return this.notFoundPage(res);
    }
    send(res, 200, body, type, { "content-security-policy": CSP, "x-content-type-options": "nosniff", "cache-control": "no-cache", "referrer-policy": "no-referrer" });
    return { route: "console", status: 200 };
  }

  private notFoundPage(res: ServerResponse): Handled {
    const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Not found · Hearth</title><link rel="stylesheet" href="/console/style.css"></head><body><main class="page"><h1>Not found</h1><p>There is no such page. <a href="/">Back to the console</a>.</p></main></body></html>`;
    send(res, 404, html, "text/html; charset=utf-8", { "content-security-policy": CSP });
    return { route: "console", status: 404 };
  }
}

/** `?limit=` from 1 to 500 (400 otherwise). */
function limitOf(url: string, fallback: number): number {
  const raw = queryOf(url).get("limit") ?? String(fallback);
  const limit = Number(raw);
  if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new HttpError(400, "BadRequest", `limit must be an integer from 1 to 500, got ${JSON.stringify(raw)}`);
  return limit;
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new HttpError(400, "BadRequest", `malformed path segment ${JSON.stringify(s.slice(0, 100))}`);
  }
}
