// A Function's retry policy as the gateway applies it (spec.retries of the Function schema; the
// API keeps the zod schema with its bounds, this is the one type both sides use).

export interface RetryPolicy {
  /** Retries after the first attempt. */
  maxRetries: number;
  initialBackoffSeconds: number;
  maxBackoffSeconds: number;
  multiplier: number;
}

/** What a Function without spec.retries gets (the schema's defaults). */
export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = { maxRetries: 0, initialBackoffSeconds: 1, maxBackoffSeconds: 60, multiplier: 2 };
