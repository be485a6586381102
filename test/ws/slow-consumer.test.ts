import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CloseCodes, type MessageFrame } from '@switchboard/client/protocol';
import { collectMessages, waitFor, WsTestClient, wsSuiteServer } from '../helpers/ws-client.js';

/** Loopback kernel buffers hold a few MB; with ~32 KiB publications the bound is usually passed
 * after ~130. Publish until it is (at most MAX), then AFTER more to show the others are unaffected. */
const MAX_BEFORE_CLOSE = 1500;
const AFTER_CLOSE = 50;
const PAYLOAD = 'p'.repeat(32 * 1024);
const yieldToIo = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

void describe('ws slow consumer', () => {
  const server = wsSuiteServer({ limits: { maxBufferedBytes: 64 * 1024 } });

  void test('a client that stops reading is closed with 4002; other subscribers get everything', async () => {
    const channel = 'room:firehose';
    const open = async (user: string): Promise<WsTestClient> => {
      const c = await WsTestClient.open(server.wsUrl, { token: await server.token(user) });
      await c.expectOp('welcome');
      await c.ok({ op: 'subscribe', channel });
      return c;
    };
    const slow = await open('slow');
    const fast = [await open('fast-1'), await open('fast-2')];
    const slowSession = [...server.sb.gateway.sessions].find((s) => s.user?.id === 'slow');
    assert.ok(slowSession);

    slow.pause();
    let published = 0;
    let closedAfter = -1;
    const publish = async (): Promise<void> => {
      published += 1;
      await server.sb.publish(channel, 'chunk', { i: published, pad: PAYLOAD });
      // Let the readers read, as a live server would between publications.
      await yieldToIo();
    };
    while (!slowSession.closed && published < MAX_BEFORE_CLOSE) await publish();
    assert.ok(slowSession.closed, `the slow consumer was not closed after ${published} publications of 32 KiB`);
    closedAfter = published;
    for (let k = 0; k < AFTER_CLOSE; k++) await publish();

    // Everyone else got every publication, in order.
    for (const c of fast) {
      const frames = await collectMessages(c, channel, published, 30_000);
      frames.forEach((f, k) => {
        assert.equal(f.offset, k + 1);
        assert.equal((f.data as { i: number }).i, k + 1);
      });
      assert.equal(c.pending.filter((r) => r.frame.op === 'message').length, 0, 'no extra messages');
      assert.equal(c.isClosed, false);
      await c.assertAlive();
    }

    // Reading again, the slow client gets what was already in flight, then the close frame.
    slow.resume();
    const closed = await slow.closed(5000);
    assert.equal(closed.code, CloseCodes.slowConsumer);
    const got = slow.pending.map((r) => r.frame).filter((f): f is MessageFrame => f.op === 'message');
    assert.ok(got.length > 0);
    got.forEach((f, k) => assert.equal(f.offset, k + 1, 'what it got is an unbroken prefix'));
    assert.ok(got.length <= closedAfter, `nothing was written to it after the close (got ${got.length}, closed after ${closedAfter})`);

    await waitFor(() => !server.sb.gateway.sessions.has(slowSession), 5000, 'the server to drop the slow session');
    await Promise.all(fast.map((c) => c.disconnect()));
  });
});
