export interface BackoffOptions {
  /** Base delay of the first retry, in ms. */
  minMs: number;
  /** Cap of the delay, in ms. */
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { minMs: 250, maxMs: 15_000 };

/**
 * "Full jitter": a uniform delay in [0, min(max, min * 2^attempt)). After a server restart every
 * client reconnects at once; spreading them over the whole window keeps them from arriving in waves.
 * `attempt` counts from 0.
 */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  const min = Math.max(0, options.minMs);
  const max = Math.max(min, options.maxMs);
  // Capping the exponent keeps 2^attempt finite after days of failed attempts.
  const ceiling = Math.min(max, min * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}
