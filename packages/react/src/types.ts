import type { EventMap, PublicationMeta, SwitchboardError, TypedPublication, UnrecoveredInfo } from '@switchboard/client';

/**
 * Where a channel stands, for one component:
 * - `idle`: no channel was given (`useChannel(null)`), nothing is subscribed;
 * - `connecting`: subscribing for the first time (or waiting for the connection to do so);
 * - `live`: subscribed; publications arrive in order;
 * - `catching_up`: it was live, the connection dropped or a gap was seen, and it is resubscribing
 *   to get what it missed (or a new snapshot when that is gone);
 * - `failed`: the server refused for good (`forbidden`, `invalid_channel`, or access taken away
 *   while subscribed); `error` says why. It is not retried while components stay mounted.
 */
export type ChannelStatus = 'idle' | 'connecting' | 'live' | 'catching_up' | 'failed';

/** A publication with its data typed by the event map: checking `event` narrows `data`. */
export type ChannelEvent<E extends EventMap> = TypedPublication<E>;

/** Folds one publication into the state. Must be pure: it may run more than once per publication
 * (each component on the channel folds for itself) and it is not called before there is a state. */
export type ChannelReducer<E extends EventMap, S> = (state: S, event: ChannelEvent<E>) => S;

/** One callback per publication event, typed by the event map. */
export type ChannelHandlers<E extends EventMap> = {
  [K in keyof E & string]?: (data: E[K], meta: PublicationMeta) => void;
};

export interface UseChannelOptions<E extends EventMap, S> {
  /**
   * Keeps live state: the state is the latest snapshot (or `initial`) folded through `reduce` over
   * every publication since. A new snapshot (after a failed recovery) replaces it. Publications
   * that follow a snapshot may already be reflected in it: compare a version where the data has one.
   */
  reduce?: ChannelReducer<E, S>;
  /** The state before any snapshot arrives; the seed on channels that have no snapshot. */
  initial?: S;
  /** Called for each publication of that event, in order, while the component is mounted. */
  on?: ChannelHandlers<E>;
  /** Called with each snapshot the server sends (on subscribe, and again after a failed recovery). */
  onSnapshot?: (snapshot: S) => void;
  /** Publications were missed and cannot be replayed. With a snapshot (`info.hasSnapshot`) the
   * state was already replaced by it; without one, refetch what the page shows. */
  onResync?: (info: UnrecoveredInfo) => void;
}

export interface ChannelResult<E extends EventMap, S> {
  status: ChannelStatus;
  /** The latest snapshot (or `initial`) with every publication since folded in by `reduce`; without
   * `reduce`, the latest snapshot. Undefined until there is either. */
  state: S | undefined;
  /** The latest snapshot the server sent, as it came. */
  snapshot: S | undefined;
  /** Why the channel failed (status `failed`), else null. */
  error: SwitchboardError | null;
  /** The newest publication on the channel, or null before the first. */
  lastEvent: ChannelEvent<E> | null;
  /** When (ms since the epoch) recovery last failed and the state was rebuilt from a new snapshot
   * (or, on channels without one, could not be: see `onResync`); null if it never happened. */
  resyncedAt: number | null;
}

/**
 * The connection, for a banner:
 * - `connecting`: the first connection is being made;
 * - `live`: connected, and every channel in use is live;
 * - `catching_up`: connected again after a drop, and channels are still recovering what they missed;
 * - `offline`: not connected. With `willReconnect` the client is retrying on its own; without it,
 *   it gave up (`error` says why: e.g. `account_revoked` means sign in again) or was closed.
 */
export type ConnectionStatus = 'connecting' | 'live' | 'catching_up' | 'offline';

export interface ConnectionState {
  status: ConnectionStatus;
  willReconnect: boolean;
  /** What made the last attempt fail or the client give up; null while connected. */
  error: SwitchboardError | null;
}

export interface PresenceResult {
  /** The ids of the users present, each once, in the order they were first seen. */
  users: readonly string[];
  /** The channel's status; `connecting` until the first list of users has arrived. */
  status: ChannelStatus;
  /** Why the channel or the presence list failed (e.g. `forbidden`: no presence permission). */
  error: SwitchboardError | null;
}
