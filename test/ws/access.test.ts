import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CloseCodes, type ReplyFrame } from '@switchboard/client/protocol';
import { startServer } from '../helpers/server.js';
import { collectMessages, WsTestClient, wsSuiteServer } from '../helpers/ws-client.js';

function expectError(reply: ReplyFrame, code: string): void {
  assert.equal(reply.ok, false, `expected error ${code}, got ${JSON.stringify(reply)}`);
  if (!reply.ok) assert.equal(reply.error.code, code);
}

void describe('ws deny by default', () => {
  const server = wsSuiteServer();

  void test('subscribe to locked:x is forbidden and the connection lives on', async () => {
    const c = await WsTestClient.open(server.wsUrl, { token: await server.token('alice') });
    await c.expectOp('welcome');
    expectError(await c.request({ op: 'subscribe', channel: 'locked:x' }), 'forbidden');
    expectError(await c.request({ op: 'publish', channel: 'locked:x', event: 'e', data: 1 }), 'forbidden');
    expectError(await c.request({ op: 'history', channel: 'locked:x' }), 'forbidden');
    expectError(await c.request({ op: 'presence', channel: 'locked:x' }), 'forbidden');
    await c.assertAlive();
    // Nothing published to it reaches the refused subscriber.
    await server.sb.publish('locked:x', 'secret', { n: 1 });
    await c.expectSilence(100);
    await c.disconnect();
  });

  void test("another user's user: channel is forbidden; one's own is allowed", async () => {
    const c = await WsTestClient.open(server.wsUrl, { token: await server.token('alice') });
    await c.expectOp('welcome');
    expectError(await c.request({ op: 'subscribe', channel: 'user:bob' }), 'forbidden');
    expectError(await c.request({ op: 'history', channel: 'user:bob' }), 'forbidden');
    await c.assertAlive();
    await server.sb.publish('user:bob', 'note', { for: 'bob' });
    await c.expectSilence(100);

    await c.ok({ op: 'subscribe', channel: 'user:alice' });
    await server.sb.publish('user:alice', 'note', { for: 'alice' });
    const [msg] = await collectMessages(c, 'user:alice', 1);
    assert.deepEqual(msg?.data, { for: 'alice' });
    await c.disconnect();
  });

  void test('unknown namespaces and invalid channel names are refused; the connection lives on', async () => {
    const c = await WsTestClient.open(server.wsUrl, { token: await server.token('alice', 'customer') });
    await c.expectOp('welcome');
    expectError(await c.request({ op: 'subscribe', channel: 'nosuch:x' }), 'unknown_namespace');
    expectError(await c.request({ op: 'subscribe', channel: 'Bad Name' }), 'invalid_channel');
    expectError(await c.request({ op: 'subscribe', channel: 'admin:x' }), 'forbidden');
    // The server may publish where clients may not.
    expectError(await c.request({ op: 'publish', channel: 'public:news', event: 'e', data: 1 }), 'forbidden');
    await c.assertAlive();
    await c.disconnect();
  });
});

void describe('ws path aliases (native frames)', () => {
  const server = wsSuiteServer();

  void test('/ws/chat/lobby/ gets welcome, then subscribed chat:lobby, then its messages', async () => {
    await server.sb.publish('chat:lobby', 'hello', { text: 'before' });
    const url = `ws://127.0.0.1:${server.port}/ws/chat/lobby/?frames=switchboard`;
    const c = await WsTestClient.open(url, { token: await server.token('alice') });
    const welcome = await c.expectOp('welcome');
    assert.equal(welcome.user?.id, 'alice');
    const subscribed = await c.expectOp('subscribed');
    assert.equal(subscribed.channel, 'chat:lobby');
    assert.equal(subscribed.offset, 1);
    assert.equal(typeof subscribed.epoch, 'string');
    assert.equal(subscribed.recovered, false);
    assert.deepEqual(subscribed.publications, []);

    await server.sb.publish('chat:lobby', 'hello', { text: 'hi' });
    const [msg] = await collectMessages(c, 'chat:lobby', 1);
    assert.ok(msg);
    assert.equal(msg.channel, 'chat:lobby');
    assert.equal(msg.event, 'hello');
    assert.deepEqual(msg.data, { text: 'hi' });
    assert.equal(msg.epoch, subscribed.epoch);
    assert.equal(msg.offset, 2);

    // It is an ordinary connection besides: already subscribed to the alias's channel.
    expectError(await c.request({ op: 'subscribe', channel: 'chat:lobby' }), 'already_subscribed');
    await c.disconnect();
  });

  void test('an alias without the trailing slash, and with the token in a connect frame', async () => {
    const c = await WsTestClient.open(`ws://127.0.0.1:${server.port}/ws/chat/kitchen?frames=switchboard`);
    c.send({ op: 'connect', id: 1, token: await server.token('bob') });
    await c.expectOp('welcome');
    const subscribed = await c.nextMatching((f) => f.op === 'subscribed');
    assert.ok(subscribed.op === 'subscribed' && subscribed.channel === 'chat:kitchen', JSON.stringify(subscribed));
    const reply = await c.reply(1);
    assert.equal(reply.ok, true);
    // chat tracks presence: the user sees their own join.
    const join = await c.nextMatching((f) => f.op === 'join');
    assert.deepEqual(join, { op: 'join', channel: 'chat:kitchen', user: 'bob' });
    await c.disconnect();
  });

  void test("/ws/notifications/ subscribes the user's own channel", async () => {
    const c = await WsTestClient.open(`ws://127.0.0.1:${server.port}/ws/notifications/?frames=switchboard`, { token: await server.token('carol') });
    await c.expectOp('welcome');
    assert.equal((await c.expectOp('subscribed')).channel, 'user:carol');
    await server.sb.publish('user:carol', 'note', { n: 1 });
    assert.deepEqual((await c.expectOp('message')).data, { n: 1 });
    await c.disconnect();
  });

  void test('an alias whose channel is forbidden closes with 4501', async () => {
    const srv = await startServer({ setup: (sb) => sb.addRoute('/ws/locked/:id/', ({ id }) => [`locked:${id}`]) });
    try {
      const c = await WsTestClient.open(`ws://127.0.0.1:${srv.port}/ws/locked/1/`, { token: await srv.token('alice') });
      await c.expectOp('welcome');
      assert.equal((await c.closed()).code, CloseCodes.forbidden);
    } finally {
      await WsTestClient.closeAll();
      await srv.close();
    }
  });

  void test('an unknown path gets HTTP 404', async () => {
    const token = await server.token('alice');
    for (const path of ['/ws/nope/', '/ws/chat/', '/ws/chat/a/b/', '/other']) {
      const refused = await WsTestClient.refused(`ws://127.0.0.1:${server.port}${path}`, { token });
      assert.equal(refused.status, 404, path);
    }
  });
});
