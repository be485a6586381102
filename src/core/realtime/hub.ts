import type { Logger } from 'pino';
import { CloseCodes, type StreamPosition } from '@switchboard/client/protocol';
import { isAllowed, type AccessContext, type Namespace, type NamespaceRegistry } from '../channels/namespaces.js';
import type { ChannelLayer, HistoryOptions, HistoryPage, PresenceEvent, Publication } from '../layer/channel-layer.js';
import { LayerUnavailableError, publicationChars } from '../layer/channel-layer.js';
import type { Metrics } from '../metrics.js';
import type { PresenceStore } from '../presence/presence-store.js';
import { channelsErrorFrame, channelsMessageFrame, channelsPresenceFrame } from './channels-frames.js';
import { messageFrame, presenceFrame, publicationPayload, unsubscribedFrame } from './frames.js';
import { withTimeout } from '../util/timeout.js';
import { RawJson, stringify } from './raw-json.js';
import { RequestError } from './reply-error.js';
import type { Session, Subscription } from './session.js';

function toRawJson(value: unknown): RawJson | undefined {
  return value === undefined ? undefined : new RawJson(stringify(value));
}

/** This node's subscribers of one channel. */
interface ChannelEntry {
  live: Set<Session>;
  /** Subscriptions being set up (and their sessions); they get publications into their buffer. */
  pending: Map<Subscription, Session> | null;
  /** Live sessions allowed to see join/leave. */
  watchers: Set<Session> | null;
  /** Live sessions whose subscribe reply held a position newer than the newest publication this
   * node had delivered. With a broker the history read and pub/sub travel on different connections,
   * so a publication the reply already held can still arrive afterwards: it is not sent again. */
  floors: Map<Session, StreamPosition> | null;
  /** The newest publication this node delivered for the channel (two fields: no allocation per publication). */
  lastEpoch: string | null;
  lastOffset: number;
  /** Settles when this node's layer subscription for the channel is in place. */
  layerReady: Promise<void>;
  /** The channel's namespace, resolved once when the entry is made (its `recheckOn` is read per publication). */
  namespace: Namespace;
  /** While the subscribers' access is being checked again (namespace `recheckOn`), publications
   * wait here, so none reaches a subscriber who is about to lose access. */
  held: Publication[] | null;
  /** The node's own listener (e.g. account revocations), which keeps the channel subscribed. */
  listener: ServerListener | null;
}

/** A server-side subscriber of a channel: gets every publication; `gap` when some may have been lost. */
export interface ServerListener {
  publication(pub: Publication): void;
  gap(): void;
}

export interface SubscribeOutcome {
  result: Record<string, unknown>;
  /** Run right after the reply is sent: flushes held-back publications and goes live. */
  goLive: () => void;
  /** Characters of the recovered publications in the reply. */
  chars: number;
}

/** How much a subscribe reply may carry of recovered publications: `maxChars`, and whether that
 * was cut down because the connection already holds unsent data (`busy`: try again later) or is
 * the server's bound (more than that is not recovered in one reply: the client refetches). */
export interface RecoveryBudget {
  maxChars: number;
  busy: boolean;
}

/** The client should wait and retry: the connection holds too much unsent data. */
export function backpressureError(): RequestError {
  return new RequestError('backpressure', 'the connection has too much unsent data; read what was sent, then ask again');
}

/**
 * The local fan-out index and the bridge to the channel layer. A publication arriving from the
 * layer is serialized once per frame style (native, Django Channels) and the same Buffer is
 * written to every local subscriber of that style.
 */
export class Hub {
  #channels = new Map<string, ChannelEntry>();
  /** Per channel, the chain of layer subscribe/unsubscribe calls, so they apply in order. */
  #layerOps = new Map<string, Promise<void>>();
  /** Per session, the chain of its presence updates: with a store that answers asynchronously, a
   * leave must not overtake the join before it (the user would stay listed forever). */
  #presenceOps = new Map<Session, Promise<void>>();
  /** Channels the node listens to itself (never detached). */
  #listened = 0;

  constructor(
    readonly layer: ChannelLayer,
    readonly presence: PresenceStore,
    readonly namespaces: NamespaceRegistry,
    readonly metrics: Metrics,
    readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    await this.layer.start({
      publication: (pub) => this.#onPublication(pub),
      presence: (event) => this.#onPresence(event),
      resubscribed: (channels) => this.#onResubscribed(channels),
    });
  }

  /** Channels with client subscribers on this node (the node's own listeners are not counted). */
  channelCount(): number {
    return this.#channels.size - this.#listened;
  }

