/**
 * React bindings for Switchboard: components subscribe to channels through hooks and never touch
 * the socket. See README.md.
 */
export { SwitchboardProvider, useSwitchboard } from './provider.js';
export type { SwitchboardProviderProps } from './provider.js';
export { useChannel } from './use-channel.js';
export { usePresence } from './use-presence.js';
export { useConnectionState } from './use-connection-state.js';
export type {
  ChannelEvent,
  ChannelHandlers,
  ChannelReducer,
  ChannelResult,
  ChannelStatus,
  ConnectionState,
  ConnectionStatus,
  PresenceResult,
  UseChannelOptions,
} from './types.js';
// The SDK's names a page using the hooks needs most, so it can import them from one place.
export { SwitchboardClient, SwitchboardError } from '@switchboard/client';
export type { EventMap, PublicationMeta, SwitchboardClientOptions, UnrecoveredInfo } from '@switchboard/client';
