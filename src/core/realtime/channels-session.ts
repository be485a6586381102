import { CloseCodes } from '@switchboard/client/protocol';
import type { Limits } from '../config.js';
import { channelsErrorFrame, parseChannelsFrame } from './channels-frames.js';
import { PING_FRAME, errorFrame, replyError } from './frames.js';
import { authorize } from './handlers/access.js';
import type { Hub } from './hub.js';
import { RequestError } from './reply-error.js';
import type { Session } from './session.js';

/**
 * How a connection speaking Django Channels frames (channels-frames.ts) is served, where it differs
 * from a native one: its frames are publishes on the alias's channel, run one at a time and in
 * order as a Django consumer handles them; its errors are `{"type":"error"}` frames; its heartbeat
 * is a WebSocket ping (connection_established is sent by alias-subscription.ts).
 */

/** What Channels connections need from the gateway. */
export interface ChannelsOwner {
  readonly hub: Hub;
  readonly limits: Limits;
  close(session: Session, code: number, reason: string): void;
  fail(session: Session, id: number | null, error: RequestError): void;
  asRequestError(err: unknown, op: string): RequestError;
  /** Runs a request in one of the connection's slots (RequestSlots.run); never rejects. */
  runRequest(session: Session, id: number | null, run: () => Promise<void>): Promise<void>;
  /** The authentication in progress, which frames wait for. */
  connecting(session: Session): Promise<void> | undefined;
}

export class ChannelsSessions {
  readonly #owner: ChannelsOwner;
  /** The channel a session's frames publish to (the alias's first), known once the alias is
   * subscribed (null if it was refused). */
  readonly #aliasChannel = new WeakMap<Session, Promise<string | null>>();
  /** The chain a session's frames run in. */
  readonly #queue = new WeakMap<Session, Promise<void>>();

  constructor(owner: ChannelsOwner) {
    this.#owner = owner;
  }

  /** The alias subscription of `session` is under way; `channel` settles with its first channel. */
  subscribing(session: Session, channel: Promise<string | null>): void {
    this.#aliasChannel.set(session, channel);
  }

  /**
   * A Channels frame `{"type": "x", ...rest}`: a publish of event `x` with data `rest` on the alias's
   * channel, where its namespace lets this user publish. Nothing answers a publish that went
   * through (the sender gets its own publication like every subscriber, as with Django's
   * group_send); a refused one gets an error frame. `balance` is what the rate limit left.
   */
  onFrame(session: Session, text: string, balance: number): void {
    const parsed = parseChannelsFrame(text, this.#owner.limits.maxJsonDepth);
    if (balance < 0) {
      this.#owner.fail(session, null, new RequestError('rate_limited'));
      return;
    }
    if (!parsed.ok) {
      this.#owner.fail(session, null, parsed.error);
      return;
    }
    const { event, data } = parsed;
    const previous = this.#queue.get(session) ?? this.#owner.connecting(session) ?? Promise.resolve();
    const next = previous.then(async () => {
      const channel = await (this.#aliasChannel.get(session) ?? null);
      await this.#owner.runRequest(session, null, () => this.#publish(session, channel, event, data));
    });
    this.#queue.set(session, next);
  }

  /** Publishes a Channels frame's event; never rejects. */
  async #publish(session: Session, channel: string | null, event: string, data: Record<string, unknown>): Promise<void> {
    if (session.closed) return;
    const owner = this.#owner;
    if (session.transport.bufferedAmount > owner.limits.maxBufferedBytes) {
      owner.close(session, CloseCodes.slowConsumer, 'slow consumer: frames while the send buffer is over the limit');
      return;
    }
    try {
      if (channel === null) throw new RequestError('forbidden', 'this path has no channel to publish to');
      await authorize(owner.hub.namespaces, channel, session.user, 'publish');
      await owner.hub.publish(channel, event, data);
    } catch (err) {
      owner.fail(session, null, owner.asRequestError(err, 'publish'));
    }
  }
}

/** A refused request in the connection's frames: a Channels error frame, or a native reply (an
 * `error` frame when there is no id to answer). */
export function refusalFrame(session: Session, id: number | null, error: RequestError): string {
  if (session.frames === 'channels') return channelsErrorFrame(error);
  return id === null ? errorFrame(error) : replyError(id, error);
}

/** Sends a heartbeat: `{"op":"ping"}`, or for a Channels frontend, which never answers that, a
 * WebSocket ping, which browsers answer with a pong by themselves. */
export function sendHeartbeat(session: Session): void {
  if (session.frames === 'switchboard') session.deliver(PING_FRAME);
  else session.transport.ping?.();
}

/** Whether a connection silent for too long is closed: a Channels connection is heard from
 * through the pongs to its pings, so one whose transport cannot ping (the in-process TestClient,
 * with no network to lose) is never timed out for silence. */
export function silenceCloses(session: Session): boolean {
  return session.frames === 'switchboard' || session.transport.ping !== undefined;
}
