import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { HistoryResult, PublicationPayload, SubscribeResult } from '@switchboard/client/protocol';
import { startServer, type TestServer } from '../helpers/server.js';
import { connectAs, expectError, expectOk, unique } from '../protocol/support.js';
import { delay, WsTestClient, withToken } from '../helpers/ws-client.js';

const KIB = 1024;
const MIB = 1024 * KIB;

/** Fills `channel` with `count` publications of about `bytes` each. */
async function fill(server: TestServer, channel: string, count: number, bytes: number): Promise<void> {
  const data = 'x'.repeat(bytes);
  for (let i = 0; i < count; i++) await server.sb.publish(channel, 'big', { i, data });
}

/**
 * Defect 1 of the hardening issue: replies were not counted against the per-connection send limit.
 * A client that never read asked for history 50 times in one write and the node built 50 replies
 * of 6 MB each for it (228 MiB to 1,098 MiB of RSS, per connection).
 */
void describe('the output budget: replies count against the send bound', () => {
  let server: TestServer;
  const maxBufferedBytes = 1 * MIB;
  const maxReplyBytes = 256 * KIB;
  before(async () => {
    server = await startServer({ limits: { maxBufferedBytes, maxReplyBytes, messagesPerSecond: 1000, messageBurst: 1000 } });
  });
  after(async () => {
    await WsTestClient.closeAll();
    await server.close();
  });

  void test('50 history requests in one write from a client that never reads: the backlog stays near the bound', async () => {
    const channel = unique('room:amp-');
    await fill(server, channel, 100, 60 * KIB);
    const client = await WsTestClient.open(withToken(server.wsUrl, await server.token('attacker')));
    await client.nextMatching((f) => f.op === 'welcome');
    // Stop reading: the kernel buffers fill, then everything the server writes stays in its memory.
    client.pause();
    // All 50 in one write, as the attack did: nothing is answered before the last one is read.
    const socket = (client.ws as unknown as { _socket: { cork(): void; uncork(): void } })._socket;
    socket.cork();
    for (let id = 1; id <= 50; id++) client.send({ op: 'history', id, channel, limit: 1000 });
    socket.uncork();
    let peak = 0;
    for (let i = 0; i < 100; i++) {
      for (const s of server.sb.gateway.sessions) peak = Math.max(peak, s.transport.bufferedAmount + s.reservedBytes);
      await delay(20);
    }
    // Before: about 50 x 6 MB. Now: the bound, plus at most one reply's worth decided before it
    // was reached, plus the frames' JSON framing around the data.
    assert.ok(peak <= maxBufferedBytes + maxReplyBytes + 64 * KIB, `peak unsent+reserved ${peak} bytes`);
    assert.ok(server.sb.gateway.budget.unsent <= maxBufferedBytes + maxReplyBytes + 64 * KIB, `node unsent ${server.sb.gateway.budget.unsent}`);
  });

  void test('a history page stops at the reply bound and says more remains; paging with since gets the rest once', async () => {
    const channel = unique('room:page-');
    await fill(server, channel, 20, 50 * KIB);
    const client = await connectAs(server, 'pager');
    const first = expectOk<HistoryResult>(await client.request({ op: 'history', channel, since: { epoch: (await server.sb.history(channel, { limit: 0 })).position.epoch, offset: 0 }, limit: 1000 }));
    assert.ok(first.publications.length >= 1 && first.publications.length < 20, `a page of ${first.publications.length}`);
    assert.equal(first.more, true);
    const seen: PublicationPayload[] = [...first.publications];
    let more: boolean = first.more;
    for (let pages = 0; more && pages < 30; pages++) {
      const page = expectOk<HistoryResult>(await client.request({ op: 'history', channel, since: { epoch: first.epoch, offset: seen.at(-1)!.offset }, limit: 1000 }));
      seen.push(...page.publications);
      more = page.more;
    }
    assert.deepEqual(seen.map((p) => p.offset), Array.from({ length: 20 }, (_, i) => i + 1));
    const whole = JSON.stringify(first.publications).length;
    assert.ok(whole <= maxReplyBytes + 64 * KIB, `first page ${whole} bytes`);
    client.disconnect();
  });

  void test('recovery larger than one reply is not recovered (the client refetches); a busy connection is told to retry', async () => {
    const channel = unique('room:rec-');
    const client = await connectAs(server, 'recoverer');
    const sub = expectOk<SubscribeResult>(await client.request({ op: 'subscribe', channel }));
    expectOk(await client.request({ op: 'unsubscribe', channel }));
    await fill(server, channel, 10, 60 * KIB);
    const again = expectOk<SubscribeResult>(await client.request({ op: 'subscribe', channel, since: { epoch: sub.epoch, offset: 0 } }));
    assert.equal(again.recovered, false, '600 KB of gap is over the 256 KiB reply bound');
    assert.deepEqual(again.publications, []);
    assert.equal(again.offset, 10);
    expectOk(await client.request({ op: 'unsubscribe', channel }));
    // Within the bound, recovery works as before...
    const small = expectOk<SubscribeResult>(await client.request({ op: 'subscribe', channel, since: { epoch: sub.epoch, offset: 8 } }));
    assert.equal(small.recovered, true);
    assert.deepEqual(small.publications.map((p) => p.offset), [9, 10]);
    expectOk(await client.request({ op: 'unsubscribe', channel }));
    // ...unless the connection already holds unsent data: then later (temporary).
    client.bufferedAmount = maxBufferedBytes - 10 * KIB;
    const busy = expectError(await client.request({ op: 'subscribe', channel, since: { epoch: sub.epoch, offset: 8 } }), 'backpressure');
    assert.equal(busy.temporary, true);
    client.bufferedAmount = 0;
    const retried = expectOk<SubscribeResult>(await client.request({ op: 'subscribe', channel, since: { epoch: sub.epoch, offset: 8 } }));
    assert.equal(retried.recovered, true);
    client.disconnect();
  });

  void test('requests past the in-flight cap wait their turn; every one is answered, in a bounded number at once', async () => {
    let running = 0;
    let most = 0;
    const slow = await startServer({
      listen: false,
      limits: { maxRequestsInFlight: 4, messagesPerSecond: 1000, messageBurst: 1000 },
      setup: (sb) =>
        sb.defineNamespace('slow', {
          history: async () => {
            running++;
            most = Math.max(most, running);
            await delay(10);
            running--;
            return true;
          },
        }),
    });
    try {
      const client = await connectAs(slow, 'busy');
      for (let id = 1; id <= 40; id++) client.sendJson({ op: 'history', id, channel: 'slow:x', limit: 1 });
      for (let id = 1; id <= 40; id++) expectOk(await client.reply(id, 5000));
      assert.equal(most, 4, 'never more than maxRequestsInFlight handled at once');
      client.disconnect();
    } finally {
      await slow.close();
    }
  });
});

