import { Emitter, type Listener } from './emitter.js';
import { SwitchboardError } from './errors.js';
import { Timer } from './timer.js';
import type { MessageFrame, StreamPosition, SubscribeResult } from './protocol.js';
import type { Outcome } from './requests.js';
import {
  RESERVED_EVENTS,
  Subscription,
  type Publication,
  type PublicationMeta,
  type SubscribedInfo,
  type SubscriptionEvents,
  type SubscriptionState,
} from './subscription.js';

/** What a subscription needs from the client that owns it. */
export interface SubscriptionHost {
  /** Bumped on every welcome, so work started on an older connection can tell it is stale. */
  readonly generation: number;
  isConnected(): boolean;
  /** Sends a subscribe; `settle` runs synchronously when the reply frame is handled, before any
   * frame after it, so the first live message cannot slip in ahead of the recovered ones. */
  subscribe(channel: string, since: StreamPosition | undefined, settle: (outcome: Outcome<SubscribeResult>) => void): void;
  unsubscribe(channel: string): Promise<void>;
  /** Runs tasks for one channel one after another, so a subscribe never overtakes an unsubscribe. */
  serial(channel: string, task: () => Promise<void>): Promise<void>;
  retryDelay(attempt: number): number;
  /** The subscription is over (unsubscribed or failed): the client drops it from its table. */
  forget(core: SubscriptionCore): void;
  published(publication: Publication): void;
  serverSubscribed(sub: Subscription, info: SubscribedInfo): void;
}

type CoreEvents = SubscriptionEvents<Record<string, unknown>, unknown>;
type AnyListener = (...args: never[]) => void;

/**
 * The state behind a Subscription: position tracking, dedupe, gap detection and the
 * (re)subscribe flow. Kept apart from the public class so its methods stay out of the API.
 */
export class SubscriptionCore {
  readonly facade: Subscription;
  readonly ready: Promise<SubscribedInfo>;
  state: SubscriptionState = 'pending';
  /** The last position delivered to listeners: where a resubscribe resumes from. */
  position: StreamPosition | null;
  serverMade = false;

  readonly #host: SubscriptionHost;
  readonly #lifecycle = new Emitter<CoreEvents>();
  readonly #byEvent = new Emitter<Record<string, [data: unknown, meta: PublicationMeta]>>();
  /** The connection generation on which the server holds (or, after a timeout, may hold) this
   * subscription; anything else means it must be subscribed afresh before use. */
  #onServer = -1;
  readonly #retryTimer = new Timer();
  #retries = 0;
  #settleReady: { resolve: (info: SubscribedInfo) => void; reject: (err: SwitchboardError) => void } | null = null;

  constructor(
    host: SubscriptionHost,
    readonly channel: string,
    since: StreamPosition | undefined,
  ) {
    this.#host = host;
    this.position = since ? { epoch: since.epoch, offset: since.offset } : null;
    this.ready = new Promise<SubscribedInfo>((resolve, reject) => {
      this.#settleReady = { resolve, reject };
    });
    // Apps that only use events never look at `ready`; its rejection must not crash Node.
    this.ready.catch(() => undefined);
    this.facade = new Subscription(this);
  }

  listen(event: string, listener: AnyListener, once: boolean): () => void {
    if (RESERVED_EVENTS.has(event)) {
      const name = event as keyof CoreEvents;
      const fn = listener as unknown as Listener<CoreEvents[typeof name]>;
      return once ? this.#lifecycle.once(name, fn) : this.#lifecycle.on(name, fn);
    }
    const fn = listener as unknown as Listener<[unknown, PublicationMeta]>;
    return once ? this.#byEvent.once(event, fn) : this.#byEvent.on(event, fn);
  }

  unlisten(event: string, listener: AnyListener): void {
    if (RESERVED_EVENTS.has(event)) {
      const name = event as keyof CoreEvents;
      this.#lifecycle.off(name, listener as unknown as Listener<CoreEvents[typeof name]>);
    } else {
      this.#byEvent.off(event, listener as unknown as Listener<[unknown, PublicationMeta]>);
    }
  }

