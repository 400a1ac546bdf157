// Worker tokens: the operator gives each Function's pods a token bound to that Function; the
// gateway checks it by recomputing, so it needs no per-Function lookup. Both sides hold the same
// signing key (a Secret the Helm chart / dev mode creates).
import { createHmac, timingSafeEqual } from "node:crypto";

export function workerToken(signingKey: string | Buffer, namespace: string, name: string): string {
  return createHmac("sha256", signingKey).update(`worker:${namespace}/${name}`).digest("base64url");
}

export function verifyWorkerToken(signingKey: string | Buffer, namespace: string, name: string, token: string): boolean {
  const expected = Buffer.from(workerToken(signingKey, namespace, name));
  const given = Buffer.from(token);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/**
 * The token of one isolated call's pod (src/gateway/isolated/): it may claim that task and post
 * its output, nothing else. The operator's Job controller mints it into a Secret the pod reads.
 */
export function taskToken(signingKey: string | Buffer, namespace: string, name: string, taskId: string): string {
  return createHmac("sha256", signingKey).update(`task:${namespace}/${name}/${taskId}`).digest("base64url");
}

export function verifyTaskToken(signingKey: string | Buffer, namespace: string, name: string, taskId: string, token: string): boolean {
  const expected = Buffer.from(taskToken(signingKey, namespace, name, taskId));
  const given = Buffer.from(token);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
