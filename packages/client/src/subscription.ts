import type { Listener } from './emitter.js';
import type { SwitchboardError } from './errors.js';
import type { StreamPosition } from './protocol.js';
import type { SubscriptionCore } from './subscription-core.js';

/** Publication event name -> data type, e.g. `{ cart_update: Cart; cart_item_added: Item }`. */
export type EventMap = object;

/** Where a publication sits in its channel, handed to every message listener. */
export interface PublicationMeta {
  channel: string;
  event: string;
  epoch: string;
  offset: number;
  /** UTC ISO time the server accepted the publication. */
  time: string;
}

/** A publication as the client-level 'message' event carries it. */
export interface Publication extends PublicationMeta {
  data: unknown;
}

export interface SubscribeOptions {
  /** Resume from this position (e.g. one saved in storage): publications after it are delivered
   * first if the server still has them, otherwise 'unrecovered' fires. */
  since?: StreamPosition;
}

export type SubscriptionState =
  /** Waiting for a connection (or for a retry after a temporary error). */
  | 'pending'
  /** The subscribe request is on its way. */
  | 'subscribing'
  /** Live: publications are delivered in order. */
  | 'subscribed'
  /** A gap or a new epoch was seen; resubscribing from the last position to fill it. */
  | 'resyncing'
  /** The server refused for good (e.g. forbidden); it is not retried. */
  | 'failed'
  | 'unsubscribed';

export interface SubscribedInfo extends StreamPosition {
  /** True when `since` was given and every publication after it was delivered before this event. */
  recovered: boolean;
  /** True when this subscribe resumed from an earlier position (a reconnect, a resync, or `since`). */
  resumed: boolean;
  /** True for subscriptions the server made itself (path aliases). */
  serverMade: boolean;
}

export interface UnrecoveredInfo {
  /** The position the client asked to resume from. */
  since: StreamPosition;
  /** The channel's position now; delivery continues from here. */
  position: StreamPosition;
  /** `epoch_changed`: the stream was reset (e.g. server restart without persistence).
   * `history_pruned`: the missed publications are no longer in history. */
  reason: 'epoch_changed' | 'history_pruned';
  /** Whether a 'snapshot' event follows with the channel's current state. */
  hasSnapshot: boolean;
}

/** A publication with its data typed by the event map: checking `event` narrows `data`. */
export type TypedPublication<E extends EventMap> = {
  [K in keyof E & string]: PublicationMeta & { event: K; data: E[K] };
}[keyof E & string];

/**
 * The generic 'message' listener's arguments. `event` and `data` are not tied to each other (a
 * union of tuples would be, but TypeScript then rejects listeners that declare fewer parameters);
 * the third argument is the same publication as one object whose `event` narrows its `data`.
 */
export type MessageArgs<E extends EventMap> = [event: keyof E & string, data: E[keyof E & string], publication: TypedPublication<E>];

/** Built-in subscription events. Publication events with these names reach only 'message'. */
export interface SubscriptionEvents<E extends EventMap, S> {
  /** Every publication, in offset order, exactly once. */
  message: MessageArgs<E>;
  /** Each time the subscription is (re)established, after any recovered publications. */
  subscribed: [info: SubscribedInfo];
  /** A resume could not deliver what was missed: refetch the state (unless a 'snapshot' follows). */
  unrecovered: [info: UnrecoveredInfo];
  /** The channel owner's current state, as of `position`; later publications build on it. */
  snapshot: [snapshot: S, position: StreamPosition];
  /** The server refused the subscription for good (forbidden, invalid channel...). */
  error: [error: SwitchboardError];
  join: [user: string];
  leave: [user: string];
  state: [state: SubscriptionState];
}

export type ReservedEvent = keyof SubscriptionEvents<EventMap, unknown>;

export const RESERVED_EVENTS: ReadonlySet<string> = new Set<ReservedEvent>([
  'message',
  'subscribed',
  'unrecovered',
  'snapshot',
  'error',
  'join',
  'leave',
  'state',
]);

/** A publication event's listener: its data, typed by the event map, and its position. */
export type PublicationListener<D> = (data: D, meta: PublicationMeta) => void;

/**
 * One channel subscription, made with `client.subscribe()` or by the server (path aliases).
 * It survives reconnects: the SDK resubscribes from the last position it delivered, so listeners
 * see every publication once, in order, or get 'unrecovered' when that is impossible.
 */
export class Subscription<E extends EventMap = Record<string, unknown>, S = unknown> {
  readonly #core: SubscriptionCore;

  /** Made by the client; use `client.subscribe()`. */
  constructor(core: SubscriptionCore) {
    this.#core = core;
  }

  get channel(): string {
    return this.#core.channel;
  }

  get state(): SubscriptionState {
    return this.#core.state;
  }

  /** The position of the last publication delivered (or reached by subscribing); null before that. */
  get position(): StreamPosition | null {
    const p = this.#core.position;
    return p ? { epoch: p.epoch, offset: p.offset } : null;
  }

  /** True when the server made this subscription (a path alias) rather than `client.subscribe()`. */
  get serverMade(): boolean {
    return this.#core.serverMade;
  }

  /** Settles the first time the subscription is established; rejects if it fails for good or is
   * unsubscribed first. Never rejects unobserved. */
  get ready(): Promise<SubscribedInfo> {
    return this.#core.ready;
  }

  on<K extends keyof SubscriptionEvents<E, S>>(event: K, listener: Listener<SubscriptionEvents<E, S>[K]>): () => void;
  on<K extends Exclude<keyof E & string, ReservedEvent>>(event: K, listener: PublicationListener<E[K]>): () => void;
  on(event: string, listener: (...args: never[]) => void): () => void {
    return this.#core.listen(event, listener, false);
  }

  once<K extends keyof SubscriptionEvents<E, S>>(event: K, listener: Listener<SubscriptionEvents<E, S>[K]>): () => void;
  once<K extends Exclude<keyof E & string, ReservedEvent>>(event: K, listener: PublicationListener<E[K]>): () => void;
  once(event: string, listener: (...args: never[]) => void): () => void {
    return this.#core.listen(event, listener, true);
  }

  off<K extends keyof SubscriptionEvents<E, S>>(event: K, listener: Listener<SubscriptionEvents<E, S>[K]>): void;
  off<K extends Exclude<keyof E & string, ReservedEvent>>(event: K, listener: PublicationListener<E[K]>): void;
  off(event: string, listener: (...args: never[]) => void): void {
    this.#core.unlisten(event, listener);
  }

  /** Stops the subscription (also on the server). Resolves once the server was told, never rejects. */
  unsubscribe(): Promise<void> {
    return this.#core.unsubscribe();
  }
}
