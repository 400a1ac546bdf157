// Shared building blocks of the hearth.dev/v1alpha1 schemas. Every string, list and map is
// bounded so that the generated CRDs stay cheap for CEL and for etcd.
import { z } from "zod";
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from "../../protocol/index.ts";

export const GROUP = "hearth.dev";
export const VERSION = "v1alpha1";
export const API_VERSION = `${GROUP}/${VERSION}`;

/** Longest name of a Hearth object: leaves room for the suffixes of the objects it owns. */
export const MAX_NAME_LENGTH = 52;

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** Kubernetes resource quantity, e.g. 500m, 2, 1.5, 1Gi, 10G, 1e3. */
export const QUANTITY_PATTERN = "^[+]?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)([eE][-+]?[0-9]+|[KMGTPE]i|[mkMGTPE])?$";

export const objectName = z
  .string()
  .min(1)
  .max(253)
  .regex(DNS1123_SUBDOMAIN, "must be a lowercase RFC 1123 subdomain (a-z, 0-9, '-', '.')");

export const hearthObjectName = z
  .string()
  .min(1)
  .max(MAX_NAME_LENGTH)
  .regex(DNS1123_LABEL, "must be a lowercase RFC 1123 label (a-z, 0-9, '-')");

/** int-or-string Kubernetes quantity; the CRD post-pass turns the union into x-kubernetes-int-or-string. */
export const quantity = z
  .union([z.int().min(0).max(1_000_000_000_000), z.string().max(64).regex(new RegExp(QUANTITY_PATTERN))])
  .meta({ "x-hearth-quantity": true, description: "A Kubernetes quantity, e.g. 500m, 2, 1Gi." });
export type Quantity = z.infer<typeof quantity>;

/** Any JSON value, stored as is (x-kubernetes-preserve-unknown-fields). */
export const jsonValue = z.json().meta({ "x-kubernetes-preserve-unknown-fields": true });
export type JsonValue = z.infer<typeof jsonValue>;

export const localRef = z.object({
  name: hearthObjectName.describe("Name of the object in the same namespace."),
});

const keyRef = z.object({
  name: objectName.describe("Name of the ConfigMap or Secret in the same namespace."),
  key: z.string().min(1).max(253).regex(/^[-._a-zA-Z0-9]+$/, "must be a valid ConfigMap/Secret key"),
  optional: z.boolean().optional(),
});

const envVarSource = z
  .object({
    configMapKeyRef: keyRef.optional(),
    secretKeyRef: keyRef.optional(),
    fieldRef: z.object({ apiVersion: z.string().max(64).optional(), fieldPath: z.string().min(1).max(256) }).optional(),
    resourceFieldRef: z
      .object({ containerName: z.string().max(63).optional(), resource: z.string().min(1).max(64), divisor: quantity.optional() })
      .optional(),
  })
  .meta({
    "x-kubernetes-validations": [
      {
        rule: "[has(self.configMapKeyRef), has(self.secretKeyRef), has(self.fieldRef), has(self.resourceFieldRef)].filter(x, x).size() == 1",
        message: "valueFrom must set exactly one of configMapKeyRef, secretKeyRef, fieldRef, resourceFieldRef",
      },
    ],
  });

/** core/v1 EnvVar. */
export const envVar = z
  .object({
    name: z.string().min(1).max(256).regex(/^[-._a-zA-Z][-._a-zA-Z0-9]*$/, "must be a valid environment variable name"),
    value: z.string().max(32768).optional(),
    valueFrom: envVarSource.optional(),
  })
  .meta({
    "x-kubernetes-validations": [{ rule: "!(has(self.value) && has(self.valueFrom))", message: "env: set value or valueFrom, not both" }],
  });
export type EnvVar = z.infer<typeof envVar>;

/** core/v1 EnvFromSource. */
export const envFromSource = z
  .object({
    prefix: z.string().max(256).optional(),
    configMapRef: z.object({ name: objectName, optional: z.boolean().optional() }).optional(),
    secretRef: z.object({ name: objectName, optional: z.boolean().optional() }).optional(),
  })
  .meta({
    "x-kubernetes-validations": [
      { rule: "has(self.configMapRef) != has(self.secretRef)", message: "envFrom: set exactly one of configMapRef or secretRef" },
    ],
  });
export type EnvFromSource = z.infer<typeof envFromSource>;

export const retryPolicy = z
  .object({
    maxRetries: z.int().min(0).max(100).default(DEFAULT_RETRY_POLICY.maxRetries).describe("Retries after the first attempt."),
    initialBackoffSeconds: z.number().min(0).max(3600).default(DEFAULT_RETRY_POLICY.initialBackoffSeconds),
    maxBackoffSeconds: z.number().min(0).max(86400).default(DEFAULT_RETRY_POLICY.maxBackoffSeconds),
    multiplier: z.number().min(1).max(10).default(DEFAULT_RETRY_POLICY.multiplier),
  })
  .meta({
    "x-kubernetes-validations": [
      { rule: "self.initialBackoffSeconds <= self.maxBackoffSeconds", message: "initialBackoffSeconds must be <= maxBackoffSeconds" },
    ],
  }) satisfies z.ZodType<RetryPolicy>;
export type { RetryPolicy };

export const timeoutSeconds = z.int().min(1).max(172800);

/** metav1.Condition. */
export const condition = z.object({
  type: z.string().min(1).max(316),
  status: z.enum(["True", "False", "Unknown"]),
  reason: z.string().min(1).max(1024),
  message: z.string().max(32768),
  observedGeneration: z.int().min(0).optional(),
  lastTransitionTime: z.string().max(64),
});
export type Condition = z.infer<typeof condition>;

// A map keyed by type: each controller owns (server-side apply) only the conditions it writes.
export const conditions = z.array(condition).max(16).meta({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"] });

const labelMap = z.record(z.string().max(317), z.string().max(63)).meta({ maxProperties: 64 });
const annotationMap = z.record(z.string().max(317), z.string().max(65536)).meta({ maxProperties: 64 });

/** Labels and annotations added to the pods Hearth creates (Prometheus, mesh, cost allocation, tests). */
export const podMetadata = z.object({
  labels: labelMap.optional(),
  annotations: annotationMap.optional(),
});
export type PodMetadata = z.infer<typeof podMetadata>;
