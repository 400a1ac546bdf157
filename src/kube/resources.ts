// Resource descriptors: where a kind lives on the apiserver and how to parse what comes back.
import { z } from "zod";
import { API_VERSION, GROUP, VERSION } from "../api/v1alpha1/common.ts";
import { deploymentView, podView, unstructuredView } from "./object-views.ts";
import { deployment, lease, pod, secret, unstructured, type KubeObject } from "./objects.ts";
import type { View, ViewResult } from "./views.ts";
import type { FieldPath } from "./elide.ts";
import { deploymentFromProtobuf } from "./deployment-protobuf.ts";
import { podFromProtobuf } from "./pod-protobuf.ts";

/** Decodes one object's protobuf bytes (buf[start..end], without the envelope) into its JSON shape. */
export type ProtobufDecoder = (buf: Buffer, start: number, end: number) => unknown;

export interface ResourceType<T extends KubeObject = KubeObject> {
  /** "" for the core group. */
  group: string;
  version: string;
  kind: string;
  plural: string;
  namespaced: boolean;
  /** Parses one object from the wire; fields not in the schema are dropped. */
  schema: z.ZodType<T>;
  /**
   * The same parse, hand-written (src/kube/views.ts): what informers and lists use for every
   * watch event and listed object when given. Must return what `schema` returns and reject what
   * it rejects (test/unit/kube-views.test.ts). `elide`: fields (paths inside the object) cut
   * out of each watch event before it is parsed (src/kube/elide.ts), ones the schema drops
   * anyway, so what is cached is the same; they are then not checked either, so cut only fields
   * the apiserver validates or nobody reads. Both are used only while `schema` is the one they
   * were written for: a descriptor spread with another schema (`{ ...pods, schema: slim }`)
   * parses all of every event by that schema until it gets its own (`withSchema`).
   * `protobuf`: watches ask for Kubernetes' protobuf and decode each object with it into the
   * JSON shape `parse` checks (protobuf.ts says why); it must yield every field `schema` reads.
   */
  view?: { schema: z.ZodType<T>; parse: View<T>; elide?: readonly FieldPath[]; protobuf?: ProtobufDecoder };
  /**
   * Lists and watches ask for PartialObjectMetadata only (the Accept header below): the
   * apiserver sends names, labels, annotations and owners, never data (a Secret's values stay
   * out of the process). Gets and writes are unaffected.
   */
  metadataOnly?: boolean;
}

/** Accept headers of a metadata-only list / watch (meta.k8s.io/v1 PartialObjectMetadata). */
export const METADATA_LIST_ACCEPT = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json";
export const METADATA_WATCH_ACCEPT = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json";

/** The resource's view, when it was made for its schema. */
export function viewOf<T extends KubeObject>(r: ResourceType<T>): ResourceType<T>["view"] {
  return r.view !== undefined && r.view.schema === r.schema ? r.view : undefined;
}

/** One object from the wire through the resource's view, or its schema when it has none. */
export function parseObject<T extends KubeObject>(r: ResourceType<T>, raw: unknown): ViewResult<T> {
  const view = viewOf(r);
  if (view !== undefined) return view.parse(raw);
  const res = r.schema.safeParse(raw);
  return res.success ? { ok: true, value: res.data } : { ok: false, error: z.prettifyError(res.error) };
}

export function apiVersionOf(r: { group: string; version: string }): string {
  return r.group === "" ? r.version : `${r.group}/${r.version}`;
}

export interface PathOptions {
  namespace?: string | undefined;
  name?: string | undefined;
  subresource?: string | undefined;
}

/** URL path of a collection, an object or a subresource. */
export function resourcePath(r: ResourceType<KubeObject>, opts: PathOptions = {}): string {
  const base = r.group === "" ? `/api/${r.version}` : `/apis/${r.group}/${r.version}`;
  const ns = r.namespaced && opts.namespace !== undefined ? `/namespaces/${encodeURIComponent(opts.namespace)}` : "";
  const name = opts.name !== undefined ? `/${encodeURIComponent(opts.name)}` : "";
  const sub = opts.name !== undefined && opts.subresource !== undefined ? `/${opts.subresource}` : "";
  return `${base}${ns}/${r.plural}${name}${sub}`;
}

export function resourceType<T extends KubeObject>(r: ResourceType<T>): ResourceType<T> {
  return r;
}

/**
 * The same resource parsed by another schema, with that schema's view and cut fields if given:
 * never the original's (they were made for its schema).
 */
export function withSchema<T extends KubeObject>(r: ResourceType<KubeObject>, schema: z.ZodType<T>, view?: { parse: View<T>; elide?: readonly FieldPath[]; protobuf?: ProtobufDecoder }): ResourceType<T> {
  const out: ResourceType<T> = { group: r.group, version: r.version, kind: r.kind, plural: r.plural, namespaced: r.namespaced, schema };
  if (r.metadataOnly !== undefined) out.metadataOnly = r.metadataOnly;
  if (view !== undefined) out.view = { schema, ...view };
  return out;
}

/** Cut from watch events of every kind whose schema drops them (ObjectMeta's managedFields). */
export const MANAGED_FIELDS: FieldPath = ["metadata", "managedFields"];

/** A descriptor keeping every field (`unstructured`), e.g. for kinds only written, never cached. */
export function untyped(r: Omit<ResourceType, "schema" | "view">): ResourceType<z.infer<typeof unstructured>> {
  return { ...r, schema: unstructured, view: { schema: unstructured, parse: unstructuredView, elide: [MANAGED_FIELDS] } };
}

export const deployments = resourceType({ group: "apps", version: "v1", kind: "Deployment", plural: "deployments", namespaced: true, schema: deployment, view: { schema: deployment, parse: deploymentView, elide: [["spec", "template"]], protobuf: deploymentFromProtobuf } });
export const pods = resourceType({ group: "", version: "v1", kind: "Pod", plural: "pods", namespaced: true, schema: pod, view: { schema: pod, parse: podView, elide: [MANAGED_FIELDS], protobuf: podFromProtobuf } });
export const secrets = resourceType({ group: "", version: "v1", kind: "Secret", plural: "secrets", namespaced: true, schema: secret });
export const leases = resourceType({ group: "coordination.k8s.io", version: "v1", kind: "Lease", plural: "leases", namespaced: true, schema: lease });
export const events = untyped({ group: "", version: "v1", kind: "Event", plural: "events", namespaced: true });
export const namespaces = untyped({ group: "", version: "v1", kind: "Namespace", plural: "namespaces", namespaced: false });
export const nodes = untyped({ group: "", version: "v1", kind: "Node", plural: "nodes", namespaced: false });
export const batchJobs = untyped({ group: "batch", version: "v1", kind: "Job", plural: "jobs", namespaced: true });
export const replicaSets = untyped({ group: "apps", version: "v1", kind: "ReplicaSet", plural: "replicasets", namespaced: true });

/** hearth.dev kinds, untyped at this layer: controllers parse specs themselves to report errors. */
export const hearthFunctions = untyped({ group: GROUP, version: VERSION, kind: "Function", plural: "functions", namespaced: true });
export const hearthJobs = untyped({ group: GROUP, version: VERSION, kind: "Job", plural: "jobs", namespaced: true });
export const hearthWorkflows = untyped({ group: GROUP, version: VERSION, kind: "Workflow", plural: "workflows", namespaced: true });

export { API_VERSION as HEARTH_API_VERSION };
