import { TokenBucket } from '../realtime/token-bucket.js';

/** Addresses tracked before idle ones are forgotten (a full bucket is the same as none). */
const MAX_TRACKED = 10_000;

/**
 * A token bucket per client address, for the routes anyone may call (sign-in, registration):
 * a password guesser or a flood from one address is refused before its body is read, while
 * everyone else signs in as usual.
 */
export class AddressThrottle {
  readonly #buckets = new Map<string, TokenBucket>();

  constructor(
    readonly perSecond: number,
    readonly burst: number,
  ) {}

  /** Takes a token for `address`; false when it has none left. */
  allow(address: string, now = Date.now()): boolean {
    let bucket = this.#buckets.get(address);
    if (!bucket) {
      if (this.#buckets.size >= MAX_TRACKED) this.#forgetIdle(now);
      bucket = new TokenBucket(this.perSecond, this.burst, now);
      this.#buckets.set(address, bucket);
    }
    return bucket.take(now) >= 0;
  }

  /** Whole seconds until `address` has a token again (for Retry-After): a refused request costs a
   * token too, so an address that kept asking owes more than the next refill. */
  retryAfterSeconds(address: string, now = Date.now()): number {
    const waitMs = this.#buckets.get(address)?.waitMs(now) ?? 0;
    return Math.max(1, Math.ceil(waitMs / 1000));
  }

  #forgetIdle(now: number): void {
    const refillMs = (this.burst / this.perSecond) * 1000;
    for (const [address, bucket] of this.#buckets) if (now - bucket.updatedAt >= refillMs) this.#buckets.delete(address);
    // Still full of busy addresses: forget the oldest half rather than grow without bound.
    if (this.#buckets.size >= MAX_TRACKED) {
      let drop = this.#buckets.size / 2;
      for (const address of this.#buckets.keys()) {
        if (drop-- <= 0) break;
        this.#buckets.delete(address);
      }
    }
  }
}
