// Handlers of the isolated-call integration test (test/integration/isolated-calls.test.ts), run
// as real oneshot processes by dev mode's local runner. Twins of calls.py.
export function big(size: number): { size: number; data: string; pod: string } {
  return { size, data: "x".repeat(size), pod: process.env["HEARTH_WORKER_ID"] ?? "" };
}

export function fail(message: string): never {
  throw new Error(`user code failed: ${message}`);
}

export async function sleepy(seconds: number): Promise<string> {
  await new Promise((r) => setTimeout(r, seconds * 1000));
  return "woke up";
}
