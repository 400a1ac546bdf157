// The handler signature of each Function, as its workers report it in heartbeats once setup()
// is done (docs/protocol.md, "Handler signature"). Memory only: after a gateway restart the
// answer `signatureKnown: false` makes every worker send it again with its next heartbeat.
import { z } from "zod";
import { functionKey } from "./registry.ts";

export const MAX_SIGNATURE_BYTES = 64 * 1024;

const jsonSchemaObject = z.looseObject({
  type: z.literal("object"),
  properties: z.record(z.string().max(256), z.record(z.string(), z.unknown())),
  required: z.array(z.string().max(256)).max(1024).optional(),
});

export const handlerSignature = z.object({
  source: z.enum(["parameters", "type-hints", "exported"]),
  inputSchema: jsonSchemaObject,
});
export type HandlerSignature = z.infer<typeof handlerSignature>;

export interface SignatureEntry {
  signature: HandlerSignature | undefined;
  /** Set when a worker sent something that is not a signature: said on the Function's page. */
  rejected: string | undefined;
  workerId: string;
  reportedAt: number;
}

export class SignatureBook {
  private readonly entries = new Map<string, SignatureEntry>();
  private readonly now: () => number;

  constructor(now: () => number = Date.now) {
    this.now = now;
  }

  /**
   * A heartbeat's `signature` field (absent: nothing to record). Answers whether the worker may
   * stop sending it: true once the gateway holds an entry for the Function, valid or not (a
   * worker would only send the same broken one again).
   */
  observe(namespace: string, name: string, workerId: string, raw: unknown): boolean {
    const key = functionKey(namespace, name);
    if (raw !== undefined && raw !== null) this.entries.set(key, entryOf(raw, workerId, this.now()));
    return this.entries.has(key);
  }

  get(namespace: string, name: string): SignatureEntry | undefined {
    return this.entries.get(functionKey(namespace, name));
  }

  forget(namespace: string, name: string): void {
    this.entries.delete(functionKey(namespace, name));
  }
}

export function entryOf(raw: unknown, workerId: string, reportedAt: number): SignatureEntry {
  const size = Buffer.byteLength(JSON.stringify(raw) ?? "");
  if (size > MAX_SIGNATURE_BYTES) return { signature: undefined, rejected: `signature is ${size} bytes, over ${MAX_SIGNATURE_BYTES}`, workerId, reportedAt };
  const parsed = handlerSignature.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { signature: undefined, rejected: `not a signature: ${issue === undefined ? "invalid" : `${issue.path.join(".")}: ${issue.message}`}`, workerId, reportedAt };
  }
  return { signature: parsed.data, rejected: undefined, workerId, reportedAt };
}
