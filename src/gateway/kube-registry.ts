// Function settings from the cluster: an informer over hearth.dev Functions (src/kube). A
// Function whose spec does not parse is unknown to the gateway (404), as it is to the operator,
// which reports why on the object's status.
import type { Logger } from "pino";
import { hearthFunction } from "../api/v1alpha1/index.ts";
import type { Clock } from "../kube/clock.ts";
import type { KubeClient } from "../kube/client.ts";
import { Informer } from "../kube/informer.ts";
import type { Unstructured } from "../kube/objects.ts";
import { hearthFunctions } from "../kube/resources.ts";
import { settingsOf, type FunctionRegistry, type FunctionSettings } from "./registry.ts";

export interface KubeRegistryOptions {
  client: KubeClient;
  clock: Clock;
  logger: Logger;
  /** Namespaces to watch; empty = all. */
  namespaces?: readonly string[];
}

export class KubeFunctionRegistry implements FunctionRegistry {
  readonly informer: Informer<Unstructured>;
  private readonly log: Logger;
  // Parsing a spec per call would cost more than the call's routing: cache by resourceVersion.
  private readonly parsed = new Map<string, { rv: string | undefined; settings: FunctionSettings | undefined }>();

  constructor(opts: KubeRegistryOptions) {
    this.log = opts.logger;
    this.informer = new Informer({ client: opts.client, resource: hearthFunctions, clock: opts.clock, logger: opts.logger, namespaces: opts.namespaces, name: "gateway-functions" });
    this.informer.on({ delete: (obj) => this.parsed.delete(`${obj.metadata.namespace ?? ""}/${obj.metadata.name}`) });
  }

  get(namespace: string, name: string): FunctionSettings | undefined {
    const obj = this.informer.getByName(namespace, name);
    const key = `${namespace}/${name}`;
    if (obj === undefined) return undefined;
    const rv = obj.metadata.resourceVersion;
    const hit = this.parsed.get(key);
    if (hit !== undefined && hit.rv === rv) return hit.settings;
    const result = hearthFunction.safeParse(obj);
    const parsedSettings = result.success ? settingsOf(result.data) : undefined;
    const settings = parsedSettings !== undefined && obj.metadata.deletionTimestamp !== undefined ? { ...parsedSettings, deleting: true as const } : parsedSettings;
    if (!result.success) this.log.warn({ function: key, issues: result.error.issues.slice(0, 3) }, "Function spec does not parse; the gateway treats it as unknown");
    this.parsed.set(key, { rv, settings });
    return settings;
  }

  keys(): Iterable<string> {
    return this.informer.keys();
  }

  async start(): Promise<void> {
    this.informer.start();
    await this.informer.waitForSync();
  }

  stop(): void {
    void this.informer.stop();
  }
}
