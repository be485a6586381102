import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CloseCodes, type ConnectResult, type StreamPosition, type SubscribeResult, type SubscribedFrame, type WelcomeFrame } from '@switchboard/client/protocol';
import { ConnectionRefused, TestClient } from '../../src/core/testing/index.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { connectAs, expectError, expectOk, rawToken, sleep, unique } from './support.js';

void describe('connect', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ listen: false });
  });
  after(async () => server.close());

  void test('first-frame auth: welcome, then the reply with session and user', async () => {
    const token = await server.token('alice', 'customer', 600, 'acme');
    const client = await TestClient.connect(server.sb);
    const reply = client.request({ op: 'connect', token });
    const welcome = (await client.receive()) as WelcomeFrame;
    assert.equal(welcome.op, 'welcome');
    assert.deepEqual(welcome.user, { id: 'alice', role: 'customer', tenant: 'acme' });
    assert.equal(welcome.heartbeat, server.sb.config.limits.heartbeatMs);
    assert.equal(typeof welcome.session, 'string');
    const expires = Date.parse(welcome.expiresAt ?? '');
    assert.ok(Math.abs(expires - (Date.now() + 600_000)) < 5000, `expiresAt ${welcome.expiresAt}`);
    const result = expectOk<ConnectResult>(await reply);
    assert.deepEqual(result, { session: welcome.session, user: welcome.user });
    client.disconnect();
  });

  void test('token via ?token= authenticates on open', async () => {
    const token = await server.token('bob', 'admin');
    const client = await TestClient.connect(server.sb, { token });
    const welcome = (await client.receive()) as WelcomeFrame;
    assert.equal(welcome.op, 'welcome');
    assert.deepEqual(welcome.user, { id: 'bob', role: 'admin' });
    expectOk(await client.request({ op: 'ping' }));
    client.disconnect();
  });

  void test('token via the switchboard_token cookie authenticates on open', async () => {
    const token = await server.token('carol');
    const client = await TestClient.connect(server.sb, { cookie: `theme=dark; switchboard_token=${encodeURIComponent(token)}; other=1` });
    const welcome = (await client.receive()) as WelcomeFrame;
    assert.equal(welcome.op, 'welcome');
    assert.equal(welcome.user?.id, 'carol');
    client.disconnect();
  });

  void test('a token never expiring gives expiresAt null', async () => {
    const token = await server.token('dave', 'customer', 0);
    const client = await TestClient.connect(server.sb, { token });
    const welcome = (await client.receive()) as WelcomeFrame;
    assert.equal(welcome.expiresAt, null);
    client.disconnect();
  });

  void test('connect after authenticating (URL token) → already_connected, connection stays', async () => {
    const client = await connectAs(server, 'erin');
    const error = expectError(await client.request({ op: 'connect', token: await server.token('erin') }), 'already_connected');
    assert.equal(error.temporary, false);
    expectOk(await client.request({ op: 'ping' }));
    client.disconnect();
  });

  void test('connect twice on one connection → already_connected', async () => {
    const client = await TestClient.connect(server.sb);
    expectOk(await client.request({ op: 'connect', token: await server.token('frank') }));
    expectError(await client.request({ op: 'connect', token: await server.token('frank') }), 'already_connected');
    client.disconnect();
  });

  void test('two connect frames pipelined: one welcome, the second is already_connected, no connection slot leaks', async () => {
    const limited = await startServer({ listen: false, limits: { maxConnectionsPerUser: 1 } });
    try {
      const token = await limited.token('gina');
      const client = await TestClient.connect(limited.sb);
      client.sendJson({ op: 'connect', id: 1, token });
      client.sendJson({ op: 'connect', id: 2, token });
      expectOk(await client.reply(1));
      expectError(await client.reply(2), 'already_connected');
      assert.equal((await client.receive()).op, 'welcome');
      await client.expectSilence(50);
      client.disconnect();
      await sleep(5);
      // The single slot is free again.
      const next = await TestClient.connect(limited.sb, { token });
      assert.equal((await next.receive()).op, 'welcome');
      next.disconnect();
    } finally {
      await limited.close();
    }
  });

  void test('connect with no token and anonymous access off → invalid_token reply, close 4500', async () => {
    const client = await TestClient.connect(server.sb);
    expectError(await client.request({ op: 'connect' }), 'invalid_token', 'token');
    assert.equal((await client.closed()).code, CloseCodes.unauthorized);
  });

  void test('connect with a malformed token → invalid_token, close 4500', async () => {
    const client = await TestClient.connect(server.sb);
    expectError(await client.request({ op: 'connect', token: 'not.a.jwt' }), 'invalid_token', 'token');
    assert.equal((await client.closed()).code, CloseCodes.unauthorized);
  });

  void test('a token signed with another secret or without sub → close 4500', async () => {
    const foreign = await rawToken({ sub: 'x', role: 'admin', exp: Math.floor(Date.now() / 1000) + 60 }, 'some-other-secret-0123456789');
    const c1 = await TestClient.connect(server.sb, { token: foreign });
    assert.equal((await c1.closed()).code, CloseCodes.unauthorized);
    const noSub = await rawToken({ role: 'admin', exp: Math.floor(Date.now() / 1000) + 60 });
    const c2 = await TestClient.connect(server.sb);
    expectError(await c2.request({ op: 'connect', token: noSub }), 'invalid_token');
    assert.equal((await c2.closed()).code, CloseCodes.unauthorized);
  });

  void test('a bad token in the URL closes 4500 with no welcome', async () => {
    const client = await TestClient.connect(server.sb, { token: 'garbage' });
    const closed = await client.closed();
    assert.equal(closed.code, CloseCodes.unauthorized);
    await assert.rejects(client.receive(50), /closed/);
  });

  void test('an expired token closes 4004 (URL and connect frame)', async () => {
    const expired = await rawToken({ sub: 'old', role: 'customer', exp: Math.floor(Date.now() / 1000) - 60 });
    const viaUrl = await TestClient.connect(server.sb, { token: expired });
    assert.equal((await viaUrl.closed()).code, CloseCodes.tokenExpired);
    const viaFrame = await TestClient.connect(server.sb);
    expectError(await viaFrame.request({ op: 'connect', token: expired }), 'invalid_token', 'token');
    assert.equal((await viaFrame.closed()).code, CloseCodes.tokenExpired);
  });

  void test('requests before connect → not_connected (temporary), connection stays', async () => {
    const client = await TestClient.connect(server.sb);
    const error = expectError(await client.request({ op: 'subscribe', channel: 'room:a' }), 'not_connected');
    assert.equal(error.temporary, true);
    expectError(await client.request({ op: 'ping' }), 'not_connected');
    expectOk(await client.request({ op: 'connect', token: await server.token('hank') }));
    expectOk(await client.request({ op: 'ping' }));
    client.disconnect();
  });

  void test('requests pipelined right after connect wait for it instead of failing not_connected', async () => {
    const channel = unique('nohist:pipe-');
    const client = await TestClient.connect(server.sb);
    client.sendJson({ op: 'connect', id: 1, token: await server.token('ivy') });
    client.sendJson({ op: 'subscribe', id: 2, channel });
    client.sendJson({ op: 'publish', id: 3, channel, event: 'hello', data: { n: 1 } });
    client.sendJson({ op: 'ping', id: 4 });
    assert.equal((await client.receive()).op, 'welcome');
    expectOk(await client.reply(1));
    const subscribed = expectOk<SubscribeResult>(await client.reply(2));
    const published = expectOk<StreamPosition>(await client.reply(3));
    expectOk(await client.reply(4));
    assert.equal(published.offset, 1);
    // Requests after connect run concurrently: the publication is either in the subscribe position
    // or delivered as a message, never lost.
    if (subscribed.offset < 1) {
      const message = await client.receive();
      assert.equal(message.op === 'message' && message.offset, 1);
    }
    await client.expectSilence(20);
    client.disconnect();
  });

  void test('requests pipelined after a failing connect are dropped with the connection', async () => {
    const client = await TestClient.connect(server.sb);
    client.sendJson({ op: 'connect', id: 1, token: 'bad' });
    client.sendJson({ op: 'ping', id: 2 });
    expectError(await client.reply(1), 'invalid_token');
    assert.equal((await client.closed()).code, CloseCodes.unauthorized);
    await assert.rejects(client.reply(2, 100), /closed/);
  });

  void test('auth timeout: no connect frame in time closes 4006', async () => {
    const quick = await startServer({ listen: false, limits: { authTimeoutMs: 100 } });
    try {
      const client = await TestClient.connect(quick.sb);
      const started = Date.now();
      assert.equal((await client.closed(2000)).code, CloseCodes.authTimeout);
      assert.ok(Date.now() - started >= 90);
      // An authenticated client is not affected by the auth timeout.
      const ok = await connectAs(quick, 'jack');
      await sleep(300);
      expectOk(await ok.request({ op: 'ping' }));
      ok.disconnect();
    } finally {
      await quick.close();
    }
  });

  void test('max connections per user: the one over the limit closes 4502, others are not affected', async () => {
    const limited = await startServer({ listen: false, limits: { maxConnectionsPerUser: 2 } });
    try {
      const a = await connectAs(limited, 'kim');
      const b = await connectAs(limited, 'kim');
      const c = await TestClient.connect(limited.sb, { token: await limited.token('kim') });
      assert.equal((await c.closed()).code, CloseCodes.tooManyConnections);
      const d = await TestClient.connect(limited.sb);
      d.sendJson({ op: 'connect', id: 1, token: await limited.token('kim') });
      assert.equal((await d.closed()).code, CloseCodes.tooManyConnections);
      const other = await connectAs(limited, 'lee');
      expectOk(await a.request({ op: 'ping' }));
      // Closing one frees a slot.
      b.disconnect();
      await sleep(5);
      const e = await connectAs(limited, 'kim');
      expectOk(await e.request({ op: 'ping' }));
      for (const client of [a, e, other]) client.disconnect();
    } finally {
      await limited.close();
    }
  });

  void test('token expiry on an open connection closes 4004 after the grace; refresh extends it', async () => {
    const quick = await startServer({ listen: false, limits: { tokenGraceMs: 0, authTimeoutMs: 200 } });
    try {
      const exp = Math.floor(Date.now() / 1000) + 2; // 1-2 s from now
      const short = await rawToken({ sub: 'mo', role: 'customer', exp });
      const expiring = await TestClient.connect(quick.sb, { token: short });
      const refreshed = await TestClient.connect(quick.sb, { token: short });
      assert.equal((await expiring.receive()).op, 'welcome');
      assert.equal((await refreshed.receive()).op, 'welcome');
      expectOk(await refreshed.request({ op: 'refresh', token: await quick.token('mo', 'customer', 600) }));
      assert.equal((await expiring.closed(4000)).code, CloseCodes.tokenExpired);
      expectOk(await refreshed.request({ op: 'ping' }));
      refreshed.disconnect();
    } finally {
      await quick.close();
    }
  });
});