  /** Subscribes the node itself to a channel for as long as it runs (one listener per channel). */
  async listen(channel: string, listener: ServerListener): Promise<void> {
    const resolved = this.namespaces.resolve(channel, null);
    if (!resolved.ok) throw new Error(`cannot listen to ${channel}: ${resolved.code}`);
    const entry = this.#attach(channel, resolved.namespace);
    if (entry.listener) throw new Error(`${channel} already has a listener`);
    entry.listener = listener;
    this.#listened++;
    await this.#layerCall(() => entry.layerReady);
  }

  /** Server-side publish (in-process API, HTTP publish API, client publish after its policy check). */
  async publish(channel: string, event: string, data: unknown, options: { idempotencyKey?: string } = {}): Promise<StreamPosition> {
    const resolved = this.namespaces.resolve(channel, null);
    if (!resolved.ok) throw new RequestError(resolved.code, undefined, 'channel');
    let json: string | undefined;
    try {
      json = JSON.stringify(data);
    } catch (err) {
      throw new RequestError('bad_request', `data cannot be serialized: ${(err as Error).message}`, 'data');
    }
    if (json === undefined) throw new RequestError('bad_request', 'data must be a JSON value', 'data');
    const { historySize, historyTtlMs } = resolved.namespace;
    const position = await this.#layerCall(() => this.layer.publish(channel, event, json, { historySize, historyTtlMs, ...options }));
    this.metrics.publications.inc();
    return position;
  }

  async history(channel: string, options: HistoryOptions): Promise<HistoryPage> {
    return this.#layerCall(() => this.layer.history(channel, options));
  }

  /**
   * Subscribes a session: joins the fan-out index first (buffering), makes sure the layer
   * subscription exists, then reads the position and any missed publications. Publications that
   * arrive meanwhile wait in the buffer and are flushed after the reply, skipping those the
   * reply already holds, so the client sees every offset once and in order.
   */
  async subscribe(session: Session, sub: Subscription, ctx: AccessContext, since: StreamPosition | undefined, budget?: RecoveryBudget): Promise<SubscribeOutcome> {
    const { channel, namespace } = sub;
    const entry = this.#attach(channel, namespace);
    (entry.pending ??= new Map()).set(sub, session);
    let page: HistoryPage;
    let snapshot: unknown;
    let chars = 0;
    try {
      await this.#layerCall(() => entry.layerReady);
      sub.seesPresence = namespace.trackPresence && (await isAllowed(namespace, 'presence', ctx));
      // Recovery hands out history, so it takes the history permission: without it, `since` from
      // offset 0 would read everything retained.
      const recover = since !== undefined && (await isAllowed(namespace, 'history', ctx));
      page = await this.history(channel, recover ? { since, ...(budget ? { maxChars: budget.maxChars } : {}) } : { limit: 0 });
      if (!recover) page = { ...page, complete: false };
      const last = page.publications.at(-1)?.offset ?? since?.offset ?? 0;
      if (page.complete && last < page.position.offset) {
        // The gap does not fit in one reply: later, when the connection has drained; or never,
        // when it is over the server's bound, and then the client starts again from the snapshot.
        if (budget?.busy) throw backpressureError();
        page = { ...page, complete: false, publications: [] };
      }
      for (const pub of page.publications) chars += publicationChars(pub);
      // Serialized here, so a value JSON cannot hold (a BigInt, a cycle) fails this subscribe through
      // the cleanup below instead of throwing later while the reply is written.
      if (namespace.options.snapshot) snapshot = toRawJson(await withTimeout(namespace.options.snapshot(ctx), `the snapshot of namespace '${namespace.name}'`));
    } catch (err) {
      entry.pending?.delete(sub);
      this.#detachIfEmpty(channel, entry);
      throw err;
    }
    const recovered = since !== undefined && page.complete;
    const result: Record<string, unknown> = {
      epoch: page.position.epoch,
      offset: page.position.offset,
      recovered,
      publications: recovered ? page.publications.map(publicationPayload) : [],
    };
    if (snapshot !== undefined) result.snapshot = snapshot;
    const goLive = (): void => {
      entry.pending?.delete(sub);
      const held = sub.buffer ?? [];
      sub.buffer = null;
      if (sub.cancelled || session.closed) {
        this.#detachIfEmpty(channel, entry);
        return;
      }
      for (const p of held) if (p.epoch !== page.position.epoch || p.offset > page.position.offset) session.deliver(p.frame);
      entry.live.add(session);
      const behind = entry.lastEpoch !== page.position.epoch || entry.lastOffset < page.position.offset;
      if (behind && page.position.offset > 0) (entry.floors ??= new Map()).set(session, page.position);
      if (sub.seesPresence) (entry.watchers ??= new Set()).add(session);
      if (namespace.trackPresence && session.user) this.#join(session, sub, channel);
    };
    return { result, goLive, chars };
  }

