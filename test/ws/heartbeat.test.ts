import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CloseCodes } from '@switchboard/client/protocol';
import { delay, WsTestClient, wsSuiteServer } from '../helpers/ws-client.js';

const HEARTBEAT_MS = 200;

void describe('ws heartbeat', () => {
  const server = wsSuiteServer({ limits: { heartbeatMs: HEARTBEAT_MS } });

  void test('the welcome announces the heartbeat; a client that never answers pings is closed with 4001', async () => {
    const started = Date.now();
    const c = await WsTestClient.open(server.wsUrl, { token: await server.token('silent'), autoPong: false });
    assert.equal((await c.expectOp('welcome')).heartbeat, HEARTBEAT_MS);
    const ping = await c.next(HEARTBEAT_MS * 3);
    assert.deepEqual(ping, { op: 'ping' });
    const closed = await c.closed(HEARTBEAT_MS * 10);
    assert.equal(closed.code, CloseCodes.heartbeatTimeout);
    assert.ok(Date.now() - started >= 2 * HEARTBEAT_MS, 'closed before the heartbeat timeout');
  });

  void test('a client that answers pings with pongs stays open over 1.5 s', async () => {
    const c = await WsTestClient.open(server.wsUrl, { token: await server.token('lively') });
    await c.expectOp('welcome');
    await delay(1500);
    assert.equal(c.isClosed, false);
    assert.ok(c.pingsAnswered >= 4, `only ${c.pingsAnswered} heartbeat pings in 1.5 s`);
    await c.assertAlive();
    await c.disconnect();
  });

  void test('any frame from the client counts as a sign of life', async () => {
    const c = await WsTestClient.open(server.wsUrl, { token: await server.token('chatty'), autoPong: false });
    await c.expectOp('welcome');
    const until = Date.now() + 1200;
    while (Date.now() < until) {
      await c.assertAlive();
      await delay(HEARTBEAT_MS / 2);
    }
    assert.equal(c.isClosed, false);
    await c.disconnect();
  });

  void test('an unauthenticated connection gets no heartbeat pings', async () => {
    const c = await WsTestClient.open(server.wsUrl, { autoPong: false });
    await c.expectSilence(HEARTBEAT_MS * 2);
    c.send({ op: 'connect', id: 1, token: await server.token('late') });
    await c.expectOp('welcome');
    await c.disconnect();
  });
});
