import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { StreamPosition, UserInfo } from '@switchboard/client/protocol';
import { keptSecret, TokenService, type MintOptions } from './auth/tokens.js';
import { NamespaceRegistry, type NamespaceOptions } from './channels/namespaces.js';
import { RouteTable, type FrameStyle, type RouteOptions, type RouteResolver } from './channels/routes.js';
import type { Config } from './config.js';
import { buildHttpApp } from './http/app.js';
import type { WebAppOptions } from './http/web.js';
import type { ChannelLayer } from './layer/channel-layer.js';
import { MemoryLayer } from './layer/memory-layer.js';
import { RedisLayer } from './layer/redis-layer.js';
import { RedisNodes } from './layer/redis-nodes.js';
import { createLogger, type Logger } from './logger.js';
import { Metrics } from './metrics.js';
import { MemoryPresence } from './presence/memory-presence.js';
import type { PresenceStore } from './presence/presence-store.js';
import { RedisPresence } from './presence/redis-presence.js';
import { MemoryConnectionCounter, type ConnectionCounter } from './realtime/connection-counter.js';
import { Gateway } from './realtime/gateway.js';
import type { PrincipalCheck } from './realtime/principals.js';
import { Admission } from './realtime/admission.js';
import { TrustedProxies } from './http/client-address.js';
import { RedisConnectionCounter } from './realtime/redis-connection-counter.js';
import { presenceEntries } from './realtime/frames.js';
import { Hub, type ServerListener } from './realtime/hub.js';
import { attachWebSockets } from './realtime/ws-server.js';

export interface SwitchboardOptions {
  config: Config;
  logger?: Logger;
  /** Defaults to the Redis layer when `config.redisUrl` is set, else the in-memory layer. */
  layer?: ChannelLayer;
  presence?: PresenceStore;
  connections?: ConnectionCounter;
  /** Serve a built web app (web/dist) at `/` beside the API; without it the node serves the API only. */
  web?: WebAppOptions | null;
}

/** What a node keeps its shared state in: this process, or Redis for many nodes. */
interface Backends {
  layer: ChannelLayer;
  presence: PresenceStore;
  connections: ConnectionCounter;
  /** With Redis: this node's heartbeat, and the sweep of dead nodes. */
  nodes: RedisNodes | null;
}

/** Where account changes that end connections are published; every node listens. */
export const ACCOUNT_EVENTS_CHANNEL = 'sys:accounts';

/** The event that ends a user's connections on every node (close 4504). `reason` is the close
 * frame's reason (the default says the account changed; an admin signing someone out says so). */
export function accountRevokedEvent(user: string, reason?: string): { channel: string; event: string; data: { user: string; reason?: string } } {
  return { channel: ACCOUNT_EVENTS_CHANNEL, event: 'revoked', data: reason === undefined ? { user } : { user, reason } };
}

/** How long shutdown waits for the leaves of closed sessions to reach the presence store. */
const PRESENCE_SETTLE_MS = 2000;

/** One client connection of this node, as operators' tools see it (`Switchboard.localConnections`). */
export interface LocalConnection {
  session: string;
  user: UserInfo;
  /** The channels it follows (subscribed, or being subscribed). */
  channels: string[];
  /** UTC ISO time the socket opened. */
  openedAt: string;
  frames: FrameStyle;
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
  readonly admission: Admission;
  /** Who the client of a request is, behind trusted proxies. */
  readonly proxies: TrustedProxies;
  /** This node's id: its heartbeat id in Redis (the id other nodes and the sweep know it by), or a
   * random one for a single node. Operators' tools tag what a node reports with it. */
  readonly nodeId: string;
  readonly #backends: Backends;
  #closing: Promise<void> | null = null;
  #closeHooks: (() => Promise<void>)[] = [];

