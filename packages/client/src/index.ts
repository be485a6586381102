export { SwitchboardClient } from './client.js';
export type {
  ClientEvents,
  ConnectedInfo,
  ConnectionState,
  HistoryOptions,
  PresenceChange,
  StateChange,
  SwitchboardClientOptions,
} from './client-types.js';
export { Subscription } from './subscription.js';
export type {
  EventMap,
  MessageArgs,
  Publication,
  PublicationListener,
  PublicationMeta,
  ReservedEvent,
  SubscribedInfo,
  SubscribeOptions,
  SubscriptionEvents,
  SubscriptionState,
  TypedPublication,
  UnrecoveredInfo,
} from './subscription.js';
export { SwitchboardError, ClientErrorCodes } from './errors.js';
export type { ClientErrorCode, SwitchboardErrorCode } from './errors.js';
export { backoffDelay } from './backoff.js';
export type { BackoffOptions } from './backoff.js';
export { jwtExpiry } from './token.js';
export type { WebSocketConstructor, WebSocketLike } from './socket.js';
export type { Listener } from './emitter.js';
export * from './protocol.js';
