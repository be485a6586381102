import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CloseCodes, type ReplyFrame } from '@switchboard/client/protocol';
import { type TestServer } from '../helpers/server.js';
import { waitFor, WsTestClient, wsSuiteServer } from '../helpers/ws-client.js';

function expectError(reply: ReplyFrame, code: string): void {
  assert.equal(reply.ok, false, `expected error ${code}, got ${JSON.stringify(reply)}`);
  if (!reply.ok) assert.equal(reply.error.code, code);
}

async function connected(server: TestServer, user: string): Promise<WsTestClient> {
  const c = await WsTestClient.open(server.wsUrl, { token: await server.token(user) });
  await c.expectOp('welcome');
  return c;
}

void describe('ws limits (defaults: 64 KiB frames)', () => {
  const server = wsSuiteServer({ limits: { maxSubscriptions: 3, maxConnectionsPerUser: 2 } });

  void test('a frame over maxFrameBytes closes with 1009', async () => {
    assert.equal(server.sb.config.limits.maxFrameBytes, 64 * 1024);
    const c = await connected(server, 'big');
    const padding = 'x'.repeat(64 * 1024);
    c.sendText(JSON.stringify({ op: 'publish', id: 1, channel: 'room:big', event: 'e', data: padding }));
    const closed = await c.closed();
    assert.equal(closed.code, CloseCodes.messageTooBig);
  });

  void test('a frame just under maxFrameBytes is accepted', async () => {
    const c = await connected(server, 'almost');
    const frame = { op: 'publish', id: 1, channel: 'room:big', event: 'e', data: '' };
    frame.data = 'x'.repeat(64 * 1024 - Buffer.byteLength(JSON.stringify(frame)));
    const text = JSON.stringify(frame);
    assert.equal(Buffer.byteLength(text), 64 * 1024);
    c.sendText(text);
    assert.equal((await c.reply(1)).ok, true);
    await c.disconnect();
  });

  void test('malformed frames get error frames and the connection lives on', async () => {
    const c = await connected(server, 'sloppy');
    c.sendText('not json at all');
    const notJson = await c.expectOp('error');
    assert.equal(notJson.error.code, 'bad_frame');
    c.sendText('[1,2,3]');
    assert.equal((await c.expectOp('error')).error.code, 'bad_frame');
    c.sendText('{"op":"subscribe","channel":"room:a"}');
    assert.equal((await c.expectOp('error')).error.code, 'bad_request');
    // With a usable id the error is a reply to it.
    c.sendText('{"op":"subscribe","id":9,"channel":42}');
    const badField = await c.reply(9);
    expectError(badField, 'bad_request');
    if (!badField.ok) assert.equal(badField.error.field, 'channel');
    c.sendText('{"op":"teleport","id":10}');
    expectError(await c.reply(10), 'unknown_op');
    await c.assertAlive();
    await c.disconnect();
  });

  void test('a binary frame closes with 4503', async () => {
    const c = await connected(server, 'binary');
    c.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    assert.equal((await c.closed()).code, CloseCodes.protocolError);
  });

  void test('max subscriptions: one more is refused, the connection lives on', async () => {
    const c = await connected(server, 'collector');
    for (const ch of ['room:s1', 'room:s2', 'room:s3']) await c.ok({ op: 'subscribe', channel: ch });
    const refused = await c.request({ op: 'subscribe', channel: 'room:s4' });
    expectError(refused, 'too_many_subscriptions');
    await c.assertAlive();
    // Freeing a slot lets the next one in.
    await c.ok({ op: 'unsubscribe', channel: 'room:s1' });
    await c.ok({ op: 'subscribe', channel: 'room:s4' });
    await c.disconnect();
  });

  void test('max connections per user: the next one closes with 4502; closing one frees a slot', async () => {
    const a = await connected(server, 'popular');
    const b = await connected(server, 'popular');
    const third = await WsTestClient.open(server.wsUrl, { token: await server.token('popular') });
    assert.equal((await third.closed()).code, CloseCodes.tooManyConnections);
    assert.equal(third.pending.length, 0, 'no welcome for the refused connection');

    // The same through the connect frame.
    const viaFrame = await WsTestClient.open(server.wsUrl);
    viaFrame.send({ op: 'connect', id: 1, token: await server.token('popular') });
    assert.equal((await viaFrame.closed()).code, CloseCodes.tooManyConnections);

    // Another user is not affected.
    const other = await connected(server, 'someone-else');
    await a.assertAlive();
    await b.assertAlive();

    await a.disconnect();
    const sessionsOf = (user: string) => [...server.sb.gateway.sessions].filter((s) => s.user?.id === user).length;
    await waitFor(() => sessionsOf('popular') === 1, 2000, 'the server to forget the closed connection');
    const again = await connected(server, 'popular');
    await again.assertAlive();
    await Promise.all([b.disconnect(), again.disconnect(), other.disconnect()]);
  });
});

void describe('ws rate limit', () => {
  const server = wsSuiteServer({ limits: { messagesPerSecond: 2, messageBurst: 5 } });

  void test('a flood gets rate_limited replies, then close 4003', async () => {
    const c = await connected(server, 'flooder');
    for (let id = 1; id <= 30; id++) c.send({ op: 'ping', id });
    const closed = await c.closed();
    assert.equal(closed.code, CloseCodes.rateLimited);
    const replies = c.pending.map((r) => r.frame).filter((f): f is ReplyFrame => f.op === 'reply');
    const ok = replies.filter((r) => r.ok).map((r) => r.id);
    const limited = replies.filter((r) => !r.ok && r.error.code === 'rate_limited');
    // The burst (ids 1-5) is accepted; its replies may be cut off by the close when all frames
    // arrive in one TCP read (the handlers answer asynchronously, the limit check is synchronous).
    assert.ok(ok.every((id) => id <= 5), `only the burst is served: ${ok.join(',')}`);
    assert.ok(limited.length >= 1, 'rate_limited replies before the close');
    assert.deepEqual(
      limited.map((r) => r.id),
      limited.map((_r, i) => 6 + i),
      'rate_limited replies start right after the burst, in order',
    );
    for (const r of limited) if (!r.ok) assert.equal(r.error.temporary, true);
    assert.ok(limited.length <= 6, `${limited.length} rate_limited replies; the close should come once the debt reaches the burst`);
    assert.equal(ok.length + limited.length, replies.length);
  });

  void test('a client that backs off after rate_limited recovers and is not closed', async () => {
    const c = await connected(server, 'polite');
    for (let id = 1; id <= 7; id++) c.send({ op: 'ping', id });
    const replies: ReplyFrame[] = [];
    for (let id = 1; id <= 7; id++) replies.push(await c.reply(id));
    assert.equal(replies.filter((r) => r.ok).length, 5);
    assert.equal(replies.filter((r) => !r.ok && r.error.code === 'rate_limited').length, 2);
    // Refill is 2/s; the debt is 2 tokens, so after ~1.5 s one request is allowed again.
    await new Promise((resolve) => setTimeout(resolve, 1600));
    await c.assertAlive();
    assert.equal(c.isClosed, false);
    await c.disconnect();
  });

  void test('unsolicited pongs count like any frame: a pong flood is closed 4003', async () => {
    const c = await connected(server, 'ponger');
    for (let i = 0; i < 50; i++) c.sendText('{"op":"pong"}');
    assert.equal((await c.closed()).code, CloseCodes.rateLimited);
  });
});
