import type { Limits } from '../config.js';
import { RequestError } from './reply-error.js';
import type { Session } from './session.js';

/** How long a connection closing after its requests waits for them at most (they are bounded by
 * the callback and layer timeouts anyway). */
const DRAIN_TIMEOUT_MS = 10_000;

/** What the slots need from the gateway: closing a connection, and refusing a request. */
export interface SlotsOwner {
  close(session: Session, code: number, reason: string): void;
  fail(session: Session, id: number | null, error: RequestError): void;
}

/**
 * Requests in flight per connection: at most `maxRequestsInFlight` run at once, the rest wait in
 * arrival order (how many can wait is bounded by the rate limit). A connection told to close after
 * its replies (a flood, too many frames before connect) still answers what it accepted, refuses
 * what is waiting, and then closes. The state is the session's (`inFlight`, `waiting`, `draining`):
 * every idle connection carries it, so it stays three fields rather than an object per session.
 */
export class RequestSlots {
  readonly #owner: SlotsOwner;
  readonly #limits: Pick<Limits, 'maxRequestsInFlight'>;

  constructor(owner: SlotsOwner, limits: Pick<Limits, 'maxRequestsInFlight'>) {
    this.#owner = owner;
    this.#limits = limits;
  }

  /** Runs a request when the connection has a free slot, then frees it. Never rejects. */
  async run(session: Session, id: number | null, run: () => Promise<void>): Promise<void> {
    if (session.inFlight >= this.#limits.maxRequestsInFlight) {
      await new Promise<void>((resolve) => (session.waiting ??= []).push(resolve));
    }
    if (session.closed) return;
    if (session.draining) {
      // Accepted by the parser but never started: refused, so the client knows it did not run.
      this.#owner.fail(session, id, new RequestError('rate_limited', 'the connection is closing; this request was not run'));
      return;
    }
    session.inFlight++;
    try {
      await run();
    } finally {
      session.inFlight--;
      const next = session.waiting?.shift();
      // Re-read: the request may have set it meanwhile (TypeScript keeps the narrowing above).
      const draining = session.draining as Session['draining'];
      if (next) next();
      else if (draining && session.inFlight === 0) this.#owner.close(session, draining.code, draining.reason);
    }
  }

  /** Closes once the requests already accepted are answered (a rate-limited client still gets the
   * acknowledgement of the publish it was granted); requests waiting for a slot are refused. */
  closeAfterReplies(session: Session, code: number, reason: string): void {
    if (session.closed || session.draining) return;
    session.draining = { code, reason };
    if (session.inFlight === 0) {
      this.#owner.close(session, code, reason);
      return;
    }
    this.wake(session);
    setTimeout(() => this.#owner.close(session, code, reason), DRAIN_TIMEOUT_MS).unref();
  }

  /** Lets every request waiting for a slot go on: each finds the connection closed or draining,
   * and ends. */
  wake(session: Session): void {
    const waiting = session.waiting ?? [];
    session.waiting = null;
    for (const resume of waiting) resume();
  }
}
