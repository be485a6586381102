import { randomBytes } from 'node:crypto';
import type { UserInfo } from '@switchboard/client/protocol';
import type { Namespace } from '../channels/namespaces.js';
import type { Transport } from './transport.js';
import { TokenBucket } from './token-bucket.js';

/** What a session reports to its owner (the gateway): closes go through it for metrics. */
export interface SessionOwner {
  close(session: Session, code: number, reason: string): void;
  readonly limits: { maxBufferedBytes: number };
}

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

  /** Writes a frame the client asked for (replies, welcome). Not checked against the backlog bound
   * here, so one large recovery reply cannot itself get the client closed; the gateway checks the
   * backlog before it handles the client's next request instead. */
  send(frame: Buffer | string): void {
    if (!this.closed) this.transport.send(frame);
  }

  /** Writes a pushed frame (publication, presence, heartbeat). A client whose unsent backlog passes
   * the bound is closed rather than let grow the server's memory without limit; it reconnects and
   * recovers from history. */
  deliver(frame: Buffer): void {
    if (this.closed) return;
    this.transport.send(frame);
    if (this.transport.bufferedAmount > this.owner.limits.maxBufferedBytes) {
      this.owner.close(this, SLOW_CONSUMER, 'slow consumer: send buffer over the limit');
    }
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.transport.close(code, reason);
  }
}