void describe('connect: anonymous', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ listen: false, allowAnonymous: true });
  });
  after(async () => server.close());

  void test('connect with no token → user null; public channels only', async () => {
    const client = await TestClient.connect(server.sb);
    const reply = client.request({ op: 'connect' });
    const welcome = (await client.receive()) as WelcomeFrame;
    assert.equal(welcome.op, 'welcome');
    assert.equal(welcome.user, null);
    assert.equal(welcome.expiresAt, null);
    const result = expectOk<ConnectResult>(await reply);
    assert.equal(result.user, null);
    assert.equal(result.session, welcome.session);
    expectOk(await client.request({ op: 'subscribe', channel: 'public:news' }));
    expectError(await client.request({ op: 'subscribe', channel: 'room:a' }), 'forbidden', 'channel');
    expectError(await client.request({ op: 'publish', channel: 'room:a', event: 'e', data: 1 }), 'forbidden', 'channel');
    client.disconnect();
  });

  void test('a token still authenticates as its user', async () => {
    const client = await TestClient.connect(server.sb);
    const result = expectOk<ConnectResult>(await client.request({ op: 'connect', token: await server.token('nia') }));
    assert.equal(result.user?.id, 'nia');
    client.disconnect();
  });

  void test('an anonymous connection cannot become a user by refresh', async () => {
    const client = await TestClient.connect(server.sb);
    expectOk(await client.request({ op: 'connect' }));
    expectError(await client.request({ op: 'refresh', token: await server.token('oz') }), 'token_user_mismatch', 'token');
    expectOk(await client.request({ op: 'ping' }));
    client.disconnect();
  });

  void test('/ws/notifications/ needs a user: anonymous is closed 4501', async () => {
    const client = await TestClient.connect(server.sb, { path: '/ws/notifications/?frames=switchboard' });
    client.sendJson({ op: 'connect', id: 1 });
    assert.equal((await client.receive()).op, 'welcome');
    assert.equal((await client.closed()).code, CloseCodes.forbidden);
  });
});

