import { z } from 'zod';
import './util/plain-errors.js';
import { isProxySpec } from './http/client-address.js';

/** Everything Switchboard reads from its environment and flags, checked once at start-up. */
export interface Config {
  env: 'development' | 'production' | 'test';
  port: number;
  host: string;
  dataDir: string;
  /** null: a development secret is generated and kept in the data folder. */
  jwtSecret: string | null;
  /** null: in development a key is generated and kept in the data folder; in production the publish API is off. */
  apiKey: string | null;
  allowedOrigins: string[];
  /** Addresses of reverse proxies whose X-Forwarded-For names the client; empty: none trusted. */
  trustedProxies: string[];
  allowAnonymous: boolean;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Set: the Redis channel layer, presence and connection counts (many nodes); null: in memory. */
  redisUrl: string | null;
  /** Prefix of every Redis key and pub/sub topic, so deployments can share a Redis. */
  redisPrefix: string;
  /** Bound on connecting to Redis and on each Redis call. */
  redisTimeoutMs: number;
  /** With Redis: a node that stops (crash, SIGKILL, cut off) stops counting in presence and
   * per-user connection limits within this long. */
  presenceTimeoutMs: number;
  databaseUrl: string | null;
  /** PostgreSQL schema (search_path) to keep Switchboard's tables in. */
  databaseSchema: string | null;
  /** Load the demo catalogue and accounts into an empty database at start-up. */
  demoData: boolean;
  /** The built-in sandbox payment provider (no money moves); off in production unless asked for. */
  sandboxPayments: boolean;
  /** Signs sandbox callbacks; null: generated and kept in the data folder. Nodes sharing a database share it. */
  sandboxSecret: string | null;
  limits: Limits;
  history: { size: number; ttlMs: number; maxChars: number };
  shutdownGraceMs: number;
  /** The built web app's folder; null: the one beside the server (web/dist); 'none': API only. */
  webDir: string | null;
}

export interface Limits {
  maxFrameBytes: number;
  messagesPerSecond: number;
  messageBurst: number;
  maxSubscriptions: number;
  maxConnectionsPerUser: number;
  /** Unsent bytes per connection (pushes and replies): past it a push closes the client (4002)
   * and a large reply is refused (`backpressure`). */
  maxBufferedBytes: number;
  /** Unsent bytes of all connections of the node together. */
  maxNodeBufferedBytes: number;
  /** Publications in one history or recovery reply stop at this many bytes of data. */
  maxReplyBytes: number;
  /** Requests handled at once per connection; later ones wait their turn. */
  maxRequestsInFlight: number;
  /** Nesting of JSON in frames and REST bodies, checked before parsing. */
  maxJsonDepth: number;
  /** Before `connect` succeeds: the frame size and the number of frames a connection may send. */
  preAuthFrameBytes: number;
  preAuthFrames: number;
  /** WebSocket connections per node; 0: from the process's file limit, keeping a reserve. */
  maxConnections: number;
  /** WebSocket connections per client address. */
  maxConnectionsPerAddress: number;
  /** Per client address: sockets that are not (yet) an authenticated WebSocket (HTTP requests,
   * keep-alive, WebSockets before connect). */
  maxPendingPerAddress: number;
  /** The same for the whole node; 0: from the file limit. At the cap the oldest is dropped. */
  maxPending: number;
  /** New TCP connections per second per client address (bursts of twice as many); over it a
   * connection is cut at accept, before anything is read. */
  connectionsPerSecondPerAddress: number;
  /** A socket must send a complete request (or upgrade) within this; idle sockets are dropped. */
  requestTimeoutMs: number;
  /** An idle HTTP keep-alive socket is closed after this. */
  keepAliveTimeoutMs: number;
  /** Requests per second per client address to the throttled public routes (sign-in,
   * registration), with bursts of four times as many. */
  publicRequestsPerSecond: number;
  heartbeatMs: number;
  tokenGraceMs: number;
  authTimeoutMs: number;
}

