// Function status.setup from the gateway's setup summaries (GET /v1/setup): who is loading and
// how far ("loading: 40% weights"), how long setup took on the last ready worker, and the last
// setup failure with the worker's message. Pure: the gateway's answer and what the Functions
// show now in, the status patches out.
import { z } from "zod";
import type { SetupStatus } from "../../api/v1alpha1/index.ts";

export const gatewaySetupResponse = z.object({
  functions: z.array(
    z.object({
      namespace: z.string(),
      name: z.string(),
      starting: z.int().min(0),
      progress: z.object({ value: z.number().min(0).max(1), message: z.string().optional(), worker: z.string(), elapsedSeconds: z.number().optional() }).optional(),
      lastDurationSeconds: z.number().min(0).optional(),
      lastReadyWorker: z.string().optional(),
      lastFailure: z.object({ reason: z.string(), message: z.string(), worker: z.string(), time: z.string() }).optional(),
      /** The gateway holds a valid handler signature for the Function (absent: an older gateway). */
      signatureKnown: z.boolean().optional(),
    }),
  ),
});
export type GatewaySetupResponse = z.infer<typeof gatewaySetupResponse>;
type Summary = GatewaySetupResponse["functions"][number];

export interface SetupView {
  namespace: string;
  name: string;
  current: SetupStatus | undefined;
}

export interface SetupPatch {
  namespace: string;
  name: string;
  setup: SetupStatus;
}

const clip = (s: string, max: number): string => (s.length > max ? `${s.slice(0, max - 1)}…` : s);

/** "loading: 40% weights" */
export function progressMessage(p: { value: number; message?: string | undefined }): string {
  const pct = `${Math.round(p.value * 100)}%`;
  return `loading: ${p.message === undefined || p.message === "" ? pct : `${pct} ${p.message}`}`;
}

export function setupStatusOf(s: Summary | undefined, current: SetupStatus | undefined): SetupStatus {
  const out: SetupStatus = {};
  if (s !== undefined && s.starting > 0) out.starting = s.starting;
  if (s?.progress !== undefined) {
    out.progress = Math.round(s.progress.value * 1000) / 1000;
    out.message = clip(progressMessage(s.progress), 1024);
  }
  // The gateway forgets durations when it restarts; the last one measured stays true.
  const duration = s?.lastDurationSeconds ?? current?.lastDurationSeconds;
  if (duration !== undefined) out.lastDurationSeconds = Math.round(duration * 100) / 100;
  // Sticky while the gateway has no word on it (restarted, no worker since): the handler did not change.
  out.signatureKnown = s?.signatureKnown ?? current?.signatureKnown ?? false;
  if (s?.lastFailure !== undefined) {
    out.lastFailure = { reason: clip(s.lastFailure.reason, 64), message: clip(s.lastFailure.message, 2048), time: s.lastFailure.time.replace(/\.\d{3}Z$/, "Z"), worker: clip(s.lastFailure.worker, 253) };
  }
  return out;
}

/** One patch per Function whose status.setup differs from what the gateway says. */
export function planSetupPatches(functions: readonly SetupView[], response: GatewaySetupResponse): SetupPatch[] {
  const byKey = new Map(response.functions.map((f) => [`${f.namespace}/${f.name}`, f]));
  const patches: SetupPatch[] = [];
  for (const fn of functions) {
    const want = setupStatusOf(byKey.get(`${fn.namespace}/${fn.name}`), fn.current);
    if (JSON.stringify(canonical(want)) !== JSON.stringify(canonical(fn.current ?? {}))) patches.push({ namespace: fn.namespace, name: fn.name, setup: want });
  }
  return patches;
}

function canonical(s: SetupStatus): unknown {
  return [s.starting, s.progress, s.message, s.lastDurationSeconds, s.signatureKnown, s.lastFailure === undefined ? undefined : [s.lastFailure.reason, s.lastFailure.message, s.lastFailure.time, s.lastFailure.worker]];
}
