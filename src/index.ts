/** Switchboard's public server API. The client SDK is `@switchboard/client`; the in-process test
 * client is `switchboard/testing`. */

// The app: the core with modules (createApp) and the built-in shop modules.
export { createApp, type App, type AppOptions } from './app.js';
export { builtinModules, accountsModule, catalogModule, cartModule, ordersModule, paymentsModule, consoleModule, createConsoleModule } from './modules/index.js';
export type { SwitchboardModule, ModuleContext, SeedContext } from './core/module.js';

// Writing a module: REST routes, transactions with outbox events, the database.
export { Api, type ApiUser, type Auth, type RouteDef, type HandlerContext, type AccountResolver } from './core/http/api.js';
export { HttpError } from './core/http/errors.js';
export { transact, forUpdate, type Domain, type Unit, type Db, type Trx } from './core/domain/context.js';
export type { DatabaseSchema } from './core/db/schema.js';
export type { Database, Engine } from './core/db/database.js';
export { newId, nowIso } from './core/db/ids.js';

// The real-time core.
export { Switchboard, accountRevokedEvent, ACCOUNT_EVENTS_CHANNEL, type SwitchboardOptions, type HistoryEntry, type LocalConnection } from './core/switchboard.js';
export { loadConfig, ConfigError, defaultLimits, type Config, type Limits } from './core/config.js';
export { allow, type AccessContext, type AccessRule, type NamespaceOptions, type SnapshotProvider } from './core/channels/namespaces.js';
export type { FrameStyle, RouteOptions, RouteResolver } from './core/channels/routes.js';
export type { ChannelLayer, HistoryOptions, HistoryPage, Publication, PublishOptions, PresenceEvent } from './core/layer/channel-layer.js';
export { LayerUnavailableError } from './core/layer/channel-layer.js';
export { MemoryLayer } from './core/layer/memory-layer.js';
export { RedisLayer, type RedisLayerOptions } from './core/layer/redis-layer.js';
export { RedisUnreachableError } from './core/layer/redis-connection.js';
export type { PresenceStore, PresenceMember } from './core/presence/presence-store.js';
export { MemoryPresence } from './core/presence/memory-presence.js';
export type { ConnectionCounter } from './core/realtime/connection-counter.js';
export type { PrincipalCheck } from './core/realtime/principals.js';
export { installDefaultChannels } from './core/defaults.js';
export { TokenService } from './core/auth/tokens.js';