/** Each setting: its environment variable, its CLI flag, and how to read it. */
const settings = {
  env: { env: 'SWITCHBOARD_ENV', flag: 'env', schema: z.enum(['development', 'production', 'test']) },
  port: { env: 'PORT', flag: 'port', schema: z.coerce.number().int().min(0).max(65535) },
  host: { env: 'HOST', flag: 'host', schema: z.string().min(1) },
  dataDir: { env: 'SWITCHBOARD_DATA', flag: 'data', schema: z.string().min(1) },
  jwtSecret: { env: 'SWITCHBOARD_JWT_SECRET', flag: 'jwt-secret', schema: z.string().min(16, 'must be at least 16 characters') },
  apiKey: { env: 'SWITCHBOARD_API_KEY', flag: 'api-key', schema: z.string().min(16, 'must be at least 16 characters') },
  allowedOrigins: {
    env: 'SWITCHBOARD_ALLOWED_ORIGINS',
    flag: 'allowed-origins',
    schema: z.string().transform((s) => s.split(',').map((o) => o.trim()).filter((o) => o.length > 0)).pipe(
      z.array(z.string().regex(/^(\*|https?:\/\/[^/\s]+)$/, 'each origin must look like https://shop.example.com (scheme and host, no path) or *')),
    ),
  },
  allowAnonymous: { env: 'SWITCHBOARD_ALLOW_ANONYMOUS', flag: 'allow-anonymous', schema: z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1') },
  logLevel: { env: 'LOG_LEVEL', flag: 'log-level', schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']) },
  redisUrl: { env: 'REDIS_URL', flag: 'redis-url', schema: z.string().regex(/^rediss?:\/\//, 'must start with redis:// or rediss://') },
  redisPrefix: { env: 'SWITCHBOARD_REDIS_PREFIX', flag: 'redis-prefix', schema: z.string().min(1).max(64) },
  redisTimeoutMs: { env: 'SWITCHBOARD_REDIS_TIMEOUT_MS', flag: 'redis-timeout-ms', schema: z.coerce.number().int().min(100).max(60_000) },
  presenceTimeoutMs: { env: 'SWITCHBOARD_PRESENCE_TIMEOUT_MS', flag: 'presence-timeout-ms', schema: z.coerce.number().int().min(600).max(3_600_000) },
  databaseUrl: { env: 'DATABASE_URL', flag: 'database-url', schema: z.string().regex(/^postgres(ql)?:\/\//, 'must start with postgres:// or postgresql://') },
  databaseSchema: { env: 'SWITCHBOARD_DATABASE_SCHEMA', flag: 'database-schema', schema: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lower-case PostgreSQL identifier') },
  demoData: { env: 'SWITCHBOARD_DEMO_DATA', flag: 'demo-data', schema: z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1') },
  sandboxPayments: { env: 'SWITCHBOARD_SANDBOX_PAYMENTS', flag: 'sandbox-payments', schema: z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1') },
  sandboxSecret: { env: 'SWITCHBOARD_SANDBOX_SECRET', flag: 'sandbox-secret', schema: z.string().min(16, 'must be at least 16 characters') },
  maxFrameBytes: { env: 'SWITCHBOARD_MAX_FRAME_BYTES', flag: 'max-frame-bytes', schema: z.coerce.number().int().min(1024).max(16 * 1024 * 1024) },
  messagesPerSecond: { env: 'SWITCHBOARD_MESSAGES_PER_SECOND', flag: 'messages-per-second', schema: z.coerce.number().positive() },
  messageBurst: { env: 'SWITCHBOARD_MESSAGE_BURST', flag: 'message-burst', schema: z.coerce.number().int().min(1) },
  maxSubscriptions: { env: 'SWITCHBOARD_MAX_SUBSCRIPTIONS', flag: 'max-subscriptions', schema: z.coerce.number().int().min(1) },
  maxConnectionsPerUser: { env: 'SWITCHBOARD_MAX_CONNECTIONS_PER_USER', flag: 'max-connections-per-user', schema: z.coerce.number().int().min(1) },
  maxBufferedBytes: { env: 'SWITCHBOARD_MAX_BUFFERED_BYTES', flag: 'max-buffered-bytes', schema: z.coerce.number().int().min(64 * 1024) },
  maxNodeBufferedBytes: { env: 'SWITCHBOARD_MAX_NODE_BUFFERED_BYTES', flag: 'max-node-buffered-bytes', schema: z.coerce.number().int().min(1024 * 1024) },
  maxReplyBytes: { env: 'SWITCHBOARD_MAX_REPLY_BYTES', flag: 'max-reply-bytes', schema: z.coerce.number().int().min(1024) },
  maxRequestsInFlight: { env: 'SWITCHBOARD_MAX_REQUESTS_IN_FLIGHT', flag: 'max-requests-in-flight', schema: z.coerce.number().int().min(1).max(1024) },
  maxJsonDepth: { env: 'SWITCHBOARD_MAX_JSON_DEPTH', flag: 'max-json-depth', schema: z.coerce.number().int().min(4).max(1000) },
  preAuthFrameBytes: { env: 'SWITCHBOARD_PREAUTH_FRAME_BYTES', flag: 'preauth-frame-bytes', schema: z.coerce.number().int().min(1024) },
  preAuthFrames: { env: 'SWITCHBOARD_PREAUTH_FRAMES', flag: 'preauth-frames', schema: z.coerce.number().int().min(1) },
  maxConnections: { env: 'SWITCHBOARD_MAX_CONNECTIONS', flag: 'max-connections', schema: z.coerce.number().int().min(0) },
  maxConnectionsPerAddress: { env: 'SWITCHBOARD_MAX_CONNECTIONS_PER_ADDRESS', flag: 'max-connections-per-address', schema: z.coerce.number().int().min(1) },
  maxPendingPerAddress: { env: 'SWITCHBOARD_MAX_PENDING_PER_ADDRESS', flag: 'max-pending-per-address', schema: z.coerce.number().int().min(1) },
  maxPending: { env: 'SWITCHBOARD_MAX_PENDING', flag: 'max-pending', schema: z.coerce.number().int().min(0) },
  connectionsPerSecondPerAddress: { env: 'SWITCHBOARD_CONNECTIONS_PER_SECOND_PER_ADDRESS', flag: 'connections-per-second-per-address', schema: z.coerce.number().positive() },
  requestTimeoutMs: { env: 'SWITCHBOARD_REQUEST_TIMEOUT_MS', flag: 'request-timeout-ms', schema: z.coerce.number().int().min(100) },
  keepAliveTimeoutMs: { env: 'SWITCHBOARD_KEEP_ALIVE_TIMEOUT_MS', flag: 'keep-alive-timeout-ms', schema: z.coerce.number().int().min(100) },
  publicRequestsPerSecond: { env: 'SWITCHBOARD_PUBLIC_REQUESTS_PER_SECOND', flag: 'public-requests-per-second', schema: z.coerce.number().positive() },
  trustedProxies: {
    env: 'SWITCHBOARD_TRUSTED_PROXIES',
    flag: 'trusted-proxies',
    schema: z.string().transform((s) => s.split(',').map((o) => o.trim()).filter((o) => o.length > 0)).pipe(
      z.array(z.string().refine(isProxySpec, 'each entry must be an IP address, a CIDR range (10.0.0.0/8) or the word loopback')),
    ),
  },
  heartbeatMs: { env: 'SWITCHBOARD_HEARTBEAT_MS', flag: 'heartbeat-ms', schema: z.coerce.number().int().min(100) },
  tokenGraceMs: { env: 'SWITCHBOARD_TOKEN_GRACE_MS', flag: 'token-grace-ms', schema: z.coerce.number().int().min(0) },
  authTimeoutMs: { env: 'SWITCHBOARD_AUTH_TIMEOUT_MS', flag: 'auth-timeout-ms', schema: z.coerce.number().int().min(100) },
  historySize: { env: 'SWITCHBOARD_HISTORY_SIZE', flag: 'history-size', schema: z.coerce.number().int().min(0) },
  historyTtlMs: { env: 'SWITCHBOARD_HISTORY_TTL_MS', flag: 'history-ttl-ms', schema: z.coerce.number().int().min(0) },
  historyMaxChars: { env: 'SWITCHBOARD_HISTORY_MAX_CHARS', flag: 'history-max-chars', schema: z.coerce.number().int().min(0) },
  shutdownGraceMs: { env: 'SWITCHBOARD_SHUTDOWN_GRACE_MS', flag: 'shutdown-grace-ms', schema: z.coerce.number().int().min(0) },
  webDir: { env: 'SWITCHBOARD_WEB_DIR', flag: 'web-dir', schema: z.string().min(1) },
} as const;

type SettingName = keyof typeof settings;
type Parsed = { [K in SettingName]?: z.output<(typeof settings)[K]['schema']> };

export const defaultLimits: Limits = {
  maxFrameBytes: 64 * 1024,
  messagesPerSecond: 50,
  messageBurst: 100,
  maxSubscriptions: 128,
  maxConnectionsPerUser: 32,
  // Centrifugo's default client queue: a client that has not read 1 MiB is not coming back soon.
  maxBufferedBytes: 1024 * 1024,
  maxNodeBufferedBytes: 256 * 1024 * 1024,
  maxReplyBytes: 256 * 1024,
  maxRequestsInFlight: 16,
  maxJsonDepth: 32,
  // A connect frame with a generous JWT fits; nothing larger needs to be said before it.
  preAuthFrameBytes: 8 * 1024,
  preAuthFrames: 16,
  maxConnections: 0,
  // Generous: an office or a mobile carrier puts many users behind one address.
  maxConnectionsPerAddress: 512,
  // A backend calling the REST API with a pool of 100 connections is one address too.
  maxPendingPerAddress: 256,
  maxPending: 0,
  // A reconnect storm of a few hundred users behind one address passes in a couple of seconds.
  connectionsPerSecondPerAddress: 200,
  requestTimeoutMs: 5_000,
  // Above the idle timeout of load balancers (60 s) and of clients' pools: a client reusing a socket
  // the node has just closed gets ECONNRESET on a POST it cannot safely retry (bench:soak saw it at 5 s).
  keepAliveTimeoutMs: 72_000,
  // A person signs in once; an office behind one address at nine in the morning, a few a second.
  publicRequestsPerSecond: 5,
  heartbeatMs: 25_000,
  tokenGraceMs: 10_000,
  authTimeoutMs: 10_000,
};

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/** Reads settings from flags (first) and the environment. Throws ConfigError listing every problem. */
export function loadConfig(env: Record<string, string | undefined>, flags: Record<string, string> = {}): Config {
  const problems: string[] = [];
  const parsed: Parsed = {};
  const known = new Set<string>(Object.values(settings).map((s) => s.flag));
  for (const flag of Object.keys(flags)) if (!known.has(flag)) problems.push(`unknown flag --${flag}`);
  for (const [name, setting] of Object.entries(settings) as [SettingName, (typeof settings)[SettingName]][]) {
    const fromFlag = flags[setting.flag];
    const raw = fromFlag ?? env[setting.env];
    if (raw === undefined || raw === '') continue;
    const result = setting.schema.safeParse(raw);
    const source = fromFlag !== undefined ? `--${setting.flag}` : setting.env;
    if (result.success) (parsed as Record<string, unknown>)[name] = result.data;
    else problems.push(`${source}=${JSON.stringify(raw)}: ${result.error.issues.map((i) => i.message).join('; ')}`);
  }
  const mode = parsed.env ?? (env.NODE_ENV === 'production' ? 'production' : env.NODE_ENV === 'test' ? 'test' : 'development');
  if (mode === 'production') {
    if (parsed.sandboxPayments && !parsed.sandboxSecret) problems.push('SWITCHBOARD_SANDBOX_SECRET must be set when sandbox payments are on in production (nodes must share it)');
    if (!parsed.jwtSecret) problems.push('SWITCHBOARD_JWT_SECRET must be set in production (a long random string)');
    if (!parsed.allowedOrigins) problems.push('SWITCHBOARD_ALLOWED_ORIGINS must be set in production (e.g. https://shop.example.com)');
    else if (parsed.allowedOrigins.includes('*')) problems.push('SWITCHBOARD_ALLOWED_ORIGINS=* is refused in production: any site could open connections with your users\' cookies; list your origins');
  }
  if (parsed.maxReplyBytes !== undefined && parsed.maxReplyBytes > (parsed.maxBufferedBytes ?? defaultLimits.maxBufferedBytes)) {
    problems.push('SWITCHBOARD_MAX_REPLY_BYTES must not exceed SWITCHBOARD_MAX_BUFFERED_BYTES (a reply that size could never be sent)');
  }
  const maxFrameBytes = parsed.maxFrameBytes ?? defaultLimits.maxFrameBytes;
  if (parsed.preAuthFrameBytes !== undefined && parsed.preAuthFrameBytes > maxFrameBytes) {
    problems.push('SWITCHBOARD_PREAUTH_FRAME_BYTES must not exceed SWITCHBOARD_MAX_FRAME_BYTES (it is the smaller limit for clients that have not connected yet)');
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    env: mode,
    port: parsed.port ?? 8000,
    host: parsed.host ?? 'localhost',
    dataDir: parsed.dataDir ?? 'data',
    jwtSecret: parsed.jwtSecret ?? null,
    apiKey: parsed.apiKey ?? null,
    allowedOrigins: parsed.allowedOrigins ?? [],
    trustedProxies: parsed.trustedProxies ?? [],
    allowAnonymous: parsed.allowAnonymous ?? false,
    logLevel: parsed.logLevel ?? (mode === 'test' ? 'silent' : 'info'),
    redisUrl: parsed.redisUrl ?? null,
    redisPrefix: parsed.redisPrefix ?? 'sb:',
    redisTimeoutMs: parsed.redisTimeoutMs ?? 5_000,
    presenceTimeoutMs: parsed.presenceTimeoutMs ?? 15_000,
    databaseUrl: parsed.databaseUrl ?? null,
    databaseSchema: parsed.databaseSchema ?? null,
    demoData: parsed.demoData ?? mode === 'development',
    sandboxPayments: parsed.sandboxPayments ?? mode !== 'production',
    sandboxSecret: parsed.sandboxSecret ?? null,
    limits: {
      maxFrameBytes,
      messagesPerSecond: parsed.messagesPerSecond ?? defaultLimits.messagesPerSecond,
      messageBurst: parsed.messageBurst ?? defaultLimits.messageBurst,
      maxSubscriptions: parsed.maxSubscriptions ?? defaultLimits.maxSubscriptions,
      maxConnectionsPerUser: parsed.maxConnectionsPerUser ?? defaultLimits.maxConnectionsPerUser,
      maxBufferedBytes: parsed.maxBufferedBytes ?? defaultLimits.maxBufferedBytes,
      maxNodeBufferedBytes: parsed.maxNodeBufferedBytes ?? defaultLimits.maxNodeBufferedBytes,
      // A reply must fit the connection's bound with room to spare; the default follows a lowered bound.
      maxReplyBytes: parsed.maxReplyBytes ?? Math.min(defaultLimits.maxReplyBytes, Math.floor((parsed.maxBufferedBytes ?? defaultLimits.maxBufferedBytes) / 4)),
      maxRequestsInFlight: parsed.maxRequestsInFlight ?? defaultLimits.maxRequestsInFlight,
      maxJsonDepth: parsed.maxJsonDepth ?? defaultLimits.maxJsonDepth,
      // Lowering the frame size lowers it before connect too: strangers never get more than clients.
      preAuthFrameBytes: parsed.preAuthFrameBytes ?? Math.min(defaultLimits.preAuthFrameBytes, maxFrameBytes),
      preAuthFrames: parsed.preAuthFrames ?? defaultLimits.preAuthFrames,
      maxConnections: parsed.maxConnections ?? defaultLimits.maxConnections,
      maxConnectionsPerAddress: parsed.maxConnectionsPerAddress ?? defaultLimits.maxConnectionsPerAddress,
      maxPendingPerAddress: parsed.maxPendingPerAddress ?? defaultLimits.maxPendingPerAddress,
      maxPending: parsed.maxPending ?? defaultLimits.maxPending,
      connectionsPerSecondPerAddress: parsed.connectionsPerSecondPerAddress ?? defaultLimits.connectionsPerSecondPerAddress,
      requestTimeoutMs: parsed.requestTimeoutMs ?? defaultLimits.requestTimeoutMs,
      keepAliveTimeoutMs: parsed.keepAliveTimeoutMs ?? defaultLimits.keepAliveTimeoutMs,
      publicRequestsPerSecond: parsed.publicRequestsPerSecond ?? defaultLimits.publicRequestsPerSecond,
      heartbeatMs: parsed.heartbeatMs ?? defaultLimits.heartbeatMs,
      tokenGraceMs: parsed.tokenGraceMs ?? defaultLimits.tokenGraceMs,
      authTimeoutMs: parsed.authTimeoutMs ?? defaultLimits.authTimeoutMs,
    },
    history: { size: parsed.historySize ?? 100, ttlMs: parsed.historyTtlMs ?? 300_000, maxChars: parsed.historyMaxChars ?? 256 * 1024 * 1024 },
    shutdownGraceMs: parsed.shutdownGraceMs ?? 5_000,
    webDir: parsed.webDir ?? null,
  };
}

/** The settings table for docs and `switchboard serve --help`. */
export function describeSettings(): { env: string; flag: string }[] {
  return Object.values(settings).map((s) => ({ env: s.env, flag: `--${s.flag}` }));
}
