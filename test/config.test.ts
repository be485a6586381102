import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, defaultLimits, describeSettings, loadConfig } from '../src/core/config.js';

const SECRET = 'a-production-secret-0123456789';

function problemsOf(env: Record<string, string | undefined>, flags: Record<string, string> = {}): string[] {
  try {
    loadConfig(env, flags);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    for (const p of err.problems) assert.ok(err.message.includes(`  - ${p}`), 'the message lists every problem');
    return err.problems;
  }
  return assert.fail('expected a ConfigError');
}

void describe('loadConfig', () => {
  void test('defaults: development on localhost:8000 with the documented limits', () => {
    const config = loadConfig({});
    assert.deepEqual(config, {
      env: 'development',
      port: 8000,
      host: 'localhost',
      dataDir: 'data',
      jwtSecret: null,
      apiKey: null,
      allowedOrigins: [],
      trustedProxies: [],
      allowAnonymous: false,
      logLevel: 'info',
      redisUrl: null,
      redisPrefix: 'sb:',
      redisTimeoutMs: 5_000,
      presenceTimeoutMs: 15_000,
      databaseUrl: null,
      databaseSchema: null,
      demoData: true,
      sandboxPayments: true,
      sandboxSecret: null,
      limits: defaultLimits,
      history: { size: 100, ttlMs: 300_000, maxChars: 256 * 1024 * 1024 },
      shutdownGraceMs: 5_000,
      webDir: null,
    });
    assert.notEqual(config.limits, defaultLimits, 'a copy: changing one config does not change the defaults');
    assert.deepEqual(defaultLimits, {
      maxFrameBytes: 65_536,
      messagesPerSecond: 50,
      messageBurst: 100,
      maxSubscriptions: 128,
      maxConnectionsPerUser: 32,
      maxBufferedBytes: 1_048_576,
      maxNodeBufferedBytes: 268_435_456,
      maxReplyBytes: 262_144,
      maxRequestsInFlight: 16,
      maxJsonDepth: 32,
      preAuthFrameBytes: 8192,
      preAuthFrames: 16,
      maxConnections: 0,
      maxConnectionsPerAddress: 512,
      maxPendingPerAddress: 256,
      maxPending: 0,
      connectionsPerSecondPerAddress: 200,
      requestTimeoutMs: 5_000,
      keepAliveTimeoutMs: 72_000,
      publicRequestsPerSecond: 5,
      heartbeatMs: 25_000,
      tokenGraceMs: 10_000,
      authTimeoutMs: 10_000,
    });
  });

  void test('the mode comes from SWITCHBOARD_ENV, else NODE_ENV; test mode logs nothing by default', () => {
    assert.equal(loadConfig({ NODE_ENV: 'test' }).env, 'test');
    assert.equal(loadConfig({ NODE_ENV: 'test' }).logLevel, 'silent');
    assert.equal(loadConfig({ NODE_ENV: 'staging' }).env, 'development');
    assert.equal(loadConfig({ NODE_ENV: 'production', SWITCHBOARD_ENV: 'test' }).env, 'test');
    assert.equal(loadConfig({ SWITCHBOARD_ENV: 'test', LOG_LEVEL: 'debug' }).logLevel, 'debug');
  });

  void test('every variable is read', () => {
    const config = loadConfig({
      SWITCHBOARD_ENV: 'test',
      PORT: '9001',
      HOST: '0.0.0.0',
      SWITCHBOARD_DATA: '/var/lib/switchboard',
      SWITCHBOARD_JWT_SECRET: SECRET,
      SWITCHBOARD_API_KEY: 'api-key-0123456789abcdef',
      SWITCHBOARD_ALLOWED_ORIGINS: 'https://shop.example.com, https://admin.example.com:8443 ,',
      SWITCHBOARD_ALLOW_ANONYMOUS: '1',
      LOG_LEVEL: 'warn',
      REDIS_URL: 'rediss://cache:6380/0',
      SWITCHBOARD_REDIS_PREFIX: 'shop-eu:',
      SWITCHBOARD_REDIS_TIMEOUT_MS: '2500',
      SWITCHBOARD_PRESENCE_TIMEOUT_MS: '9000',
      DATABASE_URL: 'postgresql://db/app',
      SWITCHBOARD_MAX_FRAME_BYTES: '2048',
      SWITCHBOARD_MESSAGES_PER_SECOND: '2.5',
      SWITCHBOARD_MESSAGE_BURST: '7',
      SWITCHBOARD_MAX_SUBSCRIPTIONS: '3',
      SWITCHBOARD_MAX_CONNECTIONS_PER_USER: '4',
      SWITCHBOARD_MAX_BUFFERED_BYTES: '65536',
      SWITCHBOARD_MAX_NODE_BUFFERED_BYTES: '2097152',
      SWITCHBOARD_MAX_REPLY_BYTES: '32768',
      SWITCHBOARD_MAX_REQUESTS_IN_FLIGHT: '2',
      SWITCHBOARD_MAX_JSON_DEPTH: '8',
      SWITCHBOARD_PREAUTH_FRAME_BYTES: '2048',
      SWITCHBOARD_PREAUTH_FRAMES: '3',
      SWITCHBOARD_MAX_CONNECTIONS: '1000',
      SWITCHBOARD_MAX_CONNECTIONS_PER_ADDRESS: '10',
      SWITCHBOARD_MAX_PENDING_PER_ADDRESS: '5',
      SWITCHBOARD_MAX_PENDING: '50',
      SWITCHBOARD_CONNECTIONS_PER_SECOND_PER_ADDRESS: '25',
      SWITCHBOARD_REQUEST_TIMEOUT_MS: '2000',
      SWITCHBOARD_KEEP_ALIVE_TIMEOUT_MS: '65000',
      SWITCHBOARD_TRUSTED_PROXIES: 'loopback, 10.0.0.0/8,fd00::1',
      SWITCHBOARD_PUBLIC_REQUESTS_PER_SECOND: '0.5',
      SWITCHBOARD_HEARTBEAT_MS: '100',
      SWITCHBOARD_TOKEN_GRACE_MS: '0',
      SWITCHBOARD_AUTH_TIMEOUT_MS: '250',
      SWITCHBOARD_HISTORY_SIZE: '0',
      SWITCHBOARD_HISTORY_TTL_MS: '1000',
      SWITCHBOARD_HISTORY_MAX_CHARS: '4096',
      SWITCHBOARD_SHUTDOWN_GRACE_MS: '0',
      SWITCHBOARD_DATABASE_SCHEMA: 'shop_eu',
      SWITCHBOARD_DEMO_DATA: 'true',
      SWITCHBOARD_SANDBOX_PAYMENTS: 'false',
      SWITCHBOARD_SANDBOX_SECRET: 'sandbox-secret-0123456789',
      SWITCHBOARD_WEB_DIR: '/srv/shop/web',
    });
    assert.deepEqual(config, {
      env: 'test',
      port: 9001,
      host: '0.0.0.0',
      dataDir: '/var/lib/switchboard',
      jwtSecret: SECRET,
      apiKey: 'api-key-0123456789abcdef',
      allowedOrigins: ['https://shop.example.com', 'https://admin.example.com:8443'],
      trustedProxies: ['loopback', '10.0.0.0/8', 'fd00::1'],
      allowAnonymous: true,
      logLevel: 'warn',
      redisUrl: 'rediss://cache:6380/0',
      redisPrefix: 'shop-eu:',
      redisTimeoutMs: 2500,
      presenceTimeoutMs: 9000,
      databaseUrl: 'postgresql://db/app',
      databaseSchema: 'shop_eu',
      demoData: true,
      sandboxPayments: false,
      sandboxSecret: 'sandbox-secret-0123456789',
      limits: {
        maxFrameBytes: 2048,
        messagesPerSecond: 2.5,
        messageBurst: 7,
        maxSubscriptions: 3,
        maxConnectionsPerUser: 4,
        maxBufferedBytes: 65536,
        maxNodeBufferedBytes: 2_097_152,
        maxReplyBytes: 32768,
        maxRequestsInFlight: 2,
        maxJsonDepth: 8,
        preAuthFrameBytes: 2048,
        preAuthFrames: 3,
        maxConnections: 1000,
        maxConnectionsPerAddress: 10,
        maxPendingPerAddress: 5,
        maxPending: 50,
        connectionsPerSecondPerAddress: 25,
        requestTimeoutMs: 2000,
        keepAliveTimeoutMs: 65000,
        publicRequestsPerSecond: 0.5,
        heartbeatMs: 100,
        tokenGraceMs: 0,
        authTimeoutMs: 250,
      },
      history: { size: 0, ttlMs: 1000, maxChars: 4096 },
      shutdownGraceMs: 0,
      webDir: '/srv/shop/web',
    });
  });

  void test('flags win over the environment', () => {
    const config = loadConfig(
      { PORT: '9000', HOST: 'example.internal', SWITCHBOARD_ALLOW_ANONYMOUS: 'true', SWITCHBOARD_HEARTBEAT_MS: '5000' },
      { port: '9100', 'allow-anonymous': 'false', 'heartbeat-ms': '1000' },
    );
    assert.equal(config.port, 9100);
    assert.equal(config.host, 'example.internal', 'env still applies where no flag is given');
    assert.equal(config.allowAnonymous, false);
    assert.equal(config.limits.heartbeatMs, 1000);
    // A bad flag is reported as the flag, even when the variable is fine.
    const problems = problemsOf({ PORT: '9000' }, { port: 'x' });
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /^--port="x": /);
  });

  void test('empty variables count as unset', () => {
    const config = loadConfig({ PORT: '', SWITCHBOARD_JWT_SECRET: '', LOG_LEVEL: '' });
    assert.equal(config.port, 8000);
    assert.equal(config.jwtSecret, null);
    assert.equal(config.logLevel, 'info');
  });

  void test('every bad value is listed in one ConfigError, each with its variable and value', () => {
    const bad: Record<string, string> = {
      SWITCHBOARD_ENV: 'prod',
      PORT: 'abc',
      SWITCHBOARD_JWT_SECRET: 'short',
      SWITCHBOARD_API_KEY: 'short',
      SWITCHBOARD_ALLOWED_ORIGINS: 'shop.example.com',
      SWITCHBOARD_ALLOW_ANONYMOUS: 'yes',
      LOG_LEVEL: 'loud',
      REDIS_URL: 'http://cache:6379',
      SWITCHBOARD_REDIS_TIMEOUT_MS: '10',
      SWITCHBOARD_PRESENCE_TIMEOUT_MS: '100',
      DATABASE_URL: 'mysql://db',
      SWITCHBOARD_MAX_FRAME_BYTES: '10',
      SWITCHBOARD_MESSAGES_PER_SECOND: '0',
      SWITCHBOARD_MESSAGE_BURST: '1.5',
      SWITCHBOARD_MAX_SUBSCRIPTIONS: '0',
      SWITCHBOARD_MAX_CONNECTIONS_PER_USER: '-1',
      SWITCHBOARD_MAX_BUFFERED_BYTES: '1',
      SWITCHBOARD_HEARTBEAT_MS: '5',
      SWITCHBOARD_TOKEN_GRACE_MS: '-1',
      SWITCHBOARD_AUTH_TIMEOUT_MS: 'soon',
      SWITCHBOARD_HISTORY_SIZE: '-3',
      SWITCHBOARD_HISTORY_TTL_MS: '1e',
      SWITCHBOARD_SHUTDOWN_GRACE_MS: 'never',
      SWITCHBOARD_MAX_JSON_DEPTH: '2',
      SWITCHBOARD_MAX_REQUESTS_IN_FLIGHT: '0',
      SWITCHBOARD_TRUSTED_PROXIES: '10.0.0.0/33',
      SWITCHBOARD_REQUEST_TIMEOUT_MS: 'fast',
    };
    const problems = problemsOf(bad);
    for (const [name, value] of Object.entries(bad)) {
      const mentions = problems.filter((p) => p.startsWith(`${name}=${JSON.stringify(value)}: `));
      assert.equal(mentions.length, 1, `${name} is reported once: ${JSON.stringify(problems)}`);
      assert.ok(mentions[0]!.length > `${name}=${JSON.stringify(value)}: `.length + 3, `with what is expected: ${mentions[0]}`);
    }
    assert.equal(problems.length, Object.keys(bad).length);
  });

  void test('out-of-range ports and non-integers', () => {
    for (const port of ['65536', '-1', '1.5', '80x']) {
      const problems = problemsOf({ PORT: port });
      assert.equal(problems.length, 1);
      assert.ok(problems[0]!.startsWith(`PORT="${port}"`), problems[0]);
    }
    assert.equal(loadConfig({ PORT: '0' }).port, 0, 'port 0: any free port');
    assert.equal(loadConfig({ PORT: '65535' }).port, 65535);
  });

  void test('allowed origins: scheme and host only, or *', () => {
    assert.deepEqual(loadConfig({ SWITCHBOARD_ALLOWED_ORIGINS: '*' }).allowedOrigins, ['*']);
    assert.deepEqual(loadConfig({ SWITCHBOARD_ALLOWED_ORIGINS: 'http://localhost:3000' }).allowedOrigins, ['http://localhost:3000']);
    for (const value of ['https://shop.example.com/', 'https://shop.example.com/path', 'ftp://x.example', 'https://a.example,shop.example']) {
      const problems = problemsOf({ SWITCHBOARD_ALLOWED_ORIGINS: value });
      assert.equal(problems.length, 1, value);
      assert.match(problems[0]!, /^SWITCHBOARD_ALLOWED_ORIGINS=.*scheme and host/);
    }
  });

  void test('boolean settings accept true/false/1/0 only', () => {
    assert.equal(loadConfig({ SWITCHBOARD_ALLOW_ANONYMOUS: 'true' }).allowAnonymous, true);
    assert.equal(loadConfig({ SWITCHBOARD_ALLOW_ANONYMOUS: '0' }).allowAnonymous, false);
    assert.deepEqual(problemsOf({ SWITCHBOARD_ALLOW_ANONYMOUS: 'TRUE' }).length, 1);
  });

  void test('unknown flags are problems too, listed with the rest', () => {
    const problems = problemsOf({ PORT: 'abc' }, { prot: '8000', 'jwt-secret': 'short' });
    assert.ok(problems.includes('unknown flag --prot'), JSON.stringify(problems));
    assert.ok(problems.some((p) => p.startsWith('PORT="abc"')));
    assert.ok(problems.some((p) => p.startsWith('--jwt-secret="short"')));
    assert.equal(problems.length, 3);
  });

  void test('production requires SWITCHBOARD_JWT_SECRET and SWITCHBOARD_ALLOWED_ORIGINS', () => {
    for (const env of [{ SWITCHBOARD_ENV: 'production' }, { NODE_ENV: 'production' }]) {
      const problems = problemsOf(env);
      assert.equal(problems.length, 2, JSON.stringify(problems));
      assert.ok(problems.some((p) => p.startsWith('SWITCHBOARD_JWT_SECRET must be set in production')));
      assert.ok(problems.some((p) => p.startsWith('SWITCHBOARD_ALLOWED_ORIGINS must be set in production')));
    }
    const onlySecret = problemsOf({ SWITCHBOARD_ENV: 'production', SWITCHBOARD_JWT_SECRET: SECRET });
    assert.deepEqual(onlySecret.map((p) => p.split(' ')[0]), ['SWITCHBOARD_ALLOWED_ORIGINS']);
    const onlyOrigins = problemsOf({ SWITCHBOARD_ENV: 'production', SWITCHBOARD_ALLOWED_ORIGINS: 'https://shop.example.com' });
    assert.deepEqual(onlyOrigins.map((p) => p.split(' ')[0]), ['SWITCHBOARD_JWT_SECRET']);
    // Listed together with bad values.
    const mixed = problemsOf({ SWITCHBOARD_ENV: 'production', PORT: 'abc' });
    assert.equal(mixed.length, 3);

    const config = loadConfig({ SWITCHBOARD_ENV: 'production', SWITCHBOARD_JWT_SECRET: SECRET, SWITCHBOARD_ALLOWED_ORIGINS: 'https://shop.example.com' });
    assert.equal(config.env, 'production');
    assert.equal(config.logLevel, 'info');
    assert.equal(config.apiKey, null);
    assert.equal(config.demoData, false, 'no demo data in production unless asked for');
    assert.equal(config.sandboxPayments, false, 'no sandbox payments in production unless asked for');
    const sandboxOn = problemsOf({ SWITCHBOARD_ENV: 'production', SWITCHBOARD_JWT_SECRET: SECRET, SWITCHBOARD_ALLOWED_ORIGINS: 'https://shop.example.com', SWITCHBOARD_SANDBOX_PAYMENTS: 'true' });
    assert.ok(sandboxOn.some((p) => p.startsWith('SWITCHBOARD_SANDBOX_SECRET must be set when sandbox payments are on in production')), sandboxOn.join('\n'));
    // Flags satisfy it too.
    const viaFlags = loadConfig({}, { env: 'production', 'jwt-secret': SECRET, 'allowed-origins': 'https://shop.example.com' });
    assert.equal(viaFlags.env, 'production');
    assert.deepEqual(viaFlags.allowedOrigins, ['https://shop.example.com']);
  });

  void test('a reply bound over the connection bound is refused; left unset it follows the connection bound down', () => {
    const problems = problemsOf({ SWITCHBOARD_MAX_BUFFERED_BYTES: '65536', SWITCHBOARD_MAX_REPLY_BYTES: '131072' });
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /SWITCHBOARD_MAX_REPLY_BYTES must not exceed SWITCHBOARD_MAX_BUFFERED_BYTES/);
    assert.equal(loadConfig({ SWITCHBOARD_MAX_BUFFERED_BYTES: '131072' }).limits.maxReplyBytes, 32768);
  });

  // With SWITCHBOARD_MAX_FRAME_BYTES=4096, a client that had not connected could send 8 KiB frames
  // and one that had, 4 KiB: the limit meant to keep strangers cheap let them send more.
  void test('the frame size before connect is never above the frame size; left unset it follows it down', () => {
    const problems = problemsOf({ SWITCHBOARD_MAX_FRAME_BYTES: '4096', SWITCHBOARD_PREAUTH_FRAME_BYTES: '8192' });
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /SWITCHBOARD_PREAUTH_FRAME_BYTES must not exceed SWITCHBOARD_MAX_FRAME_BYTES/);
    assert.equal(loadConfig({ SWITCHBOARD_MAX_FRAME_BYTES: '4096' }).limits.preAuthFrameBytes, 4096);
    assert.equal(loadConfig({ SWITCHBOARD_MAX_FRAME_BYTES: '1048576' }).limits.preAuthFrameBytes, 8192);
  });

  void test('trusted proxies: addresses, CIDR ranges and loopback; anything else is named', () => {
    assert.deepEqual(loadConfig({ SWITCHBOARD_TRUSTED_PROXIES: '192.168.1.10,::1,172.16.0.0/12,loopback' }).trustedProxies, ['192.168.1.10', '::1', '172.16.0.0/12', 'loopback']);
    for (const value of ['proxy.internal', '10.0.0.0/8/1', '10.0.0.0/x', '300.1.1.1']) {
      const problems = problemsOf({ SWITCHBOARD_TRUSTED_PROXIES: value });
      assert.equal(problems.length, 1, value);
      assert.match(problems[0]!, /IP address, a CIDR range/);
    }
  });

  void test('describeSettings lists every variable with its flag', () => {
    const settings = describeSettings();
    assert.equal(new Set(settings.map((s) => s.env)).size, settings.length);
    for (const [env, flag] of [
      ['PORT', '--port'],
      ['SWITCHBOARD_JWT_SECRET', '--jwt-secret'],
      ['SWITCHBOARD_ALLOWED_ORIGINS', '--allowed-origins'],
      ['SWITCHBOARD_SHUTDOWN_GRACE_MS', '--shutdown-grace-ms'],
    ] as const) {
      assert.ok(settings.some((s) => s.env === env && s.flag === flag), env);
    }
    assert.equal(settings.length, 47);
  });
});
