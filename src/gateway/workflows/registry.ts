// The Workflows the gateway can run: a static list (tests, benches, `hearth gateway --functions`)
// or the cluster's Workflow objects (an informer). Each is compiled once per resourceVersion:
// its graph and the graph issues that make it unrunnable.
import type { Logger } from "pino";
import { workflow, type WorkflowSpec } from "../../api/v1alpha1/index.ts";
import type { Clock } from "../../kube/clock.ts";
import type { KubeClient } from "../../kube/client.ts";
import { Informer } from "../../kube/informer.ts";
import type { Unstructured } from "../../kube/objects.ts";
import { hearthWorkflows } from "../../kube/resources.ts";
import { analyze, type Graph, type GraphIssue } from "../../workflow/graph.ts";

export interface CompiledWorkflow {
  namespace: string;
  name: string;
  spec: WorkflowSpec;
  graph: Graph | undefined;
  issues: GraphIssue[];
}

export interface WorkflowRegistry {
  get(namespace: string, name: string): CompiledWorkflow | undefined;
  start(): Promise<void>;
  stop(): void;
}

export function compile(namespace: string, name: string, spec: WorkflowSpec): CompiledWorkflow {
  const { graph, issues } = analyze(spec);
  return { namespace, name, spec, graph, issues };
}

export class StaticWorkflowRegistry implements WorkflowRegistry {
  private readonly wfs = new Map<string, CompiledWorkflow>();

  constructor(wfs: readonly CompiledWorkflow[] = []) {
    for (const w of wfs) this.set(w);
  }

  set(w: CompiledWorkflow): void {
    this.wfs.set(`${w.namespace}/${w.name}`, w);
  }

  get(namespace: string, name: string): CompiledWorkflow | undefined {
    return this.wfs.get(`${namespace}/${name}`);
  }

  async start(): Promise<void> {}
  stop(): void {}
}

/** Workflow manifests (parsed YAML/JSON documents) → compiled workflows; throws on invalid ones. */
export function workflowsFromManifests(docs: readonly unknown[]): CompiledWorkflow[] {
  return docs
    .filter((d) => typeof d === "object" && d !== null && (d as Record<string, unknown>)["kind"] === "Workflow")
    .map((d) => {
      const w = workflow.parse(d);
      return compile(w.metadata.namespace ?? "default", w.metadata.name, w.spec);
    });
}

export class KubeWorkflowRegistry implements WorkflowRegistry {
  /** Shared with the console's catalog (src/gateway/catalog.ts): one watch of Workflows. */
  readonly informer: Informer<Unstructured>;
  private readonly log: Logger;
  private readonly parsed = new Map<string, { rv: string | undefined; compiled: CompiledWorkflow | undefined }>();

  constructor(opts: { client: KubeClient; clock: Clock; logger: Logger; namespaces?: readonly string[] }) {
    this.log = opts.logger;
    this.informer = new Informer({ client: opts.client, resource: hearthWorkflows, clock: opts.clock, logger: opts.logger, namespaces: opts.namespaces, name: "gateway-workflows" });
    this.informer.on({ delete: (obj) => this.parsed.delete(`${obj.metadata.namespace ?? ""}/${obj.metadata.name}`) });
  }

  get(namespace: string, name: string): CompiledWorkflow | undefined {
    const obj = this.informer.getByName(namespace, name);
    if (obj === undefined) return undefined;
    const key = `${namespace}/${name}`;
    const rv = obj.metadata.resourceVersion;
    const hit = this.parsed.get(key);
    if (hit !== undefined && hit.rv === rv) return hit.compiled;
    const result = workflow.safeParse(obj);
    const compiled = result.success ? compile(namespace, name, result.data.spec) : undefined;
    if (!result.success) this.log.warn({ workflow: key, issues: result.error.issues.slice(0, 3) }, "Workflow spec does not parse; the gateway treats it as unknown");
    this.parsed.set(key, { rv, compiled });
    return compiled;
  }

  async start(): Promise<void> {
    this.informer.start();
    await this.informer.waitForSync();
  }

  stop(): void {
    void this.informer.stop();
  }
}
