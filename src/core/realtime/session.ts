import { randomBytes } from 'node:crypto';
import type { UserInfo } from '@switchboard/client/protocol';
import type { Namespace } from '../channels/namespaces.js';
import type { FrameStyle } from '../channels/routes.js';
import type { Transport } from './transport.js';
import { TokenBucket } from './token-bucket.js';

/** What a session reports to its owner (the gateway): closes go through it for metrics, and
 * each write's backlog for the node-wide unsent total. */
export interface SessionOwner {
  close(session: Session, code: number, reason: string): void;
  /** Records the session's unsent backlog after a write; true when the node as a whole is over
   * its budget (the session is then closed if it is among those holding it). */
  noteBacklog(session: Session, bytes: number): boolean;
  readonly limits: { maxBufferedBytes: number };
}

/** A backlog smaller than this never gets a client closed for the node's sake: it drains in a blink. */
const NODE_SHED_MIN_BYTES = 64 * 1024;

/** Close code for a client that reads too slowly; duplicated from the protocol to keep this hot path import-free. */
const SLOW_CONSUMER = 4002;

export interface BufferedPublication {
  epoch: string;
  offset: number;
  frame: Buffer;
}

/** One channel subscription of one session. While `buffer` is set the subscription is still
 * being set up (recovery in progress): publications are held back and flushed after the reply. */
export interface Subscription {
  channel: string;
  namespace: Namespace;
  buffer: BufferedPublication[] | null;
  seesPresence: boolean;
  tracked: boolean;
  cancelled: boolean;
}

/** A client connection's state. Kept deliberately small: every idle connection carries one. */
export class Session {
  readonly id = randomBytes(9).toString('base64url');
  user: UserInfo | null = null;
  authenticated = false;
  expiresAt: number | null = null;
  readonly subs = new Map<string, Subscription>();
  readonly bucket: TokenBucket;
  readonly openedAt: number;
  lastSeenAt: number;
  nextPingAt: number;
  closed = false;
  /** The client's address (after trusted proxies), for the per-address counts. */
  address = '';
  /** Frames received before `connect` succeeded (capped: an unauthenticated client is cheap). */
  preAuthFrames = 0;
  /** Requests being handled, and those waiting for one of them to finish. */
  inFlight = 0;
  waiting: (() => void)[] | null = null;
  /** Reply bytes promised to requests in flight and not yet written: they count against the same
   * bound as the unsent backlog, so concurrent history requests cannot each take the whole of it. */
  reservedBytes = 0;
  /** The backlog as last reported to the owner (the node-wide total is the sum of these). */
  reportedBacklog = 0;
  /** Set when the connection is to close once the requests in flight are answered. */
  draining: { code: number; reason: string } | null = null;
  /** The frames this connection speaks, fixed at the upgrade: native, or Django Channels on a
   * path alias (fan-out builds each publication once per style, not once per socket). */
  frames: FrameStyle = 'switchboard';

  constructor(
    readonly owner: SessionOwner,
    readonly transport: Transport,
    now: number,
    heartbeatMs: number,
    rate: { perSecond: number; burst: number },
  ) {
    this.openedAt = now;
    this.lastSeenAt = now;
    this.nextPingAt = now + heartbeatMs;
    this.bucket = new TokenBucket(rate.perSecond, rate.burst, now);
  }

  /** Writes a frame the client asked for (replies, welcome). Large replies were sized against the
   * backlog bound before they were built (the gateway's reply budget), so this only records it. */
  send(frame: Buffer | string): void {
    if (this.closed) return;
    this.transport.send(frame);
    this.owner.noteBacklog(this, this.transport.bufferedAmount);
  }

  /** Writes a pushed frame (publication, presence, heartbeat). A client whose unsent backlog passes
   * the bound is closed rather than let grow the server's memory without limit; it reconnects and
   * recovers from history. So is one holding a sizeable backlog while the node is over its total. */
  deliver(frame: Buffer): void {
    if (this.closed) return;
    this.transport.send(frame);
    const backlog = this.transport.bufferedAmount;
    const nodeOver = this.owner.noteBacklog(this, backlog);
    if (backlog > this.owner.limits.maxBufferedBytes) {
      this.owner.close(this, SLOW_CONSUMER, 'slow consumer: send buffer over the limit');
    } else if (nodeOver && backlog > NODE_SHED_MIN_BYTES) {
      this.owner.close(this, SLOW_CONSUMER, 'slow consumer: the server is over its total send buffer');
    }
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.transport.close(code, reason);
  }
}
