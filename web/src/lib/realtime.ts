import { createContext, createElement, useContext, useEffect, useMemo, useRef, useState, useSyncExternalStore, type ReactNode } from 'react';
import {
  CloseCodes,
  SwitchboardClient,
  type EventMap,
  type PresenceResult,
  type StateChange,
  type StreamPosition,
  type Subscription,
  type SubscriptionState,
  type SwitchboardError,
  type TypedPublication,
  type UnrecoveredInfo,
} from '@switchboard/client';

/**
 * The only way pages reach the socket. Its exports carry the names of @switchboard/react's
 * (SwitchboardProvider, useChannel, usePresence, useConnectionState) so that moving to that package
 * changes this file, not the pages. Until then it is a thin layer over @switchboard/client.
 */

/** What the connection banner shows. */
export type ConnectionStatus =
  /** The first connection is being made. */
  | 'connecting'
  /** Connected, and every channel is up to date: changes appear as they happen. */
  | 'live'
  /** No connection (the device is offline, or the server cannot be reached); the SDK keeps trying. */
  | 'offline'
  /** Connected again after a break: channels are being brought up to date from where they were. */
  | 'catching-up';

export interface ConnectionState {
  status: ConnectionStatus;
  /** Why it is offline, in words, when known. */
  reason: string | null;
  /** False when the SDK gave up (e.g. too many tabs open): reloading is the way back. */
  retrying: boolean;
}

const SETTLING: ReadonlySet<SubscriptionState> = new Set(['pending', 'subscribing', 'resyncing']);

/** Close codes that end the session: the token is refused, or its account changed. */
const SESSION_ENDED: Partial<Record<number, string>> = {
  [CloseCodes.unauthorized]: 'Your session is no longer valid. Sign in again to carry on.',
  [CloseCodes.accountRevoked]: 'Your account was changed by an admin of your shop. Sign in again to carry on.',
  [CloseCodes.tokenExpired]: 'Your session expired. Sign in again to carry on.',
};

function reasonFor(change: Extract<StateChange, { state: 'disconnected' }>): string {
  if (change.code === CloseCodes.shutdown) return 'The server is restarting.';
  if (change.code === CloseCodes.tooManyConnections) return 'This account has too many tabs or devices open. Close some, then reload this page.';
  return 'The server cannot be reached.';
}

/** Derives the banner's state from the client's connection and its channels. */
class StatusTracker {
  readonly #client: SwitchboardClient;
  readonly #listeners = new Set<() => void>();
  #snapshot: ConnectionState = { status: 'connecting', reason: null, retrying: true };
  /** A disconnect happened since the last welcome. */
  #down = false;
  #reason: string | null = null;
  #retrying = true;
  /** Connected again after a break, until every channel has resubscribed. */
  #recovering = false;

  constructor(client: SwitchboardClient) {
    this.#client = client;
  }

  onState(change: StateChange): void {
    if (change.state === 'connected') {
      this.#recovering = this.#down;
      this.#down = false;
      this.#retrying = true;
    } else if (change.state === 'disconnected') {
      this.#down = true;
      this.#reason = reasonFor(change);
      this.#retrying = change.willReconnect;
    }
    this.update();
  }

