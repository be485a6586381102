/**
 * The Switchboard wire protocol: JSON text frames over one WebSocket (`GET /ws`).
 *
 * This file is the single source of the frame shapes. The SDK uses these types directly; the
 * server validates incoming frames with zod schemas that are type-checked against them, so the two
 * sides cannot drift. It has no runtime dependencies and is exported as `@switchboard/client/protocol`.
 * docs/protocol.md describes the same frames for people.
 */

/** A publication's place in its channel's stream. Offsets rise by exactly 1 per channel; a new
 * epoch means the stream was reset (history lost) and positions from the old epoch mean nothing. */
export interface StreamPosition {
  epoch: string;
  offset: number;
}

/** A publication as it travels inside replies (history, recovery). */
export interface PublicationPayload {
  event: string;
  data: unknown;
  offset: number;
  /** UTC ISO time the server accepted the publication. */
  time: string;
}

// ---------------------------------------------------------------------------------------------
// Client -> server. Every request carries a numeric `id`, echoed by its reply.

export interface ConnectRequest {
  op: 'connect';
  id: number;
  /** JWT; may be omitted when the token came in the URL (`?token=`) or a cookie. */
  token?: string;
}
export interface SubscribeRequest {
  op: 'subscribe';
  id: number;
  channel: string;
  /** Last position the client saw; the server sends what was missed since, when history has it. */
  since?: StreamPosition;
}
export interface UnsubscribeRequest {
  op: 'unsubscribe';
  id: number;
  channel: string;
}
export interface PublishRequest {
  op: 'publish';
  id: number;
  channel: string;
  event: string;
  data: unknown;
}
export interface PresenceRequest {
  op: 'presence';
  id: number;
  channel: string;
}
export interface HistoryRequest {
  op: 'history';
  id: number;
  channel: string;
  since?: StreamPosition;
  limit?: number;
}
export interface RefreshRequest {
  op: 'refresh';
  id: number;
  token: string;
}
export interface PingRequest {
  op: 'ping';
  id: number;
}
/** Answer to the server's heartbeat `{"op":"ping"}`; carries no id and gets no reply. */
export interface PongFrame {
  op: 'pong';
}

export type ClientRequest =
  | ConnectRequest
  | SubscribeRequest
  | UnsubscribeRequest
  | PublishRequest
  | PresenceRequest
  | HistoryRequest
  | RefreshRequest
  | PingRequest;
export type ClientFrame = ClientRequest | PongFrame;
export type RequestOp = ClientRequest['op'];

// ---------------------------------------------------------------------------------------------
// Results, by request op.

export interface UserInfo {
  id: string;
  role: string;
  tenant?: string;
}
export interface ConnectResult {
  session: string;
  user: UserInfo | null;
}
export interface SubscribeResult extends StreamPosition {
  /** True when `since` was given and every publication after it is in `publications`. */
  recovered: boolean;
  /** Publications after `since`, oldest first (empty unless recovered). */
  publications: PublicationPayload[];
  /** Current state from the channel's owner (e.g. the cart), taken after the position above. */
  snapshot?: unknown;
}
export type UnsubscribeResult = Record<string, never>;
export type PublishResult = StreamPosition;
export interface PresenceEntry {
  user: string;
  /** UTC ISO time the user's first connection joined the channel. */
  since: string;
}
export interface PresenceResult {
  users: PresenceEntry[];
}
export interface HistoryResult extends StreamPosition {
  publications: PublicationPayload[];
  /** False when `since` lies outside retained history (pruned or another epoch). */
  complete: boolean;
  /** True when this page was cut short (by `limit` or the server's reply size bound) and history
   * holds more after its last publication: ask again with `since` at that publication. */
  more: boolean;
}
export interface RefreshResult {
  /** UTC ISO expiry of the new token, or null when it has none. */
  expiresAt: string | null;
}
export type PingResult = Record<string, never>;

export interface ResultByOp {
  connect: ConnectResult;
  subscribe: SubscribeResult;
  unsubscribe: UnsubscribeResult;
  publish: PublishResult;
  presence: PresenceResult;
  history: HistoryResult;
  refresh: RefreshResult;
  ping: PingResult;
}

// ---------------------------------------------------------------------------------------------
// Server -> client.

export interface WelcomeFrame {
  op: 'welcome';
  session: string;
  user: UserInfo | null;
  /** The server pings every this many ms; a client that hears nothing for longer should reconnect. */
  heartbeat: number;
  /** UTC ISO expiry of the current token, or null. */
  expiresAt: string | null;
}
export interface ReplyError {
  code: ErrorCode;
  message: string;
  /** True when the same request may succeed later (retry with backoff). */
  temporary: boolean;
  /** The offending field, when one is to blame. */
  field?: string;
}
export type ReplyFrame =
  | { op: 'reply'; id: number; ok: true; result: unknown }
  | { op: 'reply'; id: number; ok: false; error: ReplyError };
export interface MessageFrame {
  op: 'message';
  channel: string;
  event: string;
  data: unknown;
  epoch: string;
  offset: number;
  time: string;
}
/** Sent for subscriptions the server made itself (path aliases such as `/ws/cart/`). */
export interface SubscribedFrame extends SubscribeResult {
  op: 'subscribed';
  channel: string;
}
/** The server ended a subscription: the channel's policy no longer lets this user read it (an
 * order's worker was taken off, say). The client must not resubscribe on its own. */