void describe('path aliases (native frames: ?frames=switchboard on the aliases that default to Channels)', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({
      listen: false,
      setup: (sb) => {
        sb.defineNamespace('cart', { subscribe: (ctx) => ctx.user !== null, snapshot: (ctx) => ({ cart: ctx.key, items: ['apple'], for: ctx.user?.id }) });
        sb.addRoute('/ws/cart/:id/', ({ id }) => [`cart:${id ?? ''}`]);
        sb.defineNamespace('badsnap', { subscribe: (ctx) => ctx.user !== null, snapshot: () => ({ n: 1n }) });
        sb.addRoute('/ws/badsnap/', () => ['badsnap:1']);
        sb.addRoute('/ws/broken/', () => {
          throw new Error('resolver bug');
        });
      },
    });
  });
  after(async () => server.close());

  void test('/ws/chat/lobby/ gets a subscribed frame for chat:lobby and then its messages', async () => {
    await server.sb.publish('chat:lobby', 'before', { n: 0 });
    const client = await TestClient.connect(server.sb, { path: '/ws/chat/lobby/?frames=switchboard', token: await server.token('pat') });
    assert.equal((await client.receive()).op, 'welcome');
    const subscribed = (await client.receive()) as SubscribedFrame;
    assert.equal(subscribed.op, 'subscribed');
    assert.equal(subscribed.channel, 'chat:lobby');
    assert.equal(typeof subscribed.epoch, 'string');
    assert.ok(subscribed.offset >= 1);
    assert.equal(subscribed.recovered, false);
    assert.deepEqual(subscribed.publications, []);
    // chat tracks presence: the client's own join comes too.
    const join = await client.receive();
    assert.deepEqual(join, { op: 'join', channel: 'chat:lobby', user: 'pat' });
    const position = await server.sb.publish('chat:lobby', 'hello', { text: 'hi' });
    const message = await client.receive();
    assert.deepEqual(
      message.op === 'message' ? [message.channel, message.event, message.data, message.offset] : message,
      ['chat:lobby', 'hello', { text: 'hi' }, position.offset],
    );
    // The alias subscription is a normal one.
    expectError(await client.request({ op: 'subscribe', channel: 'chat:lobby' }), 'already_subscribed');
    expectOk(await client.request({ op: 'unsubscribe', channel: 'chat:lobby' }));
    client.disconnect();
  });

  void test('the alias subscribes after a first-frame connect too (trailing slash optional)', async () => {
    const client = await TestClient.connect(server.sb, { path: '/ws/chat/room2?frames=switchboard' });
    expectOk(await client.request({ op: 'connect', token: await server.token('quin') }));
    const frames = [await client.receive(), await client.receive()];
    assert.deepEqual(frames.map((f) => f.op).sort(), ['subscribed', 'welcome']);
    const subscribed = frames.find((f) => f.op === 'subscribed');
    assert.equal(subscribed?.op === 'subscribed' && subscribed.channel, 'chat:room2');
    client.disconnect();
  });

  void test('/ws/notifications/ subscribes user:<id>', async () => {
    const client = await TestClient.connect(server.sb, { path: '/ws/notifications/?frames=switchboard', token: await server.token('rae') });
    assert.equal((await client.receive()).op, 'welcome');
    const subscribed = await client.receive();
    assert.equal(subscribed.op === 'subscribed' && subscribed.channel, 'user:rae');
    await server.sb.publish('user:rae', 'notice', { text: 'your order shipped' });
    const message = await client.receive();
    assert.equal(message.op === 'message' && message.event, 'notice');
    client.disconnect();
  });

  void test('an alias to a channel that fails validation closes 4501', async () => {
    const client = await TestClient.connect(server.sb, { path: '/ws/chat/bad%20room/?frames=switchboard', token: await server.token('sam') });
    assert.equal((await client.receive()).op, 'welcome');
    assert.equal((await client.closed()).code, CloseCodes.forbidden);
  });

  void test('a resolver that throws closes 4005', async () => {
    const client = await TestClient.connect(server.sb, { path: '/ws/broken/', token: await server.token('sam') });
    assert.equal((await client.receive()).op, 'welcome');
    assert.equal((await client.closed()).code, CloseCodes.internalError);
  });

  void test('an alias whose snapshot cannot be serialized closes 4005 and leaves nothing subscribed', async () => {
    const before = server.sb.hub.channelCount();
    const client = await TestClient.connect(server.sb, { path: '/ws/badsnap/', token: await server.token('sam') });
    assert.equal((await client.receive()).op, 'welcome');
    assert.equal((await client.closed()).code, CloseCodes.internalError);
    await sleep(5);
    assert.equal(server.sb.hub.channelCount(), before);
  });

  void test('the snapshot comes with the subscribed frame of an alias', async () => {
    const client = await TestClient.connect(server.sb, { path: '/ws/cart/42/', token: await server.token('tia') });
    assert.equal((await client.receive()).op, 'welcome');
    const subscribed = (await client.receive()) as SubscribedFrame;
    assert.equal(subscribed.channel, 'cart:42');
    assert.deepEqual(subscribed.snapshot, { cart: '42', items: ['apple'], for: 'tia' });
    client.disconnect();
  });

  void test('an unknown path is refused with 404 before upgrading', async () => {
    for (const path of ['/ws/nope/', '/other', '/ws/chat/', '/ws/chat/a/b/']) {
      await assert.rejects(TestClient.connect(server.sb, { path, token: await server.token('uma') }), (err: unknown) => {
        assert.ok(err instanceof ConnectionRefused, String(err));
        assert.equal(err.status, 404, path);
        return true;
      });
    }
  });

  void test('/ws and /ws/ are the plain endpoint', async () => {
    for (const path of ['/ws', '/ws/']) {
      const client = await TestClient.connect(server.sb, { path, token: await server.token('vic') });
      assert.equal((await client.receive()).op, 'welcome');
      await client.expectSilence(30);
      client.disconnect();
    }
  });
});

void describe('upgrade decision: origin', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ listen: false, allowedOrigins: ['https://shop.example.com'] });
  });
  after(async () => server.close());

  const refused = (status: number) => (err: unknown) => {
    assert.ok(err instanceof ConnectionRefused, String(err));
    assert.equal(err.status, status);
    return true;
  };

  void test('a cross-site Origin is refused 403, whether the token is in the URL or the cookie', async () => {
    const token = await server.token('alice');
    await assert.rejects(TestClient.connect(server.sb, { token, origin: 'https://evil.example' }), refused(403));
    await assert.rejects(TestClient.connect(server.sb, { cookie: `switchboard_token=${token}`, origin: 'https://evil.example' }), refused(403));
    await assert.rejects(TestClient.connect(server.sb, { token, origin: 'not a url' }), refused(403));
  });

  void test('the page’s own host, a listed origin, localhost (test env) and no Origin are let through', async () => {
    const token = await server.token('alice');
    for (const origin of ['https://switchboard.test', 'https://shop.example.com', 'http://localhost:5173', undefined]) {
      const client = await TestClient.connect(server.sb, origin === undefined ? { token } : { token, origin });
      assert.equal((await client.receive()).op, 'welcome', String(origin));
      client.disconnect();
    }
  });
});
