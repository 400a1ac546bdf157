// Create with POST, update with server-side apply. A POST is much cheaper for the apiserver than
// an apply that creates (bench/reconcile), but it records the new object's fields under the
// field manager's *Update* entry. A later apply by the same manager would then not remove a
// field it stops applying (that entry still owns it). So before the first apply to an object
// this manager created, its Update-owned fields are adopted into its Apply entry — the way
// client-go's csaupgrade moves client-side-apply ownership: one JSON patch of managedFields,
// guarded by the resourceVersion.
import { z } from "zod";
import type { JsonPatchOp, KubeClient } from "./client.ts";
import { isNotFound } from "./errors.ts";
import type { KubeObject } from "./objects.ts";
import { resourcePath, type ResourceType } from "./resources.ts";

export const managedFieldsEntry = z.looseObject({
  manager: z.string().optional(),
  operation: z.string().optional(),
  apiVersion: z.string().optional(),
  time: z.string().optional(),
  fieldsType: z.string().optional(),
  fieldsV1: z.unknown().optional(),
  subresource: z.string().optional(),
});
export type ManagedFieldsEntry = z.infer<typeof managedFieldsEntry>;

const liveMeta = z.looseObject({
  metadata: z.looseObject({ resourceVersion: z.string().optional(), managedFields: z.array(managedFieldsEntry).optional() }),
});

/** The union of two fieldsV1 sets (nested objects keyed "f:…", "k:…", "v:…", "i:…", "."). */
export function unionFields(a: unknown, b: unknown): unknown {
  if (typeof a !== "object" || a === null) return b ?? a;
  if (typeof b !== "object" || b === null) return a;
  const out: Record<string, unknown> = { ...(a as Record<string, unknown>) };
  for (const [k, v] of Object.entries(b as Record<string, unknown>)) out[k] = k in out ? unionFields(out[k], v) : v;
  return out;
}

/**
 * managedFields with `manager`'s Update entries (main resource, not a subresource) merged into
 * its Apply entry — made from the first of them when it has none; undefined when there is
 * nothing to adopt. Entries of another API version than the Apply entry's are left alone
 * (field sets do not merge across versions). Pure.
 */
export function planAdoption(entries: readonly ManagedFieldsEntry[], manager: string, now: string): ManagedFieldsEntry[] | undefined {
  const mine = (e: ManagedFieldsEntry): boolean => e.manager === manager && e.subresource === undefined;
  const updates = entries.filter((e) => mine(e) && e.operation === "Update");
  if (updates.length === 0) return undefined;
  const existing = entries.find((e) => mine(e) && e.operation === "Apply");
  const apiVersion = existing?.apiVersion ?? updates[0]?.apiVersion;
  const adopted = updates.filter((e) => e.apiVersion === apiVersion);
  if (adopted.length === 0) return undefined;
  let fields = existing?.fieldsV1;
  for (const e of adopted) fields = unionFields(fields, e.fieldsV1);
  const apply: ManagedFieldsEntry = { ...(existing ?? adopted[0]), manager, operation: "Apply", time: now, fieldsType: "FieldsV1", fieldsV1: fields };
  if (apiVersion !== undefined) apply.apiVersion = apiVersion;
  const out: ManagedFieldsEntry[] = [];
  let placed = false;
  for (const e of entries) {
    if (e === existing || adopted.includes(e)) {
      if (!placed) out.push(apply);
      placed = true;
    } else out.push(e);
  }
  return out;
}

/** The JSON patch that replaces managedFields, only if the object is still at `resourceVersion`. */
export function adoptionPatch(resourceVersion: string, managedFields: readonly ManagedFieldsEntry[]): JsonPatchOp[] {
  return [
    { op: "test", path: "/metadata/resourceVersion", value: resourceVersion },
    { op: "replace", path: "/metadata/managedFields", value: managedFields },
  ];
}

/**
 * Reads the object and, if `client`'s field manager owns fields of it through an Update (it
 * created the object with POST), moves them into its Apply entry. Resolves true when it patched,
 * false when there was nothing to adopt or no object; a concurrent change fails the patch (the
 * caller's reconcile retries).
 */
export async function adoptUpdatedFields(client: KubeClient, r: ResourceType<KubeObject>, name: string, namespace: string | undefined, now: string, signal?: AbortSignal): Promise<boolean> {
  let raw: unknown;
  try {
    raw = await client.transport.request("GET", resourcePath(r, { namespace, name }), { verb: "get", resource: r.plural, signal });
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
  const live = liveMeta.parse(raw);
  const next = planAdoption(live.metadata.managedFields ?? [], client.fieldManager, now);
  const rv = live.metadata.resourceVersion;
  if (next === undefined || rv === undefined) return false;
  await client.jsonPatch(r, name, namespace, adoptionPatch(rv, next), signal);
  return true;
}
