// Function metadata shown to people (kubectl -o wide, `hearth list/describe`, the console):
// what Sieve calls sieve.Metadata. Nothing here changes how a Function runs.
import { z } from "zod";

export const MAX_INLINE_README = 32 * 1024;

export const readmeSpec = z
  .object({
    inline: z.string().max(MAX_INLINE_README).optional().describe("Markdown, shown on the Function's console page."),
    configMapKeyRef: z
      .object({
        name: z.string().min(1).max(253),
        key: z.string().min(1).max(253),
      })
      .optional()
      .describe("Markdown in a ConfigMap key of the Function's namespace (for readmes over 32 KiB or kept beside the code)."),
  })
  .meta({
    "x-kubernetes-validations": [
      { rule: "has(self.inline) != has(self.configMapKeyRef)", message: "readme needs exactly one of inline or configMapKeyRef" },
    ],
  });
export type ReadmeSpec = z.infer<typeof readmeSpec>;

export const functionMetadataFields = {
  title: z.string().min(1).max(128).optional().describe("Human-readable name, shown instead of metadata.name where there is room."),
  description: z.string().max(1024).optional().describe("One or two sentences: shown by kubectl get fn -o wide, hearth list and the console."),
  tags: z.array(z.string().min(1).max(63)).max(32).optional(),
  readme: readmeSpec.optional(),
  codeURL: z
    .string()
    .max(2048)
    .regex(/^https?:\/\/\S+$/, "must be an http(s) URL, e.g. https://github.com/org/repo/tree/main/whisper")
    .optional()
    .describe("Where the handler's source lives."),
};
