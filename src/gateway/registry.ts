// The per-Function settings the gateway needs, and where they come from: a static list (tests,
// benches, dev) or the Kubernetes Function objects (kube-registry.ts).
import { createHash } from "node:crypto";
import { DEFAULT_RETRY_POLICY, type Encoding, type RetryPolicy } from "../protocol/index.ts";
import { hearthFunction, type HearthFunction } from "../api/v1alpha1/index.ts";

export interface FunctionSettings {
  namespace: string;
  name: string;
  /** The Function has a deletionTimestamp: new calls are refused (its finalizer cancels the rest). */
  deleting?: true;
  timeoutSeconds: number;
  retries: RetryPolicy;
  concurrency: number;
  encoding: Encoding;
  invocation: "warm" | "isolated";
  /** Set when the Function is `cacheable`: `identity` hashes the spec fields that change behaviour. */
  cache?: { identity: string } | undefined;
}

export interface FunctionRegistry {
  get(namespace: string, name: string): FunctionSettings | undefined;
  /** Every known Function as `namespace/name` (the gateway maps worker tokens to Functions with it). */
  keys(): Iterable<string>;
  /** Resolves once the registry can answer (an informer's first list). */
  start(): Promise<void>;
  stop(): void;
}

export function functionKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

export function settingsOf(fn: HearthFunction): FunctionSettings {
  const spec = fn.spec;
  return {
    namespace: fn.metadata.namespace ?? "default",
    name: fn.metadata.name,
    timeoutSeconds: spec.timeoutSeconds,
    retries: { ...spec.retries },
    concurrency: spec.concurrency,
    encoding: spec.encoding,
    invocation: spec.invocation,
    ...(spec.cacheable ? { cache: { identity: behaviourIdentity(fn) } } : {}),
  };
}

/**
 * What makes two calls with the same input give the same output: the code and its environment.
 * Scaling, retries, timeouts and metadata are left out, so changing them keeps the cache.
 */
export function behaviourIdentity(fn: HearthFunction): string {
  const s = fn.spec;
  const parts = { image: s.image, handler: s.handler, runtime: s.runtime, command: s.command, encoding: s.encoding, env: s.env, envFrom: s.envFrom, pythonPackages: s.pythonPackages };
  return createHash("sha256").update(`${fn.metadata.namespace ?? "default"}/${fn.metadata.name}\u0000${JSON.stringify(parts)}`).digest("base64url");
}

/** Settings with defaults for what is not given. */
export function staticFunction(init: Partial<FunctionSettings> & { namespace: string; name: string }): FunctionSettings {
  return {
    timeoutSeconds: 300,
    retries: { ...DEFAULT_RETRY_POLICY },
    concurrency: 1,
    encoding: "json",
    invocation: "warm",
    ...init,
  };
}

/** A fixed set of Functions: tests, benchmarks, `hearth gateway --functions file`. */
export class StaticRegistry implements FunctionRegistry {
  private readonly fns = new Map<string, FunctionSettings>();

  constructor(fns: readonly FunctionSettings[] = []) {
    for (const fn of fns) this.set(fn);
  }

  set(fn: FunctionSettings): void {
    this.fns.set(functionKey(fn.namespace, fn.name), fn);
  }

  delete(namespace: string, name: string): void {
    this.fns.delete(functionKey(namespace, name));
  }

  get(namespace: string, name: string): FunctionSettings | undefined {
    return this.fns.get(functionKey(namespace, name));
  }

  keys(): Iterable<string> {
    return this.fns.keys();
  }

  async start(): Promise<void> {}

  stop(): void {}
}

/** Function manifests (YAML/JSON documents already parsed) → settings; throws on invalid ones. */
export function settingsFromManifests(docs: readonly unknown[]): FunctionSettings[] {
  return docs
    .filter((d) => typeof d === "object" && d !== null && (d as Record<string, unknown>)["kind"] === "Function")
    .map((d) => settingsOf(hearthFunction.parse(d)));
}
