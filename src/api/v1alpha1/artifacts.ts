// spec.artifacts: model weights and other read-only files a worker needs before setup() runs,
// mounted at /models/<name> (or mountPath) from a PersistentVolumeClaim, an OCI image, or a URL
// downloaded once per node into the operator's artifact cache.
import { z } from "zod";

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export const artifactSpec = z
  .object({
    name: z.string().min(1).max(40).regex(DNS_LABEL, "must be a lowercase DNS label such as whisper-large").describe("Key in ctx.artifacts / hearth.artifacts()."),
    mountPath: z
      .string()
      .min(2)
      .max(512)
      .regex(/^\/[^:]*$/, "must be an absolute path without ':'")
      .optional()
      .describe("Where the worker sees it. Default /models/<name>."),
    persistentVolumeClaim: z
      .object({
        claimName: z.string().min(1).max(253),
        // Segments may not start with "." (so no ".."), and the path is relative; RE2-compatible.
        subPath: z
          .string()
          .max(512)
          .regex(/^[A-Za-z0-9_-][A-Za-z0-9_.-]*(\/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*$/, "must be a relative path whose segments do not start with '.'")
          .optional(),
      })
      .optional()
      .describe("Weights already on shared storage; mounted read-only."),
    image: z
      .object({
        reference: z.string().min(1).max(512).regex(/^\S+$/, "must be an image reference without spaces"),
        pullPolicy: z.enum(["Always", "IfNotPresent", "Never"]).optional(),
      })
      .optional()
      .describe("Weights packaged as an OCI image: an image volume, or an init container copying it (operator config artifacts.imageMode)."),
    url: z
      .object({
        href: z
          .string()
          .min(1)
          .max(2048)
          .regex(/^(https?:\/\/\S+|s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/\S+)$/, "must be an http:// or https:// URL, or s3://<bucket>/<key>")
          .describe("http(s)://… or s3://<bucket>/<key> (AWS S3, or an S3-compatible store named by s3.endpoint)."),
        sha256: z.string().length(64).regex(/^[0-9a-f]{64}$/, "must be 64 lowercase hex digits").optional(),
        secretRef: z
          .object({ name: z.string().min(1).max(253) })
          .optional()
          .describe("http(s): a Secret whose keys become request headers (e.g. Authorization). s3://: a Secret with AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and optionally AWS_SESSION_TOKEN) to sign with SigV4; without it the GET is unsigned."),
        s3: z
          .object({
            endpoint: z
              .string()
              .max(512)
              .regex(/^https?:\/\/[^\s/?#]+\/?$/, "must be an http:// or https:// origin such as https://minio.example.com:9000")
              .optional()
              .describe("An S3-compatible store (MinIO, Ceph RGW, R2, …), addressed path-style: <endpoint>/<bucket>/<key>. Absent: AWS S3."),
            region: z.string().min(1).max(64).regex(/^[a-z0-9-]+$/, "must be a region name such as us-east-1").optional().describe("Signing region. Default us-east-1."),
          })
          .optional()
          .describe("Where an s3:// href is fetched from."),
      })
      .meta({ "x-kubernetes-validations": [{ rule: "!has(self.s3) || self.href.startsWith('s3://')", message: "url.s3 applies to s3:// hrefs only" }] })
      .optional()
      .describe("Downloaded once per node into the operator's artifact cache, verified against sha256, resumable."),
  })
  .meta({
    "x-kubernetes-validations": [
      {
        rule: "(has(self.persistentVolumeClaim) ? 1 : 0) + (has(self.image) ? 1 : 0) + (has(self.url) ? 1 : 0) == 1",
        message: "an artifact needs exactly one source: persistentVolumeClaim, image or url",
      },
    ],
  });
export type ArtifactSpec = z.infer<typeof artifactSpec>;

export const artifactList = z
  .array(artifactSpec)
  .max(16)
  .meta({
    "x-kubernetes-validations": [
      { rule: "self.all(a, self.exists_one(b, b.name == a.name))", message: "artifact names must be unique" },
      { rule: "self.all(a, self.exists_one(b, (has(b.mountPath) ? b.mountPath : '/models/' + b.name) == (has(a.mountPath) ? a.mountPath : '/models/' + a.name)))", message: "artifact mount paths must be unique" },
    ],
  })
  .superRefine((list, ctx) => {
    const names = new Set<string>();
    const paths = new Set<string>();
    for (const [i, a] of list.entries()) {
      const sources = [a.persistentVolumeClaim, a.image, a.url].filter((s) => s !== undefined).length;
      if (sources !== 1) ctx.addIssue({ code: "custom", path: [i], message: "an artifact needs exactly one source: persistentVolumeClaim, image or url" });
      if (a.url?.s3 !== undefined && !a.url.href.startsWith("s3://")) ctx.addIssue({ code: "custom", path: [i, "url", "s3"], message: "url.s3 applies to s3:// hrefs only" });
      if (names.has(a.name)) ctx.addIssue({ code: "custom", path: [i, "name"], message: `artifact name ${a.name} is used twice` });
      names.add(a.name);
      const p = artifactPath(a);
      if (paths.has(p)) ctx.addIssue({ code: "custom", path: [i, "mountPath"], message: `mount path ${p} is used twice` });
      paths.add(p);
    }
  });

export function artifactPath(a: Pick<ArtifactSpec, "name" | "mountPath">): string {
  return a.mountPath ?? `/models/${a.name}`;
}
