// Turns the zod schemas of src/api/v1alpha1 into structural CustomResourceDefinitions.
// zod 4's JSON Schema is close; the post-pass below removes what Kubernetes rejects in a
// structural schema ($ref, $defs, propertyNames, additionalProperties beside properties,
// numeric exclusive bounds) and maps our markers (quantities, arbitrary JSON) onto the
// x-kubernetes-* extensions.
import { z } from "zod";
import { GROUP, kinds, MAX_NAME_LENGTH, QUANTITY_PATTERN, VERSION, type KindInfo } from "./v1alpha1/index.ts";

export type JsonSchema = { [key: string]: unknown };

const DROPPED_KEYS = new Set(["$schema", "$defs", "$ref", "$id", "propertyNames", "id"]);

function isSchema(v: unknown): v is JsonSchema {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Rewrites one zod-emitted JSON Schema node (recursively) into a structural OpenAPI v3 schema. */
export function toStructural(node: JsonSchema): JsonSchema {
  if (node["x-kubernetes-preserve-unknown-fields"] === true) {
    const bounds = Object.fromEntries(
      ["maxLength", "maxItems", "maxProperties"].filter((k) => node[k] !== undefined).map((k) => [k, node[k]]),
    );
    return withDescription({ "x-kubernetes-preserve-unknown-fields": true, ...bounds }, node);
  }
  if (node["x-hearth-quantity"] === true) {
    return withDescription(
      {
        "x-kubernetes-int-or-string": true,
        anyOf: [{ type: "integer" }, { type: "string" }],
        pattern: QUANTITY_PATTERN,
      },
      node,
    );
  }
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(node)) {
    if (DROPPED_KEYS.has(key) || key.startsWith("x-hearth-")) continue;
    if (key === "additionalProperties" && (value === false || node["properties"] !== undefined)) continue;
    if ((key === "exclusiveMinimum" || key === "exclusiveMaximum") && typeof value === "number") {
      out[key === "exclusiveMinimum" ? "minimum" : "maximum"] = value;
      out[key] = true;
      continue;
    }
    if (key === "properties" && isSchema(value)) {
      out[key] = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, isSchema(v) ? toStructural(v) : v]));
    } else if ((key === "items" || key === "additionalProperties") && isSchema(value)) {
      out[key] = toStructural(value);
    } else {
      out[key] = value;
    }
  }
  // Integers: drop zod's safe-integer bounds, which only add noise to `kubectl explain`.
  if (out["type"] === "integer") {
    if (out["minimum"] === Number.MIN_SAFE_INTEGER) delete out["minimum"];
    if (out["maximum"] === Number.MAX_SAFE_INTEGER) delete out["maximum"];
  }
  return out;
}

function withDescription(out: JsonSchema, node: JsonSchema): JsonSchema {
  return typeof node["description"] === "string" ? { description: node["description"], ...out } : out;
}

export function schemaOf(type: z.ZodType, io: "input" | "output"): JsonSchema {
  return toStructural(z.toJSONSchema(type, { io, unrepresentable: "any", target: "draft-2020-12" }));
}

/** The CustomResourceDefinition of one kind, as a plain object ready for YAML. */
export function crdFor(info: KindInfo): JsonSchema {
  const plural = info.plural;
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: {
      name: `${plural}.${GROUP}`,
      labels: { "app.kubernetes.io/part-of": "hearth" },
    },
    spec: {
      group: GROUP,
      names: {
        kind: info.kind,
        listKind: `${info.kind}List`,
        plural,
        singular: info.singular,
        shortNames: info.shortNames,
        categories: ["hearth"],
      },
      scope: "Namespaced",
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: info.scale !== undefined ? { status: {}, scale: info.scale } : { status: {} },
          additionalPrinterColumns: info.printerColumns,
          schema: {
            openAPIV3Schema: {
              type: "object",
              description: `${info.kind} (${GROUP}/${VERSION}). See https://hearth.dev/docs/api#${info.singular}.`,
              required: ["spec"],
              properties: {
                apiVersion: { type: "string" },
                kind: { type: "string" },
                metadata: { type: "object" },
                spec: schemaOf(info.spec, "input"),
                status: schemaOf(info.status, "output"),
              },
              "x-kubernetes-validations": [
                {
                  rule: `size(self.metadata.name) <= ${MAX_NAME_LENGTH}`,
                  message: `metadata.name must be at most ${MAX_NAME_LENGTH} characters`,
                },
                ...(info.kind === "Job"
                  ? [{ rule: "self.spec == oldSelf.spec", message: "spec is immutable: create a new Job to invoke again" }]
                  : []),
              ],
            },
          },
        },
      ],
    },
  };
}

export function allCrds(): JsonSchema[] {
  return kinds.map(crdFor);
}