  get done(): boolean {
    return this.state === 'unsubscribed' || this.state === 'failed';
  }

  // ----- Called by the client.

  /** A connection was established. Server-made subscriptions wait for the server to remake them. */
  connected(): void {
    if (this.state === 'pending' && !this.serverMade) this.#schedule(false);
  }

  disconnected(): void {
    this.#retryTimer.clear();
    this.#onServer = -1;
    if (this.state === 'subscribing' || this.state === 'subscribed' || this.state === 'resyncing') this.#setState('pending');
  }

  message(frame: MessageFrame): void {
    // Outside 'subscribed' a publication cannot be placed; the next subscribe resumes from
    // `position` and brings it back through history.
    if (this.state !== 'subscribed') return;
    const pos = this.position;
    if (pos && frame.epoch === pos.epoch) {
      if (frame.offset <= pos.offset) return; // already delivered
      if (frame.offset === pos.offset + 1) {
        this.#deliver(frame.event, frame.data, frame.epoch, frame.offset, frame.time);
        return;
      }
    }
    // A gap, or a new epoch: resubscribe from the last position and let the server fill it in
    // (or say it cannot: 'unrecovered').
    this.#schedule(true);
  }

  presence(kind: 'join' | 'leave', user: string): void {
    if (!this.done) this.#lifecycle.emit(kind, user);
  }

  /** The server subscribed this connection itself (a path alias) and says where the stream is. */
  serverSubscribed(result: SubscribeResult, generation: number): void {
    if (this.done) return;
    this.serverMade = true;
    this.#onServer = generation;
    this.#retryTimer.clear();
    const pos = this.position;
    if (!pos) {
      this.#apply(result, undefined);
    } else if (pos.epoch === result.epoch && pos.offset === result.offset) {
      // Nothing was published while away: this is a full recovery.
      this.#apply({ ...result, recovered: true, publications: [] }, pos);
    } else {
      // Publications were missed: fetch them with a resubscribe from our position.
      this.#schedule(true);
    }
  }

  fail(error: SwitchboardError): void {
    if (this.done) return;
    this.#retryTimer.clear();
    this.#setState('failed');
    this.#host.forget(this);
    this.#settleReady?.reject(error);
    this.#settleReady = null;
    this.#lifecycle.emit('error', error);
  }

