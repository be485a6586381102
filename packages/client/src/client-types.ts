import type { BackoffOptions } from './backoff.js';
import type { SwitchboardError } from './errors.js';
import type { StreamPosition, UserInfo } from './protocol.js';
import type { WebSocketConstructor } from './socket.js';
import type { Publication, SubscribedInfo, Subscription } from './subscription.js';

/** The client's options, states and events. */

export interface SwitchboardClientOptions {
  /** The WebSocket endpoint, e.g. `wss://rt.example.com/ws`. Keep tokens out of it: they end up in logs.
   * A function is called before every connection attempt, so reconnects can go to another node
   * (e.g. rotate through a list when there is no load balancer in front of the nodes). */
  url: string | (() => string);
  /** A token for the first connection. With `getToken` too, later connections use `getToken`. */
  token?: string;
  /** Returns a fresh token; called before every reconnect and ahead of the current token's expiry. */
  getToken?: () => Promise<string> | string;
  /** WebSocket implementation; defaults to `globalThis.WebSocket`. In Node 20 pass the `ws` package's. */
  WebSocket?: WebSocketConstructor;
  /** Reconnect delays: full jitter between 0 and min(maxMs, minMs * 2^attempt). Defaults 250 / 15000. */
  backoff?: Partial<BackoffOptions>;
  /** How long a request (and the connect handshake) may wait for its reply. Default 10000. */
  requestTimeoutMs?: number;
  /** How much longer than the server's heartbeat interval the client waits, hearing nothing, before
   * it declares the connection dead and reconnects. Default heartbeat / 2 + 1000. */
  heartbeatSlackMs?: number;
}

export type ConnectionState = 'connecting' | 'connected' | 'disconnected';

export type StateChange =
  | { state: 'connecting'; attempt: number }
  | { state: 'connected'; session: string; user: UserInfo | null }
  | {
      state: 'disconnected';
      /** The close code: the server's, or the one the client closed with (4001 when the server went
       * silent, 4006 when no welcome came in time, 1000 for `close()`); 0 when no socket was opened. */
      code: number;
      reason: string;
      willReconnect: boolean;
      /** When reconnecting: the delay before the next attempt. */
      delayMs?: number;
      /** Why the client gave up (willReconnect false), or what failed this attempt. */
      error?: SwitchboardError;
    };

export interface ConnectedInfo {
  session: string;
  user: UserInfo | null;
  /** The server's heartbeat interval in ms. */
  heartbeat: number;
  /** UTC ISO expiry of the current token, or null. */
  expiresAt: string | null;
}

export interface PresenceChange {
  kind: 'join' | 'leave';
  channel: string;
  user: string;
}

export interface ClientEvents {
  state: [change: StateChange];
  /** Errors no promise can carry: server error frames, token provider failures, refused connections. */
  error: [error: SwitchboardError];
  /** A subscription the server made (path alias) was established or re-established. */
  subscribed: [subscription: Subscription, info: SubscribedInfo];
  /** Every publication of every subscription, after dedupe, in each channel's order. */
  message: [publication: Publication];
  presence: [change: PresenceChange];
  /** The token was refreshed on the live connection. */
  refreshed: [info: { expiresAt: string | null }];
}

export interface HistoryOptions {
  since?: StreamPosition;
  limit?: number;
}
