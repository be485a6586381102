import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT } from 'jose';
import { CloseCodes, type ReplyFrame, type WelcomeFrame } from '@switchboard/client/protocol';
import { TokenService } from '../../src/core/auth/tokens.js';
import { TEST_SECRET } from '../helpers/server.js';
import { delay, WsTestClient, wsSuiteServer } from '../helpers/ws-client.js';

const GRACE_MS = 300;
// Long enough that connect frames under load are never cut off; the sweep then runs every 500 ms.
const AUTH_TIMEOUT_MS = 1000;

function expectError(reply: ReplyFrame, code: string): void {
  assert.equal(reply.ok, false, `expected error ${code}, got ${JSON.stringify(reply)}`);
  if (!reply.ok) assert.equal(reply.error.code, code);
}

async function expiredToken(user: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ role: 'customer' })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(user)
    .setIssuedAt(now - 120)
    .setExpirationTime(now - 60)
    .sign(new TextEncoder().encode(TEST_SECRET));
}

/** Changes one character in the middle of the signature (not the last, whose low bits may be padding). */
function tamperSignature(token: string): string {
  const [header, payload, signature] = token.split('.');
  assert.ok(header && payload && signature);
  const i = 10;
  const swapped = signature[i] === 'A' ? 'B' : 'A';
  return `${header}.${payload}.${signature.slice(0, i)}${swapped}${signature.slice(i + 1)}`;
}

