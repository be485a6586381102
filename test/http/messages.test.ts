import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CloseCodes } from '@switchboard/client/protocol';
import { loadConfig, ConfigError } from '../../src/core/config.js';
import { TokenService } from '../../src/core/auth/tokens.js';
import { startServer, TEST_API_KEY, TEST_SECRET, type TestServer } from '../helpers/server.js';
import { WsTestClient, withToken } from '../helpers/ws-client.js';
import { rawToken } from '../protocol/support.js';

/** What a person reads when something is wrong: the field, and what was expected, in words. */
void describe('error messages in plain words', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await WsTestClient.closeAll();
    await server.close();
  });

  const publish = (body: string, contentType = 'application/json') =>
    fetch(`${server.url}/api/publish`, { method: 'POST', headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': contentType }, body }).then(async (r) => ({ status: r.status, body: (await r.json()) as { error: { code: string; message: string } } }));

  void test('a missing field is "required", a wrong type says what was expected and what came', async () => {
    const missing = await publish(JSON.stringify({ channel: 'room:x', event: 'e' }));
    assert.equal(missing.status, 400);
    assert.equal(missing.body.error.message, 'data: required');
    const wrong = await publish(JSON.stringify({ channel: 7, event: 'e', data: 1 }));
    assert.equal(wrong.body.error.message, 'channel: must be text (got a whole number)');
  });

  void test('415 says which content type to send', async () => {
    const res = await publish('channel=x', 'application/x-www-form-urlencoded');
    assert.equal(res.status, 415);
    assert.match(res.body.error.message, /Content-Type: application\/json \(got application\/x-www-form-urlencoded\)/);
  });

  void test('token problems are told apart: malformed, signed with another secret, expired at a time', async () => {
    const tokens = new TokenService(TEST_SECRET);
    const malformed = await tokens.verify('garbage');
    assert.equal(malformed.ok === false && malformed.detail.startsWith('malformed token'), true, JSON.stringify(malformed));
    const foreign = await tokens.verify(await new TokenService('another-secret-0123456789').mint({ user: 'u', role: 'customer' }));
    assert.match(foreign.ok === false ? foreign.detail : '', /signature does not match/);
    const exp = Math.floor(Date.now() / 1000) - 60;
    const expired = await tokens.verify(await rawToken({ sub: 'u', role: 'customer', exp }));
    assert.equal(expired.ok === false && expired.reason, 'expired');
    assert.match(expired.ok === false ? expired.detail : '', new RegExp(`expired at ${new Date(exp * 1000).toISOString()}`));
  });

  void test('a frame over the limit closes 1009 with a reason naming the limits', async () => {
    const client = await WsTestClient.open(withToken(server.wsUrl, await server.token('big')));
    await client.expectOp('welcome');
    client.sendText(JSON.stringify({ op: 'ping', id: 1, pad: 'x'.repeat(70_000) }));
    const closed = await client.closed();
    assert.equal(closed.code, CloseCodes.messageTooBig);
    assert.match(closed.reason, /frame too big: at most 8192 bytes before connect succeeds, 65536 after/);
  });

  void test('settings say what they want', () => {
    try {
      loadConfig({ PORT: 'abc', SWITCHBOARD_MAX_SUBSCRIPTIONS: '0' });
      assert.fail('expected a ConfigError');
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      assert.deepEqual(err.problems, ['PORT="abc": must be a number', 'SWITCHBOARD_MAX_SUBSCRIPTIONS="0": must be at least 1']);
    }
  });
});