  private constructor(
    readonly config: Config,
    readonly log: Logger,
    readonly tokens: TokenService,
    readonly apiKey: string | null,
    backends: Backends,
    web: WebAppOptions | null,
  ) {
    const { layer, presence, connections } = backends;
    this.#backends = backends;
    this.nodeId = backends.nodes?.id ?? randomBytes(8).toString('base64url');
    this.namespaces = new NamespaceRegistry({ historySize: config.history.size, historyTtlMs: config.history.ttlMs });
    this.metrics = new Metrics({
      connections: () => this.gateway.sessions.size,
      subscriptions: () => this.gateway.subscriptionCount(),
      channels: () => this.hub.channelCount(),
    });
    this.hub = new Hub(layer, presence, this.namespaces, this.metrics, log);
    const proxies = new TrustedProxies(config.trustedProxies);
    this.proxies = proxies;
    this.admission = new Admission(config.limits, proxies);
    this.gateway = new Gateway(this.hub, tokens, this.routes, this.metrics, log, {
      limits: config.limits,
      origins: { allowedOrigins: config.allowedOrigins, allowLocalhost: config.env !== 'production' },
      allowAnonymous: config.allowAnonymous,
      connections,
      admission: this.admission,
    });
    this.http = buildHttpApp({ hub: this.hub, metrics: this.metrics, log, apiKey, isReady: () => layer.ready() && this.#closing === null, limits: config.limits, web });
    attachWebSockets(this.http.server, this.gateway, config.limits.maxFrameBytes, this.admission, proxies);
    // Clients can do nothing on `sys`: no rules. The node itself listens to its account events.
    this.namespaces.define('sys', { historySize: 0 });
    const { budget } = this.gateway;
    this.metrics.addGauge('switchboard_unsent_bytes', 'Bytes written to client sockets and not yet sent, all connections of this node (bounded by SWITCHBOARD_MAX_NODE_BUFFERED_BYTES)', () => budget.unsent);
    this.metrics.addGauge('switchboard_reply_reserved_bytes', 'Bytes promised to history and recovery replies being built', () => budget.reserved);
    this.metrics.addGauge('switchboard_pending_sockets', 'Sockets still in their HTTP request (idle ones included)', () => this.admission.pendingSockets);
  }

  static async create(options: SwitchboardOptions): Promise<Switchboard> {
    const { config } = options;
    const log = options.logger ?? createLogger(config.logLevel);
    const secret = await keptSecret(config.jwtSecret, config.dataDir, 'jwt-secret');
    if (secret.generated) log.warn({ dataDir: config.dataDir }, 'generated a development JWT secret; set SWITCHBOARD_JWT_SECRET in production');
    const apiKey = config.apiKey ?? (config.env === 'production' ? null : (await keptSecret(null, config.dataDir, 'api-key')).value);
    const tokens = new TokenService(secret.value, { requireExpiry: config.env === 'production' });
    // Connecting to Redis fails fast (RedisUnreachableError) rather than serving without it.
    const backends = options.layer || !config.redisUrl ? memoryBackends(config, options) : await redisBackends(config, config.redisUrl, log);
    const sb = new Switchboard(config, log, tokens, apiKey, backends, options.web ?? null);
    try {
      await sb.hub.start();
      await sb.hub.listen(ACCOUNT_EVENTS_CHANNEL, {
        publication: (pub) => {
          const data = JSON.parse(pub.json) as { user?: unknown; reason?: unknown };
          if (pub.event !== 'revoked' || typeof data.user !== 'string') return;
          // The transport cuts a long reason to the close frame's 123 bytes.
          if (typeof data.reason === 'string') sb.gateway.revokeUser(data.user, data.reason);
          else sb.gateway.revokeUser(data.user);
        },
        // The layer lost messages for a while: a revocation may have been among them.
        gap: () => void sb.gateway.recheckPrincipals(),
      });
    } catch (err) {
      // The backends are open (on Redis: connections and the node's heartbeat); nobody else can close them.
      await sb.close();
      throw err;
    }
    log.info({ maxConnections: sb.admission.caps.connections, maxPending: sb.admission.caps.pending }, 'connection caps');
    return sb;
  }

  /**
   * The check every account token passes at connect and refresh (the accounts module installs one
   * that asks the database). Without one, a verified token is enough.
   */
  checkPrincipals(check: PrincipalCheck): this {
    this.gateway.setPrincipalCheck(check);
    return this;
  }

  /** Ends `user`'s connections on every node (through the layer) with 4504: their account was
   * deleted, disabled or changed, or an admin signed them out (`reason` says which to the client).
   * Modules that do this in a transaction emit `accountRevokedEvent(user)` through the outbox
   * instead, so it goes out only if they commit. */
  async revokeUser(user: string, reason?: string): Promise<void> {
    const { channel, event, data } = accountRevokedEvent(user, reason);
    await this.hub.publish(channel, event, data);
  }

  /**
   * This node's authenticated connections whose user `include` accepts, with the channels each
   * follows: for operators' tools (the console module lists its tenant's). A copy, O(connections
   * and their subscriptions): not for hot paths. Other nodes' connections are theirs to report.
   */
  localConnections(include: (user: UserInfo) => boolean = () => true): LocalConnection[] {
    const found: LocalConnection[] = [];
    for (const session of this.gateway.sessions) {
      const { user } = session;
      if (session.closed || !session.authenticated || user === null || !include(user)) continue;
      found.push({ session: session.id, user: { ...user }, channels: [...session.subs.keys()], openedAt: new Date(session.openedAt).toISOString(), frames: session.frames });
    }
    return found;
  }

  /** The client address of an HTTP request (X-Forwarded-For only from trusted proxies). */
  clientAddress(req: { socket: { remoteAddress?: string | undefined }; headers: Record<string, string | string[] | undefined> }): string {
    return this.proxies.clientAddress(req.socket.remoteAddress, req.headers['x-forwarded-for']);
  }

  defineNamespace(name: string, options: NamespaceOptions): this {
    this.namespaces.define(name, options);
    return this;
  }

  /** A path alias; `{ frames: 'channels' }` makes it speak Django Channels frames by default. */
  addRoute(pattern: string, resolve: RouteResolver, options?: RouteOptions): this {
    this.routes.add(pattern, resolve, options);
    return this;
  }

  /** Subscribes the node itself to a channel for as long as it runs: every publication on it, from
   * any node, reaches `listener` (`gap` when the layer may have lost some). For node-to-node
   * messages of modules (the console asks every node for its connections); one listener per channel. */
  listenChannel(channel: string, listener: ServerListener): Promise<void> {
    return this.hub.listen(channel, listener);
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
      const { layer, presence, connections, nodes } = this.#backends;
      await this.hub.settlePresence(PRESENCE_SETTLE_MS);
      await presence.close();
      await connections.close();
      // Takes what this node still has in Redis with it, publishing the leaves, before the layer closes.
      await nodes?.close();
      await layer.close();
    })();
    return this.#closing;
  }
}

function memoryBackends(config: Config, options: SwitchboardOptions): Backends {
  return {
    layer: options.layer ?? new MemoryLayer({ maxHistoryChars: config.history.maxChars }),
    presence: options.presence ?? new MemoryPresence(),
    connections: options.connections ?? new MemoryConnectionCounter(),
    nodes: null,
  };
}

async function redisBackends(config: Config, url: string, log: Logger): Promise<Backends> {
  const layer = await RedisLayer.connect({ url, prefix: config.redisPrefix, timeoutMs: config.redisTimeoutMs, log: log.child({ component: 'redis' }) });
  const nodes = new RedisNodes(layer.connection, { timeoutMs: config.presenceTimeoutMs });
  const presence = new RedisPresence(nodes, (event) => layer.publishPresence(event));
  const connections = new RedisConnectionCounter(nodes);
  try {
    await nodes.start();
  } catch (err) {
    await layer.close();
    throw err;
  }
  log.info({ node: nodes.id, prefix: config.redisPrefix }, 'using redis for channels, presence and connection limits');
  return { layer, presence, connections, nodes };
}
