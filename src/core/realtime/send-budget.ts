import type { Limits } from '../config.js';
import type { Session } from './session.js';

/**
 * Unsent bytes, per connection and for the node. Pushed frames are checked after each write
 * (Session.deliver); replies that can be large (history, recovery) reserve their size here before
 * they are read and built, so a client that never reads cannot make the node build reply after
 * reply for it: 50 history requests in one write once took a node from 228 MiB to 1.1 GiB.
 *
 * The node total is the sum of each session's backlog as last seen (after its last write, and at
 * every sweep), so it lags real draining by at most a sweep; it errs on the side of caution.
 */
export class SendBudget {
  #unsent = 0;
  #reserved = 0;

  constructor(private readonly limits: Limits) {}

  /** Bytes written to sockets and not yet sent, as last seen, over all connections. */
  get unsent(): number {
    return this.#unsent;
  }

  /** Bytes promised to replies being built. */
  get reserved(): number {
    return this.#reserved;
  }

  get nodeOver(): boolean {
    return this.#unsent > this.limits.maxNodeBufferedBytes;
  }

  /** Records a session's backlog; true when the node is over its total. */
  note(session: Session, bytes: number): boolean {
    if (bytes !== session.reportedBacklog) {
      this.#unsent += bytes - session.reportedBacklog;
      session.reportedBacklog = bytes;
    }
    return this.#unsent > this.limits.maxNodeBufferedBytes;
  }

  /** A closed session holds nothing any more. */
  forget(session: Session): void {
    this.#unsent -= session.reportedBacklog;
    session.reportedBacklog = 0;
    this.#reserved -= session.reservedBytes;
    session.reservedBytes = 0;
  }

  /**
   * Promises a reply up to `maxReplyBytes`, less whatever the connection (and the node) already
   * holds unsent or promised. 0: nothing can be promised now (answer `backpressure`).
   */
  reserve(session: Session): number {
    const own = this.limits.maxBufferedBytes - session.transport.bufferedAmount - session.reservedBytes;
    const node = this.limits.maxNodeBufferedBytes - this.#unsent - this.#reserved;
    const grant = Math.max(0, Math.min(this.limits.maxReplyBytes, own, node));
    this.#add(session, grant);
    return grant;
  }

  /** Changes a promise to what the reply turned out to need (it may be a little more: a page
   * always holds at least one publication). */
  adjust(session: Session, from: number, to: number): void {
    this.#add(session, to - from);
  }

  release(session: Session, bytes: number): void {
    this.#add(session, -Math.min(bytes, session.reservedBytes));
  }

  #add(session: Session, bytes: number): void {
    if (session.closed) return;
    session.reservedBytes += bytes;
    this.#reserved += bytes;
  }
}
