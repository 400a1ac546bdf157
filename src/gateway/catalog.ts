// What the console and `hearth list/describe` show besides tasks: the Function, Job and Workflow
// objects (spec metadata and status) and readmes kept in ConfigMaps. From the cluster
// (informers; the Function informer is the registry's) or, for --functions mode and tests, from
// the manifests the gateway was given.
import type { Logger } from "pino";
import type { Clock } from "../kube/clock.ts";
import type { KubeClient } from "../kube/client.ts";
import { Informer } from "../kube/informer.ts";
import type { Unstructured } from "../kube/objects.ts";
import { hearthJobs, hearthWorkflows, untyped } from "../kube/resources.ts";

export type CatalogKind = "Function" | "Job" | "Workflow";

export interface Catalog {
  list(kind: CatalogKind): readonly Unstructured[];
  get(kind: CatalogKind, namespace: string, name: string): Unstructured | undefined;
  /** A ConfigMap key's text; undefined when the ConfigMap or key does not exist. Throws when it cannot be read. */
  configMapKey(namespace: string, name: string, key: string): Promise<string | undefined>;
  start(): Promise<void>;
  stop(): void;
}

const configMaps = untyped({ group: "", version: "v1", kind: "ConfigMap", plural: "configmaps", namespaced: true });

/** The manifests given to `hearth gateway --functions` (and ConfigMaps among them). */
export class StaticCatalog implements Catalog {
  private readonly docs: Unstructured[];

  constructor(docs: readonly unknown[]) {
    this.docs = docs.filter((d): d is Unstructured => typeof d === "object" && d !== null && typeof (d as Unstructured).metadata?.name === "string");
  }

  list(kind: CatalogKind): readonly Unstructured[] {
    return this.docs.filter((d) => d.kind === kind && (kind === "Function" || d.apiVersion === "hearth.dev/v1alpha1" || d.apiVersion === undefined));
  }

  get(kind: CatalogKind, namespace: string, name: string): Unstructured | undefined {
    return this.list(kind).find((d) => d.metadata.name === name && (d.metadata.namespace ?? "default") === namespace);
  }

  async configMapKey(namespace: string, name: string, key: string): Promise<string | undefined> {
    const cm = this.docs.find((d) => d.kind === "ConfigMap" && d.metadata.name === name && (d.metadata.namespace ?? "default") === namespace);
    const data = cm?.["data"];
    if (typeof data !== "object" || data === null) return undefined;
    const v = (data as Record<string, unknown>)[key];
    return typeof v === "string" ? v : undefined;
  }

  async start(): Promise<void> {}

  stop(): void {}
}

export interface KubeCatalogOptions {
  client: KubeClient;
  clock: Clock;
  logger: Logger;
  functions: Informer<Unstructured>;
  /** The workflow registry's informer, when the gateway has one. */
  workflows?: Informer<Unstructured>;
  namespaces?: readonly string[];
}

export class KubeCatalog implements Catalog {
  private readonly client: KubeClient;
  private readonly informers: Record<CatalogKind, Informer<Unstructured>>;
  private readonly owned: Informer<Unstructured>[];

  constructor(opts: KubeCatalogOptions) {
    this.client = opts.client;
    const make = (resource: typeof hearthJobs, name: string): Informer<Unstructured> =>
      new Informer({ client: opts.client, resource, clock: opts.clock, logger: opts.logger, namespaces: opts.namespaces, name });
    const jobs = make(hearthJobs, "gateway-console-jobs");
    const workflows = opts.workflows ?? make(hearthWorkflows, "gateway-console-workflows");
    this.owned = opts.workflows === undefined ? [jobs, workflows] : [jobs];
    this.informers = { Function: opts.functions, Job: jobs, Workflow: workflows };
  }

  list(kind: CatalogKind): readonly Unstructured[] {
    return this.informers[kind].list();
  }

  get(kind: CatalogKind, namespace: string, name: string): Unstructured | undefined {
    return this.informers[kind].getByName(namespace, name);
  }

  async configMapKey(namespace: string, name: string, key: string): Promise<string | undefined> {
    const cm = await this.client.get(configMaps, name, namespace);
    const data = cm?.["data"];
    if (typeof data !== "object" || data === null) return undefined;
    const v = (data as Record<string, unknown>)[key];
    return typeof v === "string" ? v : undefined;
  }

  async start(): Promise<void> {
    // Not awaited to sync: the console shows what has arrived; invocations never wait on these.
    for (const i of this.owned) i.start();
  }

  stop(): void {
    for (const i of this.owned) void i.stop();
  }
}
