// Informers several controllers read (Functions, say): created by the first controller that asks
// for a name, handed to the others, so one resource is listed, watched and cached once.
import type { Informer } from "../kube/informer.ts";
import type { KubeObject } from "../kube/objects.ts";
import type { ResourceType } from "../kube/resources.ts";

/** How the shared informer is made: the first caller's options count (callers share one wrapper in src/controllers/shared.ts). */
export interface SharedInformerOptions<T> {
  labelSelector?: string;
  indexers?: Record<string, (obj: T) => string[]>;
}

export type InformerFactory = <T extends KubeObject>(resource: ResourceType<T>, opts: { name: string } & SharedInformerOptions<T>) => Informer<T>;

export class SharedCaches {
  private readonly create: InformerFactory;
  private readonly byName = new Map<string, { resource: unknown; informer: unknown }>();

  constructor(create: InformerFactory) {
    this.create = create;
  }

  /**
   * The informer shared under `name`, created on first use. Every caller must pass the same
   * resource type (the same object: its schema decides what the cache keeps).
   */
  informer<T extends KubeObject>(name: string, resource: ResourceType<T>, opts: SharedInformerOptions<T> = {}): Informer<T> {
    const seen = this.byName.get(name);
    if (seen !== undefined) {
      if (seen.resource !== resource) throw new Error(`shared informer ${name} was created for another resource type`);
      // Same name, same resource object: the informer was created for this T.
      return seen.informer as Informer<T>;
    }
    const informer = this.create(resource, { name, ...opts });
    this.byName.set(name, { resource, informer });
    return informer;
  }

  get size(): number {
    return this.byName.size;
  }
}
