import { useCallback, useState, useSyncExternalStore } from 'react';
import type { ChannelEntry, ChannelWatcher } from './channel-entry.js';
import { useSwitchboard } from './provider.js';
import { storeFor, type ClientStore } from './store.js';
import type { PresenceResult } from './types.js';

/**
 * The users present on `channel`, kept up to date by joins and leaves (`null`: none). Shares the
 * channel's subscription with useChannel; the list is fetched when the subscription is made and
 * again after every reconnect, since joins and leaves are not replayed. Needs the namespace's
 * `presence` permission (else `error` is `forbidden`).
 */
export function usePresence(channel: string | null): PresenceResult {
  const store = storeFor(useSwitchboard());
  const [hook] = useState(() => new PresenceHook());
  const subscribe = useCallback((notify: () => void) => hook.attach(store, channel, notify), [hook, store, channel]);
  const read = (): PresenceResult => hook.read(store, channel);
  return useSyncExternalStore(subscribe, read, read);
}

const IDLE: PresenceResult = { users: [], status: 'idle', error: null };
const CONNECTING: PresenceResult = { users: [], status: 'connecting', error: null };

class PresenceHook implements ChannelWatcher {
  readonly presence = true;
  #entry: ChannelEntry | null = null;
  #notify: (() => void) | null = null;
  #cache: { view: unknown; presence: unknown; result: PresenceResult } | null = null;

  attach(store: ClientStore, channel: string | null, notify: () => void): () => void {
    if (channel === null) return () => undefined;
    const entry = store.entry(channel);
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

  read(store: ClientStore, channel: string | null): PresenceResult {
    if (channel === null) return IDLE;
    const entry = this.#entry?.channel === channel && !this.#entry.disposed ? this.#entry : store.peek(channel);
    if (!entry || entry.disposed) return CONNECTING;
    const { view, presenceView } = entry;
    if (this.#cache?.view === view && this.#cache.presence === presenceView) return this.#cache.result;
    const error = presenceView.error ?? view.error;
    const status = error ? 'failed' : presenceView.loaded ? view.status : view.status === 'live' ? 'connecting' : view.status;
    const result: PresenceResult = { users: presenceView.users, status, error };
    this.#cache = { view, presence: presenceView, result };
    return result;
  }

  changed(): void {
    this.#notify?.();
  }
}