  update = (): void => {
    const next = this.#compute();
    const prev = this.#snapshot;
    if (next.status === prev.status && next.reason === prev.reason && next.retrying === prev.retrying) return;
    this.#snapshot = next;
    for (const listener of this.#listeners) listener();
  };

  #compute(): ConnectionState {
    if (!navigator.onLine) return { status: 'offline', reason: 'This device is offline.', retrying: true };
    const client = this.#client;
    if (client.state === 'connected') {
      const subs = client.subscriptions;
      const catchingUp = subs.some((s) => s.state === 'resyncing') || (this.#recovering && subs.some((s) => SETTLING.has(s.state)));
      if (catchingUp) return { status: 'catching-up', reason: null, retrying: true };
      this.#recovering = false;
      return { status: 'live', reason: null, retrying: true };
    }
    if (this.#down) return { status: 'offline', reason: this.#reason, retrying: this.#retrying };
    return { status: 'connecting', reason: null, retrying: true };
  }

  subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  };

  get = (): ConnectionState => this.#snapshot;
}

interface Realtime {
  client: SwitchboardClient;
  tracker: StatusTracker;
  /** Channels in use by mounted components, counted, so one unmounting does not end another's. */
  acquire<E extends EventMap, S>(channel: string): Subscription<E, S>;
  release(channel: string): void;
}

const RealtimeContext = createContext<Realtime | null>(null);

function useRealtime(): Realtime {
  const realtime = useContext(RealtimeContext);
  if (!realtime) throw new Error('useChannel, usePresence and useConnectionState need a <SwitchboardProvider> above them');
  return realtime;
}

/** The node that served the page: the socket is on the same host (CSP connect-src allows it). */
function socketUrl(): string {
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/ws`;
}

export interface SwitchboardProviderProps {
  token: string;
  /** The socket was refused for good (token expired or revoked): the session is over, in words. */
  onSessionEnded?: (reason: string) => void;
  children?: ReactNode;
}

/** One connection per signed-in tab, for every page under it. Remount (key) it for a new token. */
export function SwitchboardProvider({ token, onSessionEnded, children }: SwitchboardProviderProps) {
  const [realtime] = useState<Realtime>(() => {
    // Reconnect attempts back off up to 5 s (not the SDK's 15 s): a person is watching the banner.
    const client = new SwitchboardClient({ url: socketUrl, token, backoff: { minMs: 250, maxMs: 5000 } });
    const counts = new Map<string, number>();
    return {
      client,
      tracker: new StatusTracker(client),
      acquire<E extends EventMap, S>(channel: string) {
        counts.set(channel, (counts.get(channel) ?? 0) + 1);
        return client.subscribe<E, S>(channel);
      },
      release(channel) {
        const left = (counts.get(channel) ?? 1) - 1;
        if (left > 0) {
          counts.set(channel, left);
          return;
        }
        counts.delete(channel);
        void client.getSubscription(channel)?.unsubscribe();
      },
    };
  });
  const ended = useRef(onSessionEnded);
  useEffect(() => {
    ended.current = onSessionEnded;
  });

  useEffect(() => {
    const { client, tracker } = realtime;
    const offState = client.on('state', (change) => {
      tracker.onState(change);
      if (change.state === 'disconnected' && !change.willReconnect) {
        const reason = SESSION_ENDED[change.code];
        if (reason) ended.current?.(reason);
      }
    });
    // Back online: try now rather than at the end of the current backoff delay.
    const online = (): void => {
      tracker.update();
      if (client.state !== 'connected') {
        client.close();
        client.connect().catch(() => {});
      }
    };
    window.addEventListener('online', online);
    window.addEventListener('offline', tracker.update);
    // Failures show in the state (the banner); connect() rejects only when the client gives up.
    client.connect().catch(() => {});
    return () => {
      offState();
      window.removeEventListener('online', online);
      window.removeEventListener('offline', tracker.update);
      client.close();
    };
  }, [realtime]);

  return createElement(RealtimeContext.Provider, { value: realtime }, children);
}

/** The connection as the banner shows it; re-renders when it changes. */
export function useConnectionState(): ConnectionState {
  const { tracker } = useRealtime();
  return useSyncExternalStore(tracker.subscribe, tracker.get);
}

export interface ChannelHandlers<E extends EventMap, S> {
  /** Every publication, once, in order (also those recovered after a reconnect). */
  onMessage?: (publication: TypedPublication<E>) => void;
  /** The channel owner's current state (cart, order), on subscribing and when history could not fill a gap. */
  onSnapshot?: (snapshot: S, position: StreamPosition) => void;
  /** Missed publications are gone and no snapshot follows: refetch over REST. */
  onUnrecovered?: (info: UnrecoveredInfo) => void;
}

export interface ChannelStatus {
  /** 'idle' while `channel` is null. */
  state: SubscriptionState | 'idle';
  /** Set when the server refused the channel for good (e.g. `forbidden`). */
  error: SwitchboardError | null;
}

/**
 * Subscribes while the component is mounted (and `channel` is not null). Handlers may change on
 * every render; the latest are called. Events are typed by `E`, the snapshot by `S`.
 */
export function useChannel<E extends EventMap = Record<string, unknown>, S = unknown>(channel: string | null, handlers: ChannelHandlers<E, S> = {}): ChannelStatus {
  const realtime = useRealtime();
  const latest = useRef(handlers);
  useEffect(() => {
    latest.current = handlers;
  });
  const [status, setStatus] = useState<ChannelStatus>({ state: 'idle', error: null });

  useEffect(() => {
    if (channel === null) {
      setStatus({ state: 'idle', error: null });
      return;
    }
    const sub = realtime.acquire<E, S>(channel);
    setStatus({ state: sub.state, error: null });
    const offs = [
      sub.on('message', (_event, _data, publication) => latest.current.onMessage?.(publication)),
      sub.on('snapshot', (snapshot, position) => latest.current.onSnapshot?.(snapshot, position)),
      sub.on('unrecovered', (info) => latest.current.onUnrecovered?.(info)),
      sub.on('error', (error) => setStatus((s) => ({ ...s, error }))),
      sub.on('state', (state) => {
        setStatus((s) => ({ ...s, state }));
        realtime.tracker.update();
      }),
    ];
    realtime.tracker.update();
    return () => {
      for (const off of offs) off();
      realtime.release(channel);
      realtime.tracker.update();
    };
  }, [realtime, channel]);

  return status;
}

/** Who is in a presence-tracked channel (user ids, one per user however many tabs). */
export function usePresence(channel: string | null): string[] {
  const realtime = useRealtime();
  const [users, setUsers] = useState<string[]>([]);

  useEffect(() => {
    if (channel === null) {
      setUsers([]);
      return;
    }
    let alive = true;
    const sub = realtime.acquire(channel);
    const refresh = (): void => {
      realtime.client.presence(channel).then(
        (result: PresenceResult) => {
          if (alive) setUsers([...new Set(result.users.map((u) => u.user))]);
        },
        () => {},
      );
    };
    const offs = [
      sub.on('subscribed', refresh),
      sub.on('join', (user) => setUsers((list) => (list.includes(user) ? list : [...list, user]))),
      sub.on('leave', (user) => setUsers((list) => list.filter((u) => u !== user))),
    ];
    if (sub.state === 'subscribed') refresh();
    return () => {
      alive = false;
      for (const off of offs) off();
      realtime.release(channel);
    };
  }, [realtime, channel]);

  return useMemo(() => [...users].sort(), [users]);
}
