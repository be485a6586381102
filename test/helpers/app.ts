import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe } from 'node:test';
import { createApp, type App } from '../../src/app.js';
import { Payments } from '../../src/modules/payments/payments.js';
import { loadConfig, type Config, type Limits } from '../../src/core/config.js';
import type { SwitchboardModule } from '../../src/core/module.js';
import type { DispatcherOptions } from '../../src/core/outbox/dispatcher.js';
import type { WebAppOptions } from '../../src/core/http/web.js';
import { DEMO_ACCOUNTS } from '../../src/modules/accounts/seed.js';
import type { Role } from '../../src/modules/accounts/schema.js';
import { dropSchema, PG_URL, postgresUnavailable } from './services.js';
import { suiteShared } from './suite.js';
import { WsTestClient } from './ws-client.js';
import { TEST_API_KEY, TEST_SECRET } from './server.js';

export type EngineName = 'sqlite' | 'postgres';
export const ENGINES: EngineName[] = ['sqlite', 'postgres'];

/**
 * Runs `body` once per database engine, as `describe('<title> [sqlite]')` and `[postgres]`.
 * The PostgreSQL copy is skipped, with the reason in the test output, when the server is down.
 */
export function forEachEngine(title: string, body: (engine: EngineName) => void): void {
  for (const engine of ENGINES) {
    void describe(`${title} [${engine}]`, async () => {
      const reason = engine === 'postgres' ? await postgresUnavailable() : null;
      if (reason) {
        void describe(`${title} [${engine}]`, { skip: reason }, () => {});
        return;
      }
      body(engine);
    });
  }
}

export interface TestAppOptions {
  engine: EngineName;
  /** Load the demo data (tenant "demo", the four DEMO_ACCOUNTS, the catalogue). Default true. */
  demo?: boolean;
  limits?: Partial<Limits>;
  dispatcher?: DispatcherOptions;
  /** Share a database with another TestApp (a second node): same SQLite folder or PG schema. */
  shareWith?: TestApp;
  listen?: boolean;
  /** Run on Redis (layer, presence, connection counts) under this key prefix. */
  redis?: { url: string; prefix: string };
  /** The modules to run (default: the built-in shop), e.g. `[...builtinModules, roomsModule]`. */
  modules?: readonly SwitchboardModule[];
  /** Serve a built web app at `/` (e.g. web/dist). */
  web?: WebAppOptions;
  /** Listen on this port (e.g. a node restarted where its clients expect it); default: a free one. */
  port?: number;
  /** Default 'test'. */
  env?: Config['env'];
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read answers loosely and assert on them
export interface ApiAnswer<T = any> {
  status: number;
  body: T;
  headers: Record<string, string>;
}

export interface RequestOptions {
  token?: string;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface TestApp {
  app: App;
  engine: EngineName;
  /** SQLite data folder, or the PostgreSQL schema. */
  dataDir: string;
  schema: string | null;
  port: number;
  url: string;
  wsUrl: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- as above
  request<T = any>(method: string, path: string, options?: RequestOptions): Promise<ApiAnswer<T>>;
  /** Signs in (POST /api/auth/login) and returns the token. */
  login(email: string, password: string): Promise<string>;
  /** The token of the demo account with this role. */
  loginAs(role: Role): Promise<string>;
  /** Registers a new customer with a random email; returns its token and id. */
  newCustomer(name?: string): Promise<{ token: string; id: string; email: string }>;
  close(): Promise<void>;
}

/** A full node (database, modules, outbox) on 127.0.0.1 with a random port. */
export async function startApp(options: TestAppOptions): Promise<TestApp> {
  const shared = options.shareWith;
  const dataDir = shared?.dataDir ?? (await mkdtemp(join(tmpdir(), 'switchboard-app-')));
  const schema = options.engine === 'postgres' ? (shared?.schema ?? `t_${randomBytes(6).toString('hex')}`) : null;
  const config: Config = loadConfig({ SWITCHBOARD_ENV: 'test' }, {});
  config.env = options.env ?? 'test';
  config.dataDir = dataDir;
  config.jwtSecret = TEST_SECRET;
  config.apiKey = TEST_API_KEY;
  config.host = '127.0.0.1';
  config.shutdownGraceMs = 500;
  config.demoData = options.demo ?? true;
  config.databaseUrl = options.engine === 'postgres' ? PG_URL : null;
  config.databaseSchema = schema;
  // Suites sign in and register hundreds of times from one address; the throttle has its own test.
  config.limits.publicRequestsPerSecond = 1_000_000;
  config.limits.connectionsPerSecondPerAddress = 1_000_000;
  Object.assign(config.limits, options.limits);
  if (options.redis) {
    config.redisUrl = options.redis.url;
    config.redisPrefix = options.redis.prefix;
  }
  const removeDatabase = async () => {
    // The first node of a shared database cleans up; a second node leaves it to the first.
    if (shared) return;
    if (schema) await dropSchema(schema);
    await rm(dataDir, { recursive: true, force: true });
  };
  let app: App;
  try {
    app = await createApp({ config, dispatcher: { pollMs: 200, ...options.dispatcher }, modules: options.modules, ...(options.web ? { web: options.web } : {}) });
  } catch (err) {
    await removeDatabase();
    throw err;
  }
  let port = 0;
  if (options.listen !== false) port = (await app.sb.listen(options.port ?? 0, '127.0.0.1')).port;
  const url = `http://127.0.0.1:${port}`;
  const request = async <T>(method: string, path: string, o: RequestOptions = {}): Promise<ApiAnswer<T>> => {
    const headers: Record<string, string> = { ...o.headers };
    if (o.token) headers.authorization = `Bearer ${o.token}`;
    if (o.body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(url + path, { method, headers, ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {}), signal: AbortSignal.timeout(30_000) });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as T, headers: Object.fromEntries(res.headers.entries()) };
  };
  const login = async (email: string, password: string) => {
    const res = await request<{ token: string }>('POST', '/api/auth/login', { body: { email, password } });
    if (res.status !== 200) throw new Error(`login ${email} answered ${res.status}: ${JSON.stringify(res.body)}`);
    return res.body.token;
  };
  let closed = false;
  return {
    app,
    engine: options.engine,
    dataDir,
    schema,
    port,
    url,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    request,
    login,
    loginAs: (role) => {
      const account = DEMO_ACCOUNTS.find((a) => a.role === role)!;
      return login(account.email, account.password);
    },
    newCustomer: async (name = 'Test Customer') => {
      const email = `c-${randomBytes(5).toString('hex')}@test.example`;
      const res = await request<{ token: string; user: { id: string } }>('POST', '/api/auth/register', { body: { email, password: 'password-123', name } });
      if (res.status !== 201) throw new Error(`register answered ${res.status}: ${JSON.stringify(res.body)}`);
      return { token: res.body.token, id: res.body.user.id, email };
    },
    close: async () => {
      if (closed) return;
      closed = true;
      await app.sb.close();
      await removeDatabase();
    },
  };
}

/** A full app for one describe block (see suiteShared): started in before(), its WebSocket test
 * clients and then the app closed in after(). */
export function suiteApp(engine: EngineName, options: Omit<TestAppOptions, 'engine'> = {}): TestApp {
  return suiteShared(() => startApp({ engine, ...options }), (t) => t.close(), () => WsTestClient.closeAll());
}

/** The payments module's service (its provider registry) of a running app. */
export function paymentsOf(app: App): Payments {
  const payments = app.services.get('payments');
  if (!(payments instanceof Payments)) throw new Error('this app runs without the payments module');
  return payments;
}