void describe('the node-wide send budget', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ limits: { maxBufferedBytes: 4 * MIB, maxNodeBufferedBytes: 1 * MIB, maxReplyBytes: 256 * KIB } });
  });
  after(async () => {
    await WsTestClient.closeAll();
    await server.close();
  });

  void test('many modest backlogs cannot add up past the node total: the readers holding them are let go (4002)', async () => {
    const channel = unique('room:node-');
    const readers: WsTestClient[] = [];
    for (let i = 0; i < 6; i++) {
      const c = await WsTestClient.open(withToken(server.wsUrl, await server.token(`stalled-${i}`)));
      await c.nextMatching((f) => f.op === 'welcome');
      c.send({ op: 'subscribe', id: 1, channel });
      await c.nextMatching((f) => f.op === 'reply');
      c.pause();
      readers.push(c);
    }
    // Each reader's own backlog stays under its 4 MiB bound; together they pass the node's 1 MiB.
    const sessions = [...server.sb.gateway.sessions].filter((s) => s.user?.id.startsWith('stalled-'));
    assert.equal(sessions.length, 6);
    const data = 'y'.repeat(30 * KIB);
    for (let i = 0; i < 400 && sessions.some((s) => !s.closed); i++) {
      await server.sb.publish(channel, 'e', { i, data });
      if (i % 20 === 0) await delay(5);
    }
    assert.ok(sessions.every((s) => s.closed), 'every stalled reader was let go');
    // Read again, so each client gets through its backlog to the close frame and its code.
    for (const r of readers) r.resume();
    const closes = await Promise.all(readers.map((r) => r.closed(5000)));
    for (const c of closes) assert.equal(c.code, 4002);
    assert.ok(closes.some((c) => /total/.test(c.reason)), `shed for the node's sake: ${JSON.stringify(closes)}`);
    const metrics = await server.sb.metrics.registry.getSingleMetricAsString('switchboard_unsent_bytes');
    assert.match(metrics, /switchboard_unsent_bytes \d+/);
  });
});

/** A connection that goes away while its reply is promised: the promise goes with it, once. */
void describe('the output budget when a connection closes mid-request', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ listen: false });
  });
  after(async () => server.close());

  for (const op of ['history', 'subscribe'] as const) {
    void test(`${op}: the reservation is released when the client goes while the layer reads, and never below 0`, async () => {
      const channel = unique('room:gone-');
      await fill(server, channel, 3, KIB);
      const { layer } = server.sb.hub;
      const read = layer.history.bind(layer);
      let proceed: () => void = () => undefined;
      const gate = new Promise<void>((resolve) => (proceed = resolve));
      let reading: () => void = () => undefined;
      const started = new Promise<void>((resolve) => (reading = resolve));
      layer.history = async (...args) => {
        reading();
        await gate;
        return read(...args);
      };
      try {
        const client = await connectAs(server, `gone-${op}`);
        client.sendJson(op === 'history' ? { op, id: 1, channel } : { op, id: 1, channel, since: { epoch: 'old', offset: 0 } });
        await started;
        assert.ok(server.sb.gateway.budget.reserved > 0, 'the reply was promised before the read');
        client.disconnect();
        assert.equal(server.sb.gateway.budget.reserved, 0, 'released with the connection');
        proceed();
        await delay(20);
        assert.equal(server.sb.gateway.budget.reserved, 0, 'not released again (below 0) when the read ends');
        assert.equal(server.sb.gateway.budget.unsent, 0);
      } finally {
        layer.history = read;
        proceed();
      }
    });
  }
});