export interface UnsubscribedFrame {
  op: 'unsubscribed';
  channel: string;
  error: ReplyError;
}
export interface PresenceEventFrame {
  op: 'join' | 'leave';
  channel: string;
  user: string;
}
export interface ServerPingFrame {
  op: 'ping';
}
/** A frame the server could not tie to a request id (e.g. unparsable JSON). */
export interface ErrorFrame {
  op: 'error';
  error: ReplyError;
}

export type ServerFrame =
  | WelcomeFrame
  | ReplyFrame
  | MessageFrame
  | SubscribedFrame
  | UnsubscribedFrame
  | PresenceEventFrame
  | ServerPingFrame
  | ErrorFrame;

// ---------------------------------------------------------------------------------------------
// Errors and close codes: one catalogue, documented in docs/protocol.md.

export const ErrorCodes = {
  bad_frame: { temporary: false, message: 'The frame is not valid JSON or not a JSON object' },
  bad_request: { temporary: false, message: 'A field of the request is missing or has the wrong type' },
  unknown_op: { temporary: false, message: 'The op is not one this server knows' },
  not_connected: { temporary: true, message: 'Send connect (with a token) before other requests' },
  already_connected: { temporary: false, message: 'This connection has already authenticated' },
  invalid_channel: { temporary: false, message: 'The channel name does not match the allowed pattern or length' },
  unknown_namespace: { temporary: false, message: 'No namespace is declared for this channel' },
  forbidden: { temporary: false, message: 'The channel policy does not allow this' },
  already_subscribed: { temporary: false, message: 'This connection is already subscribed to the channel' },
  not_subscribed: { temporary: false, message: 'This connection is not subscribed to the channel' },
  too_many_subscriptions: { temporary: false, message: 'The connection has reached its subscription limit' },
  rate_limited: { temporary: true, message: 'Too many messages; slow down' },
  backpressure: { temporary: true, message: 'The connection has too much unsent data (or the node as a whole does); read what was sent, then retry' },
  invalid_token: { temporary: false, message: 'The token is malformed, badly signed or expired' },
  token_user_mismatch: { temporary: false, message: 'A refreshed token must belong to the same user, with the same role and tenant' },
  account_revoked: { temporary: false, message: 'The account of this token was deleted or disabled, or its role or tenant changed; sign in again' },
  unavailable: { temporary: true, message: 'The channel layer is unavailable; try again' },
  internal: { temporary: true, message: 'The server failed to handle the request' },
} as const satisfies Record<string, { temporary: boolean; message: string }>;
export type ErrorCode = keyof typeof ErrorCodes;

/**
 * Close codes. 4000-4499: the client should reconnect (with backoff) and resume from its last
 * positions. 4500-4999: reconnecting as-is will fail again; the client must not retry until
 * something changes (a new token, a fix). 1009 (frame too big) and 1006 (abnormal) also reconnect.
 */
export const CloseCodes = {
  /** Server shutting down or restarting: reconnect, possibly to another node. */
  shutdown: 4000,
  /** No frame from the client within the heartbeat timeout. */
  heartbeatTimeout: 4001,
  /** The client read too slowly and its send buffer passed the bound. */
  slowConsumer: 4002,
  /** The client kept sending after being rate limited. */
  rateLimited: 4003,
  /** The token expired and no refresh arrived within the grace period. */
  tokenExpired: 4004,
  /** The server failed; the client may retry. */
  internalError: 4005,
  /** No connect frame arrived in time. */
  authTimeout: 4006,
  /** The token is missing, malformed or badly signed. */
  unauthorized: 4500,
  /** The user may not use this endpoint (e.g. a path alias for someone else's room). */
  forbidden: 4501,
  /** The user has too many open connections. */
  tooManyConnections: 4502,
  /** The client broke the protocol in a way that cannot be answered with a reply (binary frames,
   * too many frames before `connect`). */
  protocolError: 4503,
  /** The account behind the token was deleted or disabled, or its role or tenant changed: sign in again. */
  accountRevoked: 4504,
  /** Standard: the frame was over the size limit. */
  messageTooBig: 1009,
} as const;
export type CloseCode = (typeof CloseCodes)[keyof typeof CloseCodes];

/** Whether a client should reconnect after the server closed with `code`. */
export function shouldReconnect(code: number): boolean {
  if (code >= 4500 && code <= 4999) return false;
  // 1000 is a deliberate close by either side; anything else (1001, 1006, 1009, 1011, 4000-4499) is transient.
  return code !== 1000;
}

/** Channel names: `namespace:rest` or a bare namespace. Checked on both sides. */
export const CHANNEL_PATTERN = /^[a-z][a-z0-9_-]{0,31}(?::[A-Za-z0-9_\-.@=#/,]{1,200})?$/;
export const MAX_CHANNEL_LENGTH = 233;

export function isValidChannel(name: string): boolean {
  return name.length <= MAX_CHANNEL_LENGTH && CHANNEL_PATTERN.test(name);
}
