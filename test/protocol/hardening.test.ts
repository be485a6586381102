import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { SubscribeResult } from '@switchboard/client/protocol';
import { allow } from '../../src/core/channels/namespaces.js';
import { ConfigError, loadConfig } from '../../src/core/config.js';
import { TokenService } from '../../src/core/auth/tokens.js';
import { TestClient } from '../../src/core/testing/index.js';
import { CallbackTimeoutError, withTimeout } from '../../src/core/util/timeout.js';
import { startServer, TEST_SECRET, type TestServer } from '../helpers/server.js';
import { connectAs, expectError, expectOk } from './support.js';

void describe('hardening', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({
      listen: false,
      setup: (sb) => sb.defineNamespace('feed', { subscribe: allow.authenticated, historySize: 50 }),
    });
  });
  after(async () => server.close());

  void test('recovery takes the history permission: without it, since gives recovered:false and nothing', async () => {
    for (let i = 0; i < 3; i++) await server.sb.publish('feed:x', 'e', i);
    const client = await connectAs(server, 'reader');
    const result = expectOk<SubscribeResult>(await client.request({ op: 'subscribe', channel: 'feed:x', since: { epoch: (await server.sb.history('feed:x')).position.epoch, offset: 0 } }));
    assert.equal(result.recovered, false);
    assert.deepEqual(result.publications, []);
    assert.equal(result.offset, 3);
    client.disconnect();
  });

  void test('a refreshed token may not change the role or tenant', async () => {
    const client = await connectAs(server, 'carol', 'customer');
    expectError(await client.request({ op: 'refresh', token: await server.token('carol', 'admin') }), 'token_user_mismatch', 'token');
    expectError(await client.request({ op: 'refresh', token: await server.token('carol', 'customer', 60, 'acme') }), 'token_user_mismatch', 'token');
    expectOk(await client.request({ op: 'refresh', token: await server.token('carol', 'customer', 120) }));
    client.disconnect();
  });

  void test('connect without a token on a connection the cookie authenticated is a harmless no-op', async () => {
    const token = await server.token('dave');
    const client = await TestClient.connect(server.sb, { cookie: `switchboard_token=${token}` });
    assert.equal((await client.receive()).op, 'welcome');
    const result = expectOk<{ user: { id: string } }>(await client.request({ op: 'connect' }));
    assert.equal(result.user.id, 'dave');
    expectError(await client.request({ op: 'connect', token }), 'already_connected');
    client.disconnect();
  });
});

void test('production refuses the * origin and tokens without expiry', async () => {
  assert.throws(
    () => loadConfig({ SWITCHBOARD_ENV: 'production', SWITCHBOARD_JWT_SECRET: TEST_SECRET, SWITCHBOARD_ALLOWED_ORIGINS: '*' }),
    (err: unknown) => err instanceof ConfigError && err.problems.some((p) => p.includes('SWITCHBOARD_ALLOWED_ORIGINS=*')),
  );
  const tokens = new TokenService(TEST_SECRET, { requireExpiry: true });
  const forever = await new TokenService(TEST_SECRET).mint({ user: 'u', role: 'customer', ttlSeconds: 0 });
  const verified = await tokens.verify(forever);
  assert.equal(verified.ok, false);
  assert.equal(verified.ok === false && verified.reason, 'invalid');
  assert.equal((await tokens.verify(await tokens.mint({ user: 'u', role: 'customer', ttlSeconds: 60 }))).ok, true);
});

void test('application callbacks that hang fail with a timeout instead of pinning state', async () => {
  await assert.rejects(withTimeout(new Promise(() => undefined), 'a stuck rule', 20), (err: unknown) => err instanceof CallbackTimeoutError && /a stuck rule/.test(err.message));
  assert.equal(await withTimeout(Promise.resolve(7), 'fast', 20), 7);
  assert.equal(await withTimeout(7, 'sync', 20), 7);
});
