import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { allow } from '../../src/core/channels/namespaces.js';
import { loadConfig, type Config, type Limits } from '../../src/core/config.js';
import { installDefaultChannels } from '../../src/core/defaults.js';
import { Switchboard } from '../../src/core/switchboard.js';
import type { WebAppOptions } from '../../src/core/http/web.js';

export const TEST_SECRET = 'test-secret-0123456789abcdef';
export const TEST_API_KEY = 'test-api-key-0123456789abcdef';

export interface TestServerOptions {
  limits?: Partial<Limits>;
  allowAnonymous?: boolean;
  allowedOrigins?: string[];
  trustedProxies?: string[];
  env?: Config['env'];
  /** Extra namespaces or routes, declared before listening. */
  setup?: (sb: Switchboard) => void;
  /** Reuse a port (e.g. to restart a server where clients expect it). */
  port?: number;
  /** Skip listen(): for tests that drive the node with TestClient only. */
  listen?: boolean;
  /** Run on Redis (layer, presence, connection counts) under this key prefix. */
  redis?: { url: string; prefix: string; timeoutMs?: number; presenceTimeoutMs?: number };
  /** Serve a built web app at `/`. */
  web?: WebAppOptions;
}

export interface TestServer {
  sb: Switchboard;
  port: number;
  url: string;
  wsUrl: string;
  token(user: string, role?: string, ttlSeconds?: number, tenant?: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * A real node on 127.0.0.1 with a random port (unless given), a temporary data folder, fixed
 * secrets, and these namespaces besides the defaults:
 * - `room:*`   any authenticated user may subscribe, publish, read history and presence (tracked); history 50
 * - `tiny:*`   like room, but history keeps 3 publications (to make gaps beyond history)
 * - `nohist:*` subscribe and publish, no history at all
 * - `locked:*` declared with no rules: everything denied
 */
export async function startServer(options: TestServerOptions = {}): Promise<TestServer> {
  const dataDir = await mkdtemp(join(tmpdir(), 'switchboard-test-'));
  const config = loadConfig({ SWITCHBOARD_ENV: options.env ?? 'test' }, {});
  config.dataDir = dataDir;
  config.jwtSecret = TEST_SECRET;
  config.apiKey = TEST_API_KEY;
  config.host = '127.0.0.1';
  config.allowAnonymous = options.allowAnonymous ?? false;
  config.allowedOrigins = options.allowedOrigins ?? [];
  config.trustedProxies = options.trustedProxies ?? [];
  config.shutdownGraceMs = 1000;
  // Suites open connections from one address far faster than any client would; the rate has its own test.
  config.limits.connectionsPerSecondPerAddress = 1_000_000;
  Object.assign(config.limits, options.limits);
  if (options.redis) {
    config.redisUrl = options.redis.url;
    config.redisPrefix = options.redis.prefix;
    config.redisTimeoutMs = options.redis.timeoutMs ?? config.redisTimeoutMs;
    config.presenceTimeoutMs = options.redis.presenceTimeoutMs ?? config.presenceTimeoutMs;
  }
  const sb = await Switchboard.create({ config, ...(options.web ? { web: options.web } : {}) });
  installDefaultChannels(sb);
  const open = { subscribe: allow.authenticated, publish: allow.authenticated, history: allow.authenticated, presence: allow.authenticated, trackPresence: true };
  sb.defineNamespace('room', { ...open, historySize: 50 })
    .defineNamespace('tiny', { ...open, historySize: 3 })
    .defineNamespace('nohist', { subscribe: allow.authenticated, publish: allow.authenticated, historySize: 0 })
    .defineNamespace('locked', {});
  options.setup?.(sb);
  let port = 0;
  if (options.listen !== false) port = (await sb.listen(options.port ?? 0, '127.0.0.1')).port;
  return {
    sb,
    port,
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    token: (user, role = 'customer', ttlSeconds = 3600, tenant) => sb.mintToken(tenant ? { user, role, ttlSeconds, tenant } : { user, role, ttlSeconds }),
    close: async () => {
      await sb.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