  /** Removes a session's subscription (explicit unsubscribe or disconnect). */
  unsubscribe(session: Session, sub: Subscription): void {
    sub.cancelled = true;
    const entry = this.#channels.get(sub.channel);
    if (!entry) return;
    if (sub.buffer !== null) return; // still setting up: goLive sees `cancelled` and cleans up
    entry.live.delete(session);
    entry.watchers?.delete(session);
    entry.floors?.delete(session);
    this.#detachIfEmpty(sub.channel, entry);
    if (sub.tracked && session.user) {
      sub.tracked = false;
      const user = session.user.id;
      const channel = sub.channel;
      this.#presenceOp(session, async () => {
        const change = await this.presence.leave(channel, user, session.id);
        if (change.changed) await this.layer.publishPresence({ channel, kind: 'leave', user });
      });
    }
  }

  /** Waits, at most `timeoutMs`, for presence updates in flight (the leaves of closed sessions). */
  async settlePresence(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(this.#presenceOps.values()), new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
  }

  #join(session: Session, sub: Subscription, channel: string): void {
    const user = session.user!.id;
    sub.tracked = true;
    this.#presenceOp(session, async () => {
      const change = await this.presence.join(channel, user, session.id);
      if (change.changed) await this.layer.publishPresence({ channel, kind: 'join', user });
    });
  }

  #presenceOp(session: Session, op: () => Promise<void>): void {
    const previous = this.#presenceOps.get(session) ?? Promise.resolve();
    const next = previous.then(op).catch((err: unknown) => {
      // An unreachable store repairs itself from its own record once it is back (RedisPresence).
      if (err instanceof LayerUnavailableError) this.log.warn({ err, session: session.id }, 'presence update failed; repaired when the store is back');
      else this.log.error({ err, session: session.id }, 'presence update failed');
    });
    this.#presenceOps.set(session, next);
    void next.then(() => {
      if (this.#presenceOps.get(session) === next) this.#presenceOps.delete(session);
    });
  }

  #attach(channel: string, namespace: Namespace): ChannelEntry {
    let entry = this.#channels.get(channel);
    if (!entry) {
      const layerReady = this.#chainLayerOp(channel, () => this.layer.subscribe(channel));
      // pending and watchers are made on first use: most channels (a user's own) never need them.
      entry = { live: new Set(), pending: null, watchers: null, floors: null, lastEpoch: null, lastOffset: 0, layerReady, namespace, held: null, listener: null };
      this.#channels.set(channel, entry);
    }
    return entry;
  }

  #detachIfEmpty(channel: string, entry: ChannelEntry): void {
    if (entry.live.size > 0 || (entry.pending?.size ?? 0) > 0 || entry.listener !== null || this.#channels.get(channel) !== entry) return;
    this.#channels.delete(channel);
    this.#chainLayerOp(channel, () => this.layer.unsubscribe(channel)).catch((err: unknown) =>
      this.log.warn({ err, channel }, 'layer unsubscribe failed'),
    );
  }

  #chainLayerOp(channel: string, op: () => Promise<void>): Promise<void> {
    const previous = this.#layerOps.get(channel) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(op);
    const tracked = next.finally(() => {
      if (this.#layerOps.get(channel) === tracked) this.#layerOps.delete(channel);
    });
    tracked.catch(() => undefined); // the caller handles the failure through `next`
    this.#layerOps.set(channel, tracked);
    return next;
  }

  async #layerCall<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      if (err instanceof LayerUnavailableError) throw new RequestError('unavailable', err.message);
      throw err;
    }
  }

  #onPublication(pub: Publication): void {
    const entry = this.#channels.get(pub.channel);
    if (!entry) return;
    if (entry.held) {
      entry.held.push(pub);
      return;
    }
    this.#deliverPublication(entry, pub);
    if (entry.live.size > 0 && entry.namespace.options.recheckOn?.includes(pub.event)) this.#recheck(entry, pub.channel);
  }

  /**
   * Asks the channel's `subscribe` rule again for every live subscriber on this node and ends the
   * subscriptions it now refuses. Publications arriving meanwhile are held and then delivered in
   * order to those who remain. A rule that fails (its database is down) keeps the subscriber: it
   * was allowed a moment ago, and a blip must not cut every dashboard off.
   */
  #recheck(entry: ChannelEntry, channel: string): void {
    const resolved = this.namespaces.resolve(channel, null);
    if (!resolved.ok) return; // cannot happen: the entry was made for a resolved channel
    const { namespace, ctx } = resolved;
    entry.held = [];
    const sessions = [...entry.live];
    const check = async (session: Session): Promise<void> => {
      let allowed = true;
      try {
        allowed = await isAllowed(namespace, 'subscribe', { ...ctx, user: session.user });
      } catch (err) {
        this.log.warn({ err, channel, session: session.id }, 'access recheck failed; the subscriber stays');
      }
      if (!allowed) this.#revoke(session, channel, new RequestError('forbidden', `no longer allowed to read ${channel.slice(0, 64)}`, 'channel'));
    };
    void Promise.all(sessions.map(check)).finally(() => {
      const held = entry.held ?? [];
      entry.held = null;
      // Through #onPublication: a held event may itself call for another recheck, which holds the rest.
      for (const pub of held) this.#onPublication(pub);
    });
  }

  /** Ends a session's subscription from the server side and tells the client why. */
  #revoke(session: Session, channel: string, error: RequestError): void {
    const sub = session.subs.get(channel);
    if (!sub) return;
    session.subs.delete(channel);
    this.unsubscribe(session, sub);
    this.metrics.requestErrors.inc({ code: error.code });
    if (session.frames === 'switchboard') {
      session.deliver(unsubscribedFrame(channel, error.toReply()));
      return;
    }
    // A Channels client cannot subscribe again by itself: told why, and let go once nothing is left.
    session.deliver(Buffer.from(channelsErrorFrame(error, channel)));
    if (session.subs.size === 0) session.owner.close(session, CloseCodes.forbidden, error.message);
  }

  #deliverPublication(entry: ChannelEntry, pub: Publication): void {
    if (entry.listener) {
      try {
        entry.listener.publication(pub);
      } catch (err) {
        this.log.error({ err, channel: pub.channel }, 'server listener failed');
      }
    }
    // Each style's frame is built on first use, once for all its subscribers.
    let native: Buffer | null = null;
    let channels: Buffer | null = null;
    const { floors } = entry;
    if (floors === null) {
      for (const session of entry.live) session.deliver(session.frames === 'switchboard' ? (native ??= messageFrame(pub)) : (channels ??= channelsMessageFrame(pub)));
    } else {
      for (const session of entry.live) {
        const floor = floors.get(session);
        if (floor !== undefined) {
          if (pub.epoch === floor.epoch && pub.offset <= floor.offset) continue;
          // Past what the reply held: from here on this session is like any other.
          floors.delete(session);
        }
        session.deliver(session.frames === 'switchboard' ? (native ??= messageFrame(pub)) : (channels ??= channelsMessageFrame(pub)));
      }
      if (floors.size === 0) entry.floors = null;
    }
    entry.lastEpoch = pub.epoch;
    entry.lastOffset = pub.offset;
    if (entry.pending) {
      for (const [sub, session] of entry.pending) {
        const frame = session.frames === 'switchboard' ? (native ??= messageFrame(pub)) : (channels ??= channelsMessageFrame(pub));
        sub.buffer?.push({ epoch: pub.epoch, offset: pub.offset, frame });
      }
    }
    this.metrics.messagesOut.inc(entry.live.size);
    this.metrics.deliveryLatency.observe(Math.max(0, Date.now() - pub.time) / 1000);
  }

  #onPresence(event: PresenceEvent): void {
    const entry = this.#channels.get(event.channel);
    if (!entry?.watchers || entry.watchers.size === 0) return;
    let native: Buffer | null = null;
    let channels: Buffer | null = null;
    for (const session of entry.watchers) {
      session.deliver(session.frames === 'switchboard' ? (native ??= presenceFrame(event.kind, event.channel, event.user)) : (channels ??= channelsPresenceFrame(event.kind, event.channel, event.user)));
    }
    this.metrics.messagesOut.inc(entry.watchers.size);
  }

  /** The layer may have dropped publications while it was cut off: close the affected sessions
   * so their clients resubscribe from their last position and recover through history. That
   * includes subscriptions still being set up: one may have read its position before the gap and
   * now wait for publications the gap took, and nothing would tell it. */
  #onResubscribed(channels: string[]): void {
    for (const channel of channels) {
      const entry = this.#channels.get(channel);
      if (!entry) continue;
      entry.listener?.gap();
      const affected = new Set(entry.live);
      if (entry.pending) for (const session of entry.pending.values()) affected.add(session);
      // Through the owner (the gateway), like every other close: counted in metrics and logged.
      for (const session of affected) session.owner.close(session, CloseCodes.shutdown, 'channel layer reconnected; resubscribe to recover');
    }
  }
}
