import type { EventMap, PublicationMeta, UnrecoveredInfo } from '@switchboard/client';
import { useCallback, useState, useSyncExternalStore } from 'react';
import type { AnyEvent, ChannelEntry, ChannelWatcher, EntryView, Replay } from './channel-entry.js';
import { useSwitchboard } from './provider.js';
import { storeFor, type ClientStore } from './store.js';
import type { ChannelEvent, ChannelResult, UseChannelOptions } from './types.js';

/**
 * Subscribes to `channel` while the component is mounted (`null`: nothing is subscribed) and
 * returns where it stands and its live state. Components using the same channel share one
 * subscription; the last to unmount ends it.
 *
 * ```tsx
 * const { state: cart, status } = useChannel<CartEvents, Cart>(`cart:${userId}`, { reduce: cartReducer });
 * ```
 */
export function useChannel<E extends EventMap = Record<string, unknown>, S = unknown>(channel: string | null, options: UseChannelOptions<E, S> = {}): ChannelResult<E, S> {
  const store = storeFor(useSwitchboard());
  const [hook] = useState(() => new ChannelHook<E, S>());
  // The latest callbacks and reducer, for publications that arrive between renders.
  hook.options = options;
  const subscribe = useCallback((notify: () => void) => hook.attach(store, channel, notify), [hook, store, channel]);
  const read = (): ChannelResult<E, S> => hook.read(store, channel);
  return useSyncExternalStore(subscribe, read, read);
}

interface Seeded<S> {
  has: boolean;
  value: S | undefined;
}

/** One useChannel: its own state (folded by its own reducer) over the channel's shared entry. */
class ChannelHook<E extends EventMap, S> implements ChannelWatcher {
  options: UseChannelOptions<E, S> = {};
  #entry: ChannelEntry | null = null;
  #notify: (() => void) | null = null;
  #state: Seeded<S> = { has: false, value: undefined };
  /** Bumped whenever #state changes, so read() knows to build a new result. */
  #version = 0;
  #cache: { key: readonly unknown[]; result: ChannelResult<E, S> } | null = null;

  attach(store: ClientStore, channel: string | null, notify: () => void): () => void {
    if (channel === null) return () => undefined;
    const entry = store.entry(channel);
    const replay = entry.replay();
    this.#setState(fold(replay, this.options));
    // Catching up needs every publication since the snapshot; when too many went by, ask for a new one.
    if (this.options.reduce && replay.hasSnapshot && !replay.complete) entry.refresh();
    this.#entry = entry;
    this.#notify = notify;
    entry.retain(this);
    return () => {
      entry.release(this);
      if (this.#entry === entry) {
        this.#entry = null;
        this.#notify = null;
      }
    };
  }

  read(store: ClientStore, channel: string | null): ChannelResult<E, S> {
    const { initial } = this.options;
    if (channel === null) return this.#cached(['idle', initial], () => result({ ...NO_VIEW, status: 'idle' }, initial !== undefined, initial));
    const attached = this.#entry?.channel === channel && !this.#entry.disposed ? this.#entry : null;
    if (attached) {
      const { has, value } = this.#state;
      return this.#cached([attached.view, this.#version], () => result(attached.view, has, value));
    }
    // Not subscribed yet (first render, or the channel just changed): show what the channel's
    // other components already have, if any, computed the way attach() will.
    const shared = store.peek(channel);
    if (!shared || shared.disposed) return this.#cached(['connecting', channel, initial], () => result(NO_VIEW, initial !== undefined, initial));
    return this.#cached([shared.view, initial, this.options.reduce], () => {
      const seeded = fold(shared.replay(), this.options);
      return result(shared.view, seeded.has, seeded.value);
    });
  }

  // ----- ChannelWatcher: called by the entry, between renders.

  publication(event: AnyEvent): void {
    const typed = event as unknown as ChannelEvent<E>;
    const { reduce, on } = this.options;
    const { has, value } = this.#state;
    if (reduce && has) this.#setState({ has, value: reduce(value as S, typed) });
    const handler = on?.[typed.event] as ((data: unknown, meta: PublicationMeta) => void) | undefined;
    handler?.(event.data, event);
  }

  snapshot(snapshot: unknown): void {
    this.#setState({ has: true, value: snapshot as S });
    this.options.onSnapshot?.(snapshot as S);
  }

  resync(info: UnrecoveredInfo): void {
    this.options.onResync?.(info);
  }

  changed(): void {
    this.#notify?.();
  }

  #setState(state: Seeded<S>): void {
    this.#state = state;
    this.#version += 1;
  }

  /** The same result object while `key` is unchanged: useSyncExternalStore compares by identity. */
  #cached(key: readonly unknown[], build: () => ChannelResult<E, S>): ChannelResult<E, S> {
    const cache = this.#cache;
    if (cache && cache.key.length === key.length && cache.key.every((k, i) => Object.is(k, key[i]))) return cache.result;
    const built = build();
    this.#cache = { key, result: built };
    return built;
  }
}

const NO_VIEW: EntryView = { status: 'connecting', snapshot: undefined, hasSnapshot: false, error: null, lastEvent: null, resyncedAt: null };

function result<E extends EventMap, S>(view: EntryView, has: boolean, value: S | undefined): ChannelResult<E, S> {
  return {
    status: view.status,
    state: has ? value : undefined,
    snapshot: view.hasSnapshot ? (view.snapshot as S) : undefined,
    error: view.error,
    lastEvent: view.lastEvent as ChannelEvent<E> | null,
    resyncedAt: view.resyncedAt,
  };
}

/** The state a component joining now starts from: the latest snapshot (or `initial`) with the
 * publications since folded in. Pure: read() runs it during render. */
function fold<E extends EventMap, S>(replay: Replay, options: UseChannelOptions<E, S>): Seeded<S> {
  const { reduce, initial } = options;
  const has = replay.hasSnapshot || initial !== undefined;
  let value = replay.hasSnapshot ? (replay.snapshot as S) : initial;
  if (reduce && has) for (const event of replay.events) value = reduce(value as S, event as unknown as ChannelEvent<E>);
  return { has, value };
}
