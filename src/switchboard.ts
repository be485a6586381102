import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { StreamPosition } from '@switchboard/client/protocol';
import { keptSecret, TokenService, type MintOptions } from './auth/tokens.js';
import { NamespaceRegistry, type NamespaceOptions } from './channels/namespaces.js';
import { RouteTable, type RouteResolver } from './channels/routes.js';
import { ConfigError, type Config } from './config.js';
import { buildHttpApp } from './http/app.js';
import type { ChannelLayer } from './layer/channel-layer.js';
import { MemoryLayer } from './layer/memory-layer.js';
import { createLogger, type Logger } from './logger.js';
import { Metrics } from './metrics.js';
import { MemoryPresence } from './presence/memory-presence.js';
import type { PresenceStore } from './presence/presence-store.js';
import { Gateway } from './realtime/gateway.js';
import { presenceEntries } from './realtime/frames.js';
import { Hub } from './realtime/hub.js';
import { attachWebSockets } from './realtime/ws-server.js';

export interface SwitchboardOptions {
  config: Config;
  logger?: Logger;
  /** Defaults to the in-memory layer. */
  layer?: ChannelLayer;
  presence?: PresenceStore;
}

export interface HistoryEntry {
  event: string;
  data: unknown;
  offset: number;
  time: string;
}

/**
 * One Switchboard node: the channel layer and presence, the hub (fan-out), the gateway
 * (connections), and the HTTP app (health, metrics, publish API) on one port.
 * Declare namespaces and routes before `listen`.
 */
export class Switchboard {
  readonly namespaces: NamespaceRegistry;
  readonly routes = new RouteTable();
  readonly metrics: Metrics;
  readonly hub: Hub;
  readonly gateway: Gateway;
  readonly http: FastifyInstance;
  #closing: Promise<void> | null = null;
  #closeHooks: (() => Promise<void>)[] = [];

  private constructor(
    readonly config: Config,
    readonly log: Logger,
    readonly tokens: TokenService,
    readonly apiKey: string | null,
    layer: ChannelLayer,
    presence: PresenceStore,
  ) {
    this.namespaces = new NamespaceRegistry({ historySize: config.history.size, historyTtlMs: config.history.ttlMs });
    this.metrics = new Metrics({
      connections: () => this.gateway.sessions.size,
      subscriptions: () => this.gateway.subscriptionCount(),
      channels: () => this.hub.channelCount(),
    });
    this.hub = new Hub(layer, presence, this.namespaces, this.metrics, log);
    this.gateway = new Gateway(this.hub, tokens, this.routes, this.metrics, log, {
      limits: config.limits,
      origins: { allowedOrigins: config.allowedOrigins, allowLocalhost: config.env !== 'production' },
      allowAnonymous: config.allowAnonymous,
    });
    this.http = buildHttpApp({ hub: this.hub, metrics: this.metrics, log, apiKey, isReady: () => layer.ready() && this.#closing === null });
    attachWebSockets(this.http.server, this.gateway, config.limits.maxFrameBytes);
  }

  static async create(options: SwitchboardOptions): Promise<Switchboard> {
    const { config } = options;
    if (config.redisUrl && !options.layer) throw new ConfigError(['REDIS_URL is set, but this build has no Redis channel layer yet; unset it to use the in-memory layer']);
    const log = options.logger ?? createLogger(config.logLevel);
    const secret = await keptSecret(config.jwtSecret, config.dataDir, 'jwt-secret');
    if (secret.generated) log.warn({ dataDir: config.dataDir }, 'generated a development JWT secret; set SWITCHBOARD_JWT_SECRET in production');
    const apiKey = config.apiKey ?? (config.env === 'production' ? null : (await keptSecret(null, config.dataDir, 'api-key')).value);
    const sb = new Switchboard(config, log, new TokenService(secret.value, { requireExpiry: config.env === 'production' }), apiKey, options.layer ?? new MemoryLayer({ maxHistoryChars: config.history.maxChars }), options.presence ?? new MemoryPresence());
    await sb.hub.start();
    return sb;
  }

  defineNamespace(name: string, options: NamespaceOptions): this {
    this.namespaces.define(name, options);
    return this;
  }

  addRoute(pattern: string, resolve: RouteResolver): this {
    this.routes.add(pattern, resolve);
    return this;
  }

  /** Publishes from the server side; channel policies do not apply, the namespace must exist. */
  publish(channel: string, event: string, data: unknown): Promise<StreamPosition> {
    return this.hub.publish(channel, event, data);
  }

  async history(channel: string, options: { since?: StreamPosition; limit?: number } = {}): Promise<{ publications: HistoryEntry[]; position: StreamPosition; complete: boolean }> {
    const page = await this.hub.history(channel, options);
    const publications = page.publications.map((p) => ({ event: p.event, data: JSON.parse(p.json) as unknown, offset: p.offset, time: new Date(p.time).toISOString() }));
    return { publications, position: page.position, complete: page.complete };
  }

  async presence(channel: string): Promise<{ user: string; since: string }[]> {
    return presenceEntries(await this.hub.presence.list(channel));
  }

  /** Runs at close, after connections drained and before the layer closes, in the order added
   * (e.g. stop the outbox dispatcher, which publishes through the layer, then the database). */
  onClose(hook: () => Promise<void>): this {
    this.#closeHooks.push(hook);
    return this;
  }

  mintToken(options: MintOptions): Promise<string> {
    return this.tokens.mint(options);
  }

  async listen(port = this.config.port, host = this.config.host): Promise<{ port: number; host: string; url: string }> {
    await this.http.listen({ port, host });
    const address = this.http.server.address() as AddressInfo;
    const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return { port: address.port, host: address.address, url: `http://${shown === '0.0.0.0' ? 'localhost' : shown}:${address.port}` };
  }

  /** Graceful: stop accepting, tell clients to reconnect elsewhere, drain, then release the layer. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      // The gateway refuses new upgrades from here on; fastify then stops the listener.
      await this.gateway.shutdown(this.config.shutdownGraceMs);
      await this.http.close();
      for (const hook of this.#closeHooks) await hook();
      await this.hub.layer.close();
      await this.hub.presence.close();
    })();
    return this.#closing;
  }
}
