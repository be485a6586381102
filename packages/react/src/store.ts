import type { StateChange, SwitchboardClient, SwitchboardError } from '@switchboard/client';
import { ChannelEntry } from './channel-entry.js';
import type { ConnectionState, ConnectionStatus } from './types.js';

/**
 * The hooks' shared state for one client: its channels (one entry per channel, however many
 * components use it) and its connection state. Kept per client rather than per provider, so that
 * two providers given the same client still share one subscription per channel.
 */
export class ClientStore {
  readonly #client: SwitchboardClient;
  readonly #entries = new Map<string, ChannelEntry>();
  readonly #connectionListeners = new Set<() => void>();
  #connection: ConnectionState;
  #lastChange: StateChange | null = null;
  /** A connection has dropped or failed since the client started: not connected now means offline. */
  #hadTrouble = false;
  /** Why the latest attempt failed, kept through the next attempt. */
  #lastError: SwitchboardError | null = null;

  constructor(client: SwitchboardClient) {
    this.#client = client;
    this.#connection = this.#computeConnection();
    client.on('state', (change) => {
      this.#lastChange = change;
      if (change.state === 'disconnected') {
        this.#hadTrouble = true;
        this.#lastError = change.error ?? null;
      }
      this.#refreshConnection();
    });
  }

  /** The channel's entry if a component already uses it. */
  peek(channel: string): ChannelEntry | undefined {
    return this.#entries.get(channel);
  }

  /** The channel's entry, made (and subscribed) if no component uses it yet. */
  entry(channel: string): ChannelEntry {
    let entry = this.#entries.get(channel);
    if (!entry || entry.disposed) {
      entry = new ChannelEntry(this.#client, channel, {
        disposed: (e) => {
          if (this.#entries.get(channel) === e) this.#entries.delete(channel);
          this.#refreshConnection();
        },
        statusChanged: () => this.#refreshConnection(),
      });
      this.#entries.set(channel, entry);
    }
    return entry;
  }

  // ----- The connection, in the shape useSyncExternalStore wants (stable functions).

  readonly subscribeConnection = (listener: () => void): (() => void) => {
    this.#connectionListeners.add(listener);
    return () => this.#connectionListeners.delete(listener);
  };

  readonly getConnection = (): ConnectionState => this.#connection;

  #refreshConnection(): void {
    const next = this.#computeConnection();
    const now = this.#connection;
    if (next.status === now.status && next.willReconnect === now.willReconnect && next.error === now.error) return;
    this.#connection = next;
    for (const listener of [...this.#connectionListeners]) listener();
  }

  #computeConnection(): ConnectionState {
    const change = this.#lastChange;
    if (this.#client.state === 'connected') {
      const catchingUp = [...this.#entries.values()].some((e) => e.view.status === 'catching_up');
      return { status: catchingUp ? 'catching_up' : 'live', willReconnect: true, error: null };
    }
    // While disconnected the last change says whether the client retries; while connecting it does.
    const error: SwitchboardError | null = change?.state === 'disconnected' ? (change.error ?? null) : this.#lastError;
    const willReconnect = change?.state === 'disconnected' ? change.willReconnect : true;
    // Attempts after a drop keep saying offline (not connecting), so a banner does not flicker.
    const status: ConnectionStatus = this.#hadTrouble ? 'offline' : 'connecting';
    return { status, willReconnect, error };
  }
}

const stores = new WeakMap<SwitchboardClient, ClientStore>();

export function storeFor(client: SwitchboardClient): ClientStore {
  let store = stores.get(client);
  if (!store) {
    store = new ClientStore(client);
    stores.set(client, store);
  }
  return store;
}