void describe('ws auth', () => {
  const server = wsSuiteServer({ limits: { tokenGraceMs: GRACE_MS, authTimeoutMs: AUTH_TIMEOUT_MS } });

  void test('token in ?token= gets a welcome with the user', async () => {
    const token = await server.token('alice', 'customer', 3600, 'acme');
    const c = await WsTestClient.open(server.wsUrl, { token });
    const welcome = await c.expectOp('welcome');
    assert.deepEqual(welcome.user, { id: 'alice', role: 'customer', tenant: 'acme' });
    assert.equal(typeof welcome.session, 'string');
    assert.equal(typeof welcome.heartbeat, 'number');
    assert.ok(welcome.expiresAt !== null && Date.parse(welcome.expiresAt) > Date.now());
    await c.assertAlive();
    // A second connect on an authenticated connection is refused, and the connection lives on.
    expectError(await c.request({ op: 'connect', token }), 'already_connected');
    await c.assertAlive();
    await c.disconnect();
  });

  void test('token in the switchboard_token cookie gets a welcome', async () => {
    const token = await server.token('bob');
    const c = await WsTestClient.open(server.wsUrl, { cookie: `theme=dark; switchboard_token=${encodeURIComponent(token)}; other=1` });
    const welcome = await c.expectOp('welcome');
    assert.equal(welcome.user?.id, 'bob');
    await c.assertAlive();
    await c.disconnect();
  });

  void test('token in the first frame (connect) gets a welcome, then the reply', async () => {
    const token = await server.token('carol', 'staff');
    const c = await WsTestClient.open(server.wsUrl);
    c.send({ op: 'connect', id: 1, token });
    const welcome = await c.expectOp('welcome');
    assert.deepEqual(welcome.user, { id: 'carol', role: 'staff' });
    const reply = await c.expectOp('reply');
    assert.equal(reply.id, 1);
    assert.equal(reply.ok, true);
    if (reply.ok) assert.deepEqual(reply.result, { session: welcome.session, user: { id: 'carol', role: 'staff' } });
    await c.assertAlive();
    await c.disconnect();
  });

  void test('requests sent right behind the connect frame wait for it and are answered in order', async () => {
    const token = await server.token('dave');
    const c = await WsTestClient.open(server.wsUrl);
    c.send({ op: 'connect', id: 1, token });
    c.send({ op: 'ping', id: 2 });
    c.send({ op: 'subscribe', id: 3, channel: 'room:pipelined' });
    await c.expectOp('welcome');
    const ids: number[] = [];
    for (let i = 0; i < 3; i++) {
      const reply = await c.expectOp('reply');
      assert.equal(reply.ok, true, JSON.stringify(reply));
      ids.push(reply.id);
    }
    assert.deepEqual(ids, [1, 2, 3]);
    await c.disconnect();
  });

  void test('a request before connect is refused with not_connected; the connection may still connect', async () => {
    const c = await WsTestClient.open(server.wsUrl);
    expectError(await c.request({ op: 'ping' }), 'not_connected');
    c.send({ op: 'connect', id: 50, token: await server.token('erin') });
    await c.expectOp('welcome');
    assert.equal((await c.reply(50)).ok, true);
    await c.disconnect();
  });

  void test('connect without a token is refused and closed with 4500', async () => {
    const c = await WsTestClient.open(server.wsUrl);
    c.send({ op: 'connect', id: 1 });
    const reply = await c.expectOp('reply');
    expectError(reply, 'invalid_token');
    assert.deepEqual(await c.closed(), { code: CloseCodes.unauthorized, reason: 'a token is required' });
  });

  void test('sending nothing closes with 4006 after authTimeoutMs', async () => {
    const started = Date.now();
    const c = await WsTestClient.open(server.wsUrl);
    const closed = await c.closed(AUTH_TIMEOUT_MS + 2000);
    assert.equal(closed.code, CloseCodes.authTimeout);
    assert.ok(Date.now() - started >= AUTH_TIMEOUT_MS, 'closed before the auth timeout');
    assert.equal(c.pending.length, 0, 'no welcome for an unauthenticated connection');
  });

  void test('a badly signed token closes with 4500 (URL, cookie and connect frame)', async () => {
    const good = await server.token('mallory');
    const forged = await new TokenService('some-other-secret-0123456789').mint({ user: 'mallory', role: 'admin' });
    for (const token of [tamperSignature(good), forged, 'not-a-jwt']) {
      const viaUrl = await WsTestClient.open(server.wsUrl, { token });
      assert.equal((await viaUrl.closed()).code, CloseCodes.unauthorized, `?token=${token.slice(0, 20)}…`);
      assert.equal(viaUrl.pending.length, 0, 'no welcome before the close');

      const viaCookie = await WsTestClient.open(server.wsUrl, { cookie: `switchboard_token=${token}` });
      assert.equal((await viaCookie.closed()).code, CloseCodes.unauthorized);

      const viaFrame = await WsTestClient.open(server.wsUrl);
      viaFrame.send({ op: 'connect', id: 7, token });
      expectError(await viaFrame.reply(7), 'invalid_token');
      assert.equal((await viaFrame.closed()).code, CloseCodes.unauthorized);
    }
  });

  void test('an expired token closes with 4004 (URL and connect frame)', async () => {
    const token = await expiredToken('alice');
    const viaUrl = await WsTestClient.open(server.wsUrl, { token });
    assert.equal((await viaUrl.closed()).code, CloseCodes.tokenExpired);
    assert.equal(viaUrl.pending.length, 0);

    const viaFrame = await WsTestClient.open(server.wsUrl);
    viaFrame.send({ op: 'connect', id: 1, token });
    expectError(await viaFrame.reply(1), 'invalid_token');
    assert.equal((await viaFrame.closed()).code, CloseCodes.tokenExpired);
  });

  void test('without a refresh the connection closes with 4004 after expiry + grace', async () => {
    const c = await WsTestClient.open(server.wsUrl, { token: await server.token('frank', 'customer', 2) });
    const welcome: WelcomeFrame = await c.expectOp('welcome');
    assert.ok(welcome.expiresAt);
    const deadline = Date.parse(welcome.expiresAt) + GRACE_MS;
    await c.assertAlive();
    const closed = await c.closed(deadline - Date.now() + 2000);
    const at = Date.now();
    assert.equal(closed.code, CloseCodes.tokenExpired);
    assert.ok(at >= deadline - 20, `closed ${deadline - at} ms before expiry + grace`);
  });

  void test('a refresh before expiry keeps the connection open past the old expiry + grace', async () => {
    const c = await WsTestClient.open(server.wsUrl, { token: await server.token('grace', 'customer', 2) });
    const welcome = await c.expectOp('welcome');
    assert.ok(welcome.expiresAt);
    const oldDeadline = Date.parse(welcome.expiresAt) + GRACE_MS;

    // Refused refreshes leave the old expiry in place and the connection open.
    expectError(await c.request({ op: 'refresh', token: 'garbage' }), 'invalid_token');
    expectError(await c.request({ op: 'refresh', token: await server.token('someone-else') }), 'token_user_mismatch');
    expectError(await c.request({ op: 'refresh', token: await expiredToken('grace') }), 'invalid_token');

    const result = await c.ok<{ expiresAt: string | null }>({ op: 'refresh', token: await server.token('grace', 'customer', 3600) });
    assert.ok(result.expiresAt !== null && Date.parse(result.expiresAt) > Date.now() + 3000_000);

    // Past the old deadline by more than one sweep interval (500 ms).
    await delay(Math.max(0, oldDeadline - Date.now()) + 1000);
    assert.equal(c.isClosed, false, 'closed although the token was refreshed');
    await c.assertAlive();
    await c.disconnect();
  });
});
