// Rate limits and backoff, clock-driven so they are testable without sleeping.
import type { Clock } from "./clock.ts";

/** A token bucket: `take()` waits until a token is free. Rate <= 0 means unlimited. */
export class TokenBucket {
  private readonly clock: Clock;
  private readonly rate: number;
  private readonly burst: number;
  private tokens: number;
  private last: number;

  constructor(clock: Clock, ratePerSecond: number, burst: number) {
    this.clock = clock;
    this.rate = ratePerSecond;
    this.burst = Math.max(1, burst);
    this.tokens = this.burst;
    this.last = clock.now();
  }

  /** Milliseconds until a token is available, reserving it (callers must then wait that long). */
  reserve(): number {
    if (this.rate <= 0) return 0;
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens / this.rate) * 1000);
  }

  async take(signal?: AbortSignal): Promise<void> {
    const wait = this.reserve();
    if (wait > 0) await this.clock.sleep(wait, signal);
  }
}

export interface BackoffOptions {
  /** First delay in ms. Default 50. */
  baseMs?: number;
  /** Ceiling in ms. Default 5 minutes. */
  maxMs?: number;
  /** Random spread as a fraction of the delay (0..1). Default 0.1. */
  jitter?: number;
}

/** Exponential backoff: base·2^failures, capped, with a little jitter so retries spread out. */
export function backoffDelay(failures: number, opts: BackoffOptions = {}, random: () => number = Math.random): number {
  const base = opts.baseMs ?? 50;
  const max = opts.maxMs ?? 300_000;
  const d = Math.min(max, base * 2 ** Math.min(failures, 40));
  const j = opts.jitter ?? 0.1;
  return Math.round(Math.min(max, d * (1 + j * random())));
}
