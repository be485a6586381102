/** Per-connection message rate limit. Kept as two numbers on the session (no timers): tokens refill
 * lazily from the elapsed time on each take. */
export class TokenBucket {
  #tokens: number;
  #updatedAt: number;

  constructor(
    readonly ratePerSecond: number,
    readonly burst: number,
    now: number,
  ) {
    this.#tokens = burst;
    this.#updatedAt = now;
  }

  /** When a token was last taken (ms). */
  get updatedAt(): number {
    return this.#updatedAt;
  }

  /** Milliseconds until a take would succeed (0: now), debt included. */
  waitMs(now: number): number {
    const elapsed = Math.max(0, now - this.#updatedAt) / 1000;
    const tokens = Math.min(this.burst, this.#tokens + elapsed * this.ratePerSecond);
    return tokens >= 1 ? 0 : ((1 - tokens) / this.ratePerSecond) * 1000;
  }

  /** Takes one token. Returns the balance after: >= 0 allowed, < 0 refused (and how deep in debt
   * the sender is, which is how a flood is told from a burst). Debt is capped at -burst. */
  take(now: number): number {
    const elapsed = Math.max(0, now - this.#updatedAt) / 1000;
    this.#updatedAt = now;
    this.#tokens = Math.min(this.burst, this.#tokens + elapsed * this.ratePerSecond);
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return this.#tokens;
    }
    this.#tokens = Math.max(-this.burst, this.#tokens - 1);
    return this.#tokens;
  }
}
