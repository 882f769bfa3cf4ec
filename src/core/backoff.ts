// Exponential backoff with jitter, shared by Consul watches, the work queue and process restarts.

export interface BackoffOptions {
  /** Delay before the first retry. */
  readonly initialMs: number;
  /** Upper bound for any delay. */
  readonly maxMs: number;
  /** Growth per attempt (default 2). */
  readonly factor?: number;
  /** Fraction of the delay that is randomised, 0..1 (default 0.2): delay * (1 - jitter * random()). */
  readonly jitter?: number;
  /** Source of randomness in [0, 1); injected so tests are deterministic. */
  readonly random?: () => number;
}

/** Returns the delay in ms before retry number `attempt` (1 = the first retry). */
export type Backoff = (attempt: number) => number;

export function exponentialBackoff(options: BackoffOptions): Backoff {
  const { initialMs, maxMs, factor = 2, jitter = 0.2, random = Math.random } = options;
  if (!(initialMs > 0) || !(maxMs >= initialMs)) {
    throw new RangeError(`backoff needs 0 < initialMs <= maxMs, got initialMs=${initialMs} maxMs=${maxMs}`);
  }
  if (jitter < 0 || jitter > 1) throw new RangeError(`backoff jitter must be within 0..1, got ${jitter}`);
  return (attempt) => {
    const exponent = Math.max(0, Math.floor(attempt) - 1);
    const base = Math.min(maxMs, initialMs * factor ** exponent);
    return Math.round(base * (1 - jitter * random()));
  };
}
