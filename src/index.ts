/** Switchboard's public server API. The client SDK is `@switchboard/client`. */
export { Switchboard, type SwitchboardOptions, type HistoryEntry } from './switchboard.js';
export { loadConfig, ConfigError, defaultLimits, type Config, type Limits } from './config.js';
export { allow, type AccessContext, type AccessRule, type NamespaceOptions, type SnapshotProvider } from './channels/namespaces.js';
export type { RouteResolver } from './channels/routes.js';
export type { ChannelLayer, HistoryOptions, HistoryPage, Publication, PublishOptions, PresenceEvent } from './layer/channel-layer.js';
export { LayerUnavailableError } from './layer/channel-layer.js';
export { MemoryLayer } from './layer/memory-layer.js';
export { RedisLayer, type RedisLayerOptions } from './layer/redis-layer.js';
export { RedisUnreachableError } from './layer/redis-connection.js';
export type { PresenceStore, PresenceMember } from './presence/presence-store.js';
export { MemoryPresence } from './presence/memory-presence.js';
export type { ConnectionCounter } from './realtime/connection-counter.js';
export { installDefaultChannels } from './defaults.js';
export { TokenService } from './auth/tokens.js';
