// Fixtures for Functions: `aFunction("whisper").gpu({ split: 4 }).build()` gives a parsed
// HearthFunction (defaults applied); `.manifest()` gives what a user would apply.
import { API_VERSION } from "../../src/api/v1alpha1/common.ts";
import { hearthFunction, type FunctionSpecInput, type HearthFunction } from "../../src/api/v1alpha1/index.ts";

export class FunctionBuilder {
  private readonly name: string;
  private readonly namespace: string;
  private spec: FunctionSpecInput;
  private meta: { uid?: string; generation?: number; labels?: Record<string, string> } = {};
  private statusValue: unknown;

  constructor(name: string, namespace: string) {
    this.name = name;
    this.namespace = namespace;
    this.spec = { image: "registry.example.com/models/echo:1.0", handler: "app.model:Model" };
  }

  with(patch: Partial<FunctionSpecInput>): this {
    this.spec = { ...this.spec, ...patch };
    return this;
  }

  image(image: string): this {
    return this.with({ image });
  }

  handler(handler: string): this {
    return this.with({ handler });
  }

  gpu(gpu: NonNullable<FunctionSpecInput["gpu"]>): this {
    return this.with({ gpu });
  }

  warmPool(warmPool: NonNullable<FunctionSpecInput["warmPool"]>): this {
    return this.with({ warmPool });
  }

  replicas(minReplicas: number): this {
    return this.with({ warmPool: { minReplicas, maxReplicas: Math.max(10, minReplicas) } });
  }

  podAnnotations(annotations: Record<string, string>): this {
    return this.with({ podMetadata: { ...this.spec.podMetadata, annotations: { ...this.spec.podMetadata?.annotations, ...annotations } } });
  }

  uid(uid: string): this {
    this.meta.uid = uid;
    return this;
  }

  generation(generation: number): this {
    this.meta.generation = generation;
    return this;
  }

  status(status: unknown): this {
    this.statusValue = status;
    return this;
  }

  /** The object as applied by a user (no defaults). */
  manifest(): { apiVersion: string; kind: "Function"; metadata: { name: string; namespace: string; [k: string]: unknown }; spec: FunctionSpecInput; status?: unknown } {
    const m: ReturnType<FunctionBuilder["manifest"]> = {
      apiVersion: API_VERSION,
      kind: "Function",
      metadata: { name: this.name, namespace: this.namespace, ...this.meta },
      spec: structuredClone(this.spec),
    };
    if (this.statusValue !== undefined) m.status = structuredClone(this.statusValue);
    return m;
  }

  /** Parsed, with defaults, as controllers see it. */
  build(): HearthFunction {
    return hearthFunction.parse({ ...this.manifest(), metadata: { uid: "uid-1", generation: 1, ...this.manifest().metadata } });
  }
}

export function aFunction(name = "echo", namespace = "default"): FunctionBuilder {
  return new FunctionBuilder(name, namespace);
}