  unsubscribe(): Promise<void> {
    if (this.done) return Promise.resolve();
    this.#retryTimer.clear();
    this.#setState('unsubscribed');
    this.#host.forget(this);
    this.#settleReady?.reject(new SwitchboardError('client_closed', `unsubscribed from ${this.channel} before it was ready`));
    this.#settleReady = null;
    // Queued behind any subscribe in flight, so it sees whether that one reached the server.
    return this.#host.serial(this.channel, async () => {
      if (this.#onServer !== this.#host.generation || !this.#host.isConnected()) return;
      this.#onServer = -1;
      await this.#host.unsubscribe(this.channel).catch(() => undefined);
    });
  }

  // ----- The subscribe flow.

  #schedule(resync: boolean): void {
    this.#setState(resync ? 'resyncing' : 'subscribing');
    const generation = this.#host.generation;
    void this.#host.serial(this.channel, () => this.#run(generation));
  }

  async #run(generation: number): Promise<void> {
    const host = this.#host;
    const stale = () => generation !== host.generation || !host.isConnected();
    if (stale() || this.done || this.state === 'pending') return;
    // Another task (or the server) already re-established it on this connection.
    if (this.state === 'subscribed' && this.#onServer === generation) return;
    if (this.#onServer === generation) {
      // The server still holds the old subscription: drop it so the new one can resume from `since`.
      await host.unsubscribe(this.channel).catch(() => undefined);
      if (stale() || this.done) return;
      this.#onServer = -1;
    }
    const since = this.position ?? undefined;
    const outcome = await new Promise<Outcome<SubscribeResult>>((resolve) => {
      host.subscribe(this.channel, since, (o) => {
        if (o.ok && generation === host.generation) {
          this.#onServer = generation;
          // Unsubscribed meanwhile: the unsubscribe task queued behind this one removes it.
          if (!this.done) {
            this.#retries = 0;
            this.#apply(o.result, since);
          }
        }
        resolve(o);
      });
    });
    if (outcome.ok || stale() || this.done) return;
    const { error } = outcome;
    if (error.code === 'already_subscribed') {
      if (this.state === 'subscribed' && this.#onServer === generation) return; // the server's own subscription won
      this.#onServer = generation;
      this.#retryLater();
    } else if (error.temporary) {
      // After a timeout the server may yet complete the subscribe: unsubscribe before retrying.
      if (error.code === 'timeout') this.#onServer = generation;
      this.#retryLater();
    } else {
      this.fail(error);
    }
  }

  /** Delivers what a subscribe result brings, in order: recovered publications, the snapshot, then
   * the lifecycle events. Runs synchronously within the reply's frame handler. */
  #apply(result: SubscribeResult, since: StreamPosition | undefined): void {
    const { epoch } = result;
    // Trust `recovered` only if the publications really run from right after `since` up to the
    // reported position: anything less would be a silent gap, so the app is told to refetch instead.
    const recovered = since !== undefined && result.recovered === true && coversGap(result, since);
    if (recovered && Array.isArray(result.publications)) {
      for (const p of result.publications) {
        if (this.done) return;
        const pos = this.position;
        if (pos && pos.epoch === epoch && p.offset <= pos.offset) continue;
        this.#deliver(p.event, p.data, epoch, p.offset, p.time);
      }
    }
    if (this.done) return;
    const position = { epoch, offset: result.offset };
    this.position = position;
    this.#setState('subscribed');
    const hasSnapshot = result.snapshot !== undefined;
    if (hasSnapshot) this.#lifecycle.emit('snapshot', result.snapshot, { ...position });
    const info: SubscribedInfo = { epoch, offset: result.offset, recovered, resumed: since !== undefined, serverMade: this.serverMade };
    this.#lifecycle.emit('subscribed', info);
    this.#settleReady?.resolve(info);
    this.#settleReady = null;
    if (this.serverMade) this.#host.serverSubscribed(this.facade, info);
    if (since && !recovered) {
      const reason = since.epoch === epoch ? 'history_pruned' : 'epoch_changed';
      this.#lifecycle.emit('unrecovered', { since: { ...since }, position: { ...position }, reason, hasSnapshot });
    }
  }

  #deliver(event: string, data: unknown, epoch: string, offset: number, time: string): void {
    this.position = { epoch, offset };
    const meta: PublicationMeta = { channel: this.channel, event, epoch, offset, time };
    if (!RESERVED_EVENTS.has(event)) this.#byEvent.emit(event, data, meta);
    const publication = { ...meta, data };
    this.#lifecycle.emit('message', event, data, publication);
    this.#host.published(publication);
  }

  #retryLater(): void {
    this.#setState('pending');
    this.#retryTimer.set(() => {
      if (this.state === 'pending' && this.#host.isConnected()) this.#schedule(false);
    }, this.#host.retryDelay(this.#retries++));
  }

  #setState(state: SubscriptionState): void {
    if (this.state === state) return;
    this.state = state;
    this.#lifecycle.emit('state', state);
  }
}

/** Whether a recovery reply's publications are exactly the offsets since.offset+1 .. result.offset. */
function coversGap(result: SubscribeResult, since: StreamPosition): boolean {
  if (result.epoch !== since.epoch || !Array.isArray(result.publications)) return false;
  let expected = since.offset + 1;
  for (const p of result.publications) {
    if (p.offset !== expected) return false;
    expected += 1;
  }
  return expected - 1 === result.offset;
}
