import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, type TestServer } from '../helpers/server.js';
import { WsTestClient } from '../helpers/ws-client.js';

void describe('ws origin check', () => {
  let server: TestServer;
  let token: string;

  before(async () => {
    server = await startServer({ allowedOrigins: ['https://shop.example.com'] });
    token = await server.token('alice');
  });

  after(async () => {
    await WsTestClient.closeAll();
    await server.close();
  });

  void test('a disallowed Origin gets HTTP 403 before the upgrade', async () => {
    for (const origin of ['https://evil.example', 'https://shop.example.com.evil.example', 'http://shop.example.com', 'null']) {
      const refused = await WsTestClient.refused(server.wsUrl, { token, origin });
      assert.equal(refused.status, 403, origin);
      assert.equal((JSON.parse(refused.body) as { error: { code: string } }).error.code, 'origin_not_allowed');
    }
  });

  void test('a disallowed Origin is refused even with a valid cookie (no cross-site hijacking)', async () => {
    const refused = await WsTestClient.refused(server.wsUrl, { origin: 'https://evil.example', cookie: `switchboard_token=${token}` });
    assert.equal(refused.status, 403);
  });

  void test('the origin check comes before anything about the path or token', async () => {
    // A bad token behind a bad origin: still 403 (refused before the upgrade, no close code).
    assert.equal((await WsTestClient.refused(server.wsUrl, { token: 'bad', origin: 'https://evil.example' })).status, 403);
  });

  void test('no Origin header is allowed (non-browser clients)', async () => {
    const c = await WsTestClient.open(server.wsUrl, { token });
    assert.equal((await c.expectOp('welcome')).user?.id, 'alice');
    await c.disconnect();
  });

  void test('an allowlisted Origin is allowed', async () => {
    const c = await WsTestClient.open(server.wsUrl, { token, origin: 'https://shop.example.com' });
    assert.equal((await c.expectOp('welcome')).user?.id, 'alice');
    await c.assertAlive();
    await c.disconnect();
  });

  void test('an Origin equal to the Host is allowed', async () => {
    const c = await WsTestClient.open(server.wsUrl, { token, origin: `http://127.0.0.1:${server.port}` });
    await c.expectOp('welcome');
    await c.disconnect();
  });
});
