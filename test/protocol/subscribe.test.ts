import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { MessageFrame, PublicationPayload, StreamPosition, SubscribeResult } from '@switchboard/client/protocol';
import { allow } from '../../src/core/channels/namespaces.js';
import { RequestError } from '../../src/core/realtime/reply-error.js';
import { TestClient } from '../../src/core/testing/index.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { connectAs, expectError, expectOk, messagesUpTo, microtasks, unique } from './support.js';

void describe('subscribe', () => {
  let server: TestServer;
  let alice: TestClient;
  before(async () => {
    server = await startServer({
      listen: false,
      setup: (sb) => {
        sb.defineNamespace('feed', { subscribe: allow.authenticated, history: allow.authenticated, historySize: 1000 })
          .defineNamespace('cart', {
            subscribe: allow.authenticated,
            snapshot: async (ctx) => ({ cart: ctx.key, user: ctx.user?.id, items: [{ sku: 'A1', qty: 2 }] }),
          })
          .defineNamespace('brokensnap', {
            subscribe: allow.authenticated,
            snapshot: () => {
              throw new Error('snapshot failed');
            },
          })
          .defineNamespace('undefsnap', { subscribe: allow.authenticated, snapshot: () => undefined })
          .defineNamespace('bigsnap', { subscribe: allow.authenticated, snapshot: () => ({ total: 10n }) })
          .defineNamespace('cyclesnap', {
            subscribe: allow.authenticated,
            snapshot: () => {
              const node: Record<string, unknown> = { name: 'loop' };
              node.self = node;
              return node;
            },
          })
          .defineNamespace('datesnap', { subscribe: allow.authenticated, snapshot: () => ({ at: new Date(0), skip: undefined }) });
      },
    });
    alice = await connectAs(server, 'alice');
  });
  after(async () => {
    alice.disconnect();
    await server.close();
  });

  void test('result on a fresh channel: epoch, offset 0, recovered false, no publications', async () => {
    const channel = unique('nohist:fresh-');
    const result = expectOk<SubscribeResult>(await alice.request({ op: 'subscribe', channel }));
    assert.equal(typeof result.epoch, 'string');
    assert.ok(result.epoch.length > 0);
    assert.equal(result.offset, 0);
    assert.equal(result.recovered, false);
    assert.deepEqual(result.publications, []);
    assert.equal('snapshot' in result, false);
    expectOk(await alice.request({ op: 'unsubscribe', channel }));
  });

  void test('result carries the current position; live messages follow with every field', async () => {
    const channel = unique('feed:live-');
    const p1 = await server.sb.publish(channel, 'created', { id: 1 });
    await server.sb.publish(channel, 'updated', { id: 1, v: 2 });
    const client = await connectAs(server, 'bea');
    const result = expectOk<SubscribeResult>(await client.request({ op: 'subscribe', channel }));
    assert.deepEqual({ epoch: result.epoch, offset: result.offset }, { epoch: p1.epoch, offset: 2 });
    assert.equal(result.recovered, false, 'no since: nothing to recover');
    assert.deepEqual(result.publications, []);
    const before = Date.now();
    const p3 = await server.sb.publish(channel, 'deleted', { id: 1, nested: [1, 'two', null] });
    const message = (await client.receive()) as MessageFrame;
    assert.equal(message.op, 'message');
    assert.equal(message.channel, channel);
    assert.equal(message.event, 'deleted');
    assert.deepEqual(message.data, { id: 1, nested: [1, 'two', null] });
    assert.equal(message.epoch, p3.epoch);
    assert.equal(message.offset, 3);
    assert.ok(Math.abs(Date.parse(message.time) - before) < 5000, message.time);
    assert.match(message.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    client.disconnect();
  });

  void test('since → exactly the missed publications, in order, recovered true', async () => {
    const channel = unique('room:since-');
    const positions: StreamPosition[] = [];
    for (let i = 1; i <= 6; i++) positions.push(await server.sb.publish(channel, `e${i}`, { i }));
    const client = await connectAs(server, 'cy');
    const since = positions[2]!; // offset 3
    const result = expectOk<SubscribeResult>(await client.request({ op: 'subscribe', channel, since }));
    assert.equal(result.recovered, true);
    assert.equal(result.epoch, since.epoch);
    assert.equal(result.offset, 6);
    assert.deepEqual(
      result.publications.map((p: PublicationPayload) => [p.offset, p.event, p.data]),
      [
        [4, 'e4', { i: 4 }],
        [5, 'e5', { i: 5 }],
        [6, 'e6', { i: 6 }],
      ],
    );
    for (const p of result.publications) assert.match(p.time, /Z$/);
    // Live from there on, without the recovered ones again.
    await server.sb.publish(channel, 'e7', { i: 7 });
    const live = await messagesUpTo(client, channel, 7);
    assert.deepEqual(live.map((m) => m.offset), [7]);
    client.disconnect();
  });

  void test('since the current position → recovered true with nothing missed', async () => {
    const channel = unique('room:uptodate-');
    const top = await server.sb.publish(channel, 'e', 1);
    const client = await connectAs(server, 'dee');
    const result = expectOk<SubscribeResult>(await client.request({ op: 'subscribe', channel, since: top }));
    assert.equal(result.recovered, true);
    assert.deepEqual(result.publications, []);
    assert.equal(result.offset, top.offset);
    client.disconnect();
  });

  void test('since beyond history (tiny keeps 3) → recovered false with none; just inside → recovered', async () => {
    const channel = unique('tiny:gap-');
    const positions: StreamPosition[] = [];
    for (let i = 1; i <= 6; i++) positions.push(await server.sb.publish(channel, 'e', i));
    const client = await connectAs(server, 'eve');
    const gap = expectOk<SubscribeResult>(await client.request({ op: 'subscribe', channel, since: positions[1]! }));
    assert.equal(gap.recovered, false);
    assert.deepEqual(gap.publications, []);
    assert.deepEqual({ epoch: gap.epoch, offset: gap.offset }, positions[5]);
    expectOk(await client.request({ op: 'unsubscribe', channel }));
    // Offsets 4..6 are kept: since offset 3 can be rebuilt.
    const edge = expectOk<SubscribeResult>(await client.request({ op: 'subscribe', channel, since: positions[2]! }));
    assert.equal(edge.recovered, true);
    assert.deepEqual(edge.publications.map((p) => p.offset), [4, 5, 6]);
    client.disconnect();
  });

  void test('since with a foreign epoch, or an offset from the future → recovered false', async () => {
    const channel = unique('room:epoch-');
    const top = await server.sb.publish(channel, 'e', 1);
    await server.sb.publish(channel, 'e', 2);
    const client = await connectAs(server, 'fay');
    const foreign = expectOk<SubscribeResult>(await client.request({ op: 'subscribe', channel, since: { epoch: 'another-epoch', offset: 1 } }));
    assert.equal(foreign.recovered, false);
    assert.deepEqual(foreign.publications, []);
    assert.equal(foreign.epoch, top.epoch);
    assert.equal(foreign.offset, 2);
    expectOk(await client.request({ op: 'unsubscribe', channel }));
    const future = expectOk<SubscribeResult>(await client.request({ op: 'subscribe', channel, since: { epoch: top.epoch, offset: 99 } }));
    assert.equal(future.recovered, false);
    assert.deepEqual(future.publications, []);
    client.disconnect();
  });

  void test('already_subscribed', async () => {
    const channel = unique('room:twice-');
    const client = await connectAs(server, 'gus');
    expectOk(await client.request({ op: 'subscribe', channel }));
    const error = expectError(await client.request({ op: 'subscribe', channel }), 'already_subscribed', 'channel');
    assert.equal(error.temporary, false);
    // Two concurrent subscribes to the same channel: exactly one wins.
    const other = unique('room:twice-');
    client.sendJson({ op: 'subscribe', id: 900, channel: other });
    client.sendJson({ op: 'subscribe', id: 901, channel: other });
    const replies = [await client.reply(900), await client.reply(901)];
    assert.deepEqual(replies.map((r) => r.ok).sort(), [false, true]);
    const failed = replies.find((r) => !r.ok);
    assert.ok(failed && !failed.ok && failed.error.code === 'already_subscribed');
    client.disconnect();
  });

  void test('invalid_channel names the channel field', async () => {
    for (const channel of ['Room:x', 'room:', 'room:has space', ':x', `room:${'x'.repeat(201)}`, '', 'room:a:b!']) {
      expectError(await alice.request({ op: 'subscribe', channel }), 'invalid_channel', 'channel');
    }
  });

  void test('unknown_namespace', async () => {
    expectError(await alice.request({ op: 'subscribe', channel: 'nope:x' }), 'unknown_namespace', 'channel');
    expectError(await alice.request({ op: 'subscribe', channel: 'nope' }), 'unknown_namespace', 'channel');
  });

  void test('forbidden: a locked namespace, another user’s channel, a role or tenant not held', async () => {
    const error = expectError(await alice.request({ op: 'subscribe', channel: 'locked:x' }), 'forbidden', 'channel');
    assert.equal(error.temporary, false);
    expectError(await alice.request({ op: 'subscribe', channel: 'user:bob' }), 'forbidden', 'channel');
    expectOk(await alice.request({ op: 'subscribe', channel: 'user:alice' }));
    expectError(await alice.request({ op: 'subscribe', channel: 'admin:dashboard' }), 'forbidden', 'channel');
    expectError(await alice.request({ op: 'subscribe', channel: 'tenant:acme' }), 'forbidden', 'channel');
    const admin = await connectAs(server, 'root', 'admin');
    expectOk(await admin.request({ op: 'subscribe', channel: 'admin:dashboard' }));
    admin.disconnect();
    const member = await TestClient.connect(server.sb, { token: await server.token('hal', 'customer', 600, 'acme') });
    assert.equal((await member.receive()).op, 'welcome');
    expectOk(await member.request({ op: 'subscribe', channel: 'tenant:acme' }));
    expectError(await member.request({ op: 'subscribe', channel: 'tenant:globex' }), 'forbidden', 'channel');
    member.disconnect();
    expectOk(await alice.request({ op: 'unsubscribe', channel: 'user:alice' }));
  });

  void test('too_many_subscriptions with a small limit; unsubscribing frees a slot', async () => {
    const limited = await startServer({ listen: false, limits: { maxSubscriptions: 2 } });
    try {
      const client = await connectAs(limited, 'ida');
      expectOk(await client.request({ op: 'subscribe', channel: 'room:1' }));
      expectOk(await client.request({ op: 'subscribe', channel: 'room:2' }));
      const error = expectError(await client.request({ op: 'subscribe', channel: 'room:3' }), 'too_many_subscriptions');
      assert.equal(error.temporary, false);
      expectOk(await client.request({ op: 'unsubscribe', channel: 'room:1' }));
      expectOk(await client.request({ op: 'subscribe', channel: 'room:3' }));
      // A failed subscribe does not hold a slot.
      expectError(await client.request({ op: 'subscribe', channel: 'locked:x' }), 'forbidden');
      expectError(await client.request({ op: 'subscribe', channel: 'room:4' }), 'too_many_subscriptions');
      client.disconnect();
    } finally {
      await limited.close();
    }
  });

  void test('live messages arrive once and in order while publishes race the subscribes', async () => {
    const channel = unique('feed:race-');
    const early = await server.sb.publish(channel, 'e', { i: -1 });
    const channelsBefore = server.sb.hub.channelCount();
    const TOTAL = 400;
    const plain = await Promise.all(Array.from({ length: 16 }, (_, i) => connectAs(server, `racer${i}`)));
    const recovering = await Promise.all(Array.from({ length: 8 }, (_, i) => connectAs(server, `recoverer${i}`)));

    let last: StreamPosition = early;
    const publisher = (async () => {
      for (let i = 0; i < TOTAL; i++) {
        last = await server.sb.publish(channel, 'e', { i });
        if (i % 5 === 0) await new Promise<void>((resolve) => setImmediate(resolve));
      }
      return last;
    })();
    // Subscribes land at many different points of the publisher's await chain.
    const subscribed = plain.map(async (client, i) => {
      await microtasks(i * 13);
      if (i % 4 === 3) for (let k = 0; k < i; k++) await new Promise<void>((resolve) => setImmediate(resolve));
      return expectOk<SubscribeResult>(await client.request({ op: 'subscribe', channel }, 5000));
    });
    const recovered = recovering.map(async (client, i) => {
      await microtasks(i * 29 + 3);
      return expectOk<SubscribeResult>(await client.request({ op: 'subscribe', channel, since: early }, 5000));
    });
    const final = await publisher;
    const results = await Promise.all(subscribed);
    const recoveredResults = await Promise.all(recovered);
    assert.equal(final.offset, TOTAL + 1);

    for (const [i, client] of plain.entries()) {
      const result = results[i]!;
      assert.equal(result.epoch, final.epoch);
      const offsets = result.offset === final.offset ? [] : (await messagesUpTo(client, channel, final.offset, 5000)).map((m) => m.offset);
      const expected = Array.from({ length: final.offset - result.offset }, (_, k) => result.offset + 1 + k);
      assert.deepEqual(offsets, expected, `subscriber ${i} (subscribed at ${result.offset})`);
      await client.expectSilence(0);
    }
    for (const [i, client] of recovering.entries()) {
      const result = recoveredResults[i]!;
      assert.equal(result.recovered, true);
      const fromHistory = result.publications.map((p) => p.offset);
      const live = result.offset === final.offset ? [] : (await messagesUpTo(client, channel, final.offset, 5000)).map((m) => m.offset);
      const expected = Array.from({ length: final.offset - early.offset }, (_, k) => early.offset + 1 + k);
      assert.deepEqual([...fromHistory, ...live], expected, `recovering subscriber ${i} (position ${result.offset})`);
      assert.equal(fromHistory.length, result.offset - early.offset);
    }
    for (const client of [...plain, ...recovering]) client.disconnect();
    await new Promise<void>((resolve) => setImmediate(resolve));
    assert.equal(server.sb.hub.channelCount(), channelsBefore, 'the channel is released when its last subscriber goes');
  });

  void test('a burst of publishes fired in the same tick as the subscribe: no gap, no duplicate', async () => {
    const channel = unique('feed:burst-');
    await server.sb.publish(channel, 'e', 0);
    for (let round = 0; round < 10; round++) {
      const client = await connectAs(server, `burst${round}`);
      const before = Array.from({ length: round * 3 }, (_, i) => server.sb.publish(channel, 'e', { round, i }));
      const reply = client.request({ op: 'subscribe', channel });
      const during = Array.from({ length: 20 }, (_, i) => server.sb.publish(channel, 'e', { round, i }));
      const positions = await Promise.all([...before, ...during]);
      const top = Math.max(...positions.map((p) => p.offset));
      const result = expectOk<SubscribeResult>(await reply);
      const offsets = result.offset === top ? [] : (await messagesUpTo(client, channel, top)).map((m) => m.offset);
      assert.deepEqual(offsets, Array.from({ length: top - result.offset }, (_, k) => result.offset + 1 + k), `round ${round}`);
      client.disconnect();
    }
  });

  void test('snapshot provider: the subscribe result carries its (awaited) value', async () => {
    const client = await connectAs(server, 'jo');
    const result = expectOk<SubscribeResult>(await client.request({ op: 'subscribe', channel: 'cart:77' }));
    assert.deepEqual(result.snapshot, { cart: '77', user: 'jo', items: [{ sku: 'A1', qty: 2 }] });
    assert.equal(result.offset, 0);
    const none = expectOk<SubscribeResult>(await client.request({ op: 'subscribe', channel: 'undefsnap:1' }));
    assert.equal('snapshot' in none, false);
    client.disconnect();
  });

  void test('a snapshot provider that throws → internal (temporary); nothing is left subscribed', async () => {
    const client = await connectAs(server, 'kai');
    const error = expectError(await client.request({ op: 'subscribe', channel: 'brokensnap:1' }), 'internal');
    assert.equal(error.temporary, true);
    expectError(await client.request({ op: 'unsubscribe', channel: 'brokensnap:1' }), 'not_subscribed');
    expectOk(await client.request({ op: 'ping' }));
    client.disconnect();
  });

  void test('a snapshot JSON cannot hold (BigInt, cycle) → internal reply; nothing is left pending; the server lives', async () => {
    const client = await connectAs(server, 'kai2');
    const channelsBefore = server.sb.hub.channelCount();
    for (const channel of ['bigsnap:1', 'cyclesnap:1']) {
      expectError(await client.request({ op: 'subscribe', channel }), 'internal');
      expectError(await client.request({ op: 'unsubscribe', channel }), 'not_subscribed');
      await server.sb.publish(channel, 'e', 1);
    }
    await client.expectSilence(30);
    await new Promise<void>((resolve) => setImmediate(resolve));
    assert.equal(server.sb.hub.channelCount(), channelsBefore, 'no channel entry is left holding a pending subscription');
    expectOk(await client.request({ op: 'ping' }));
    const dated = expectOk<SubscribeResult>(await client.request({ op: 'subscribe', channel: 'datesnap:1' }));
    assert.deepEqual(dated.snapshot, { at: '1970-01-01T00:00:00.000Z' }, 'serialized as JSON would');
    client.disconnect();
  });

  void test('unsubscribe stops delivery; resubscribe works; not_subscribed otherwise', async () => {
    const channel = unique('nohist:unsub-');
    const client = await connectAs(server, 'liv');
    expectError(await client.request({ op: 'unsubscribe', channel }), 'not_subscribed', 'channel');
    expectOk(await client.request({ op: 'subscribe', channel }));
    await server.sb.publish(channel, 'e', 1);
    assert.equal((await client.receive()).op, 'message');
    const result = expectOk(await client.request({ op: 'unsubscribe', channel }));
    assert.deepEqual(result, {});
    await server.sb.publish(channel, 'e', 2);
    await client.expectSilence(50);
    const error = expectError(await client.request({ op: 'unsubscribe', channel }), 'not_subscribed', 'channel');
    assert.equal(error.temporary, false);
    expectOk(await client.request({ op: 'subscribe', channel }));
    const p3 = await server.sb.publish(channel, 'e', 3);
    const message = await client.receive();
    assert.equal(message.op === 'message' && message.offset, p3.offset);
    client.disconnect();
  });

  void test('a publication reaches every subscriber of the channel and nobody else', async () => {
    const channel = unique('nohist:fan-');
    const subs = await Promise.all([connectAs(server, 'm1'), connectAs(server, 'm2'), connectAs(server, 'm2')]);
    const outsider = await connectAs(server, 'm3');
    for (const c of subs) expectOk(await c.request({ op: 'subscribe', channel }));
    expectOk(await outsider.request({ op: 'subscribe', channel: unique('nohist:other-') }));
    await server.sb.publish(channel, 'hello', { x: 1 });
    for (const c of subs) {
      const m = await c.receive();
      assert.deepEqual(m.op === 'message' ? [m.event, m.data] : m, ['hello', { x: 1 }]);
      await c.expectSilence(0);
    }
    await outsider.expectSilence(30);
    for (const c of [...subs, outsider]) c.disconnect();
  });

  void test('server-side sb.publish: unknown namespace and invalid channel reject; policies do not apply', async () => {
    await assert.rejects(server.sb.publish('nope:x', 'e', 1), (err: unknown) => err instanceof RequestError && err.code === 'unknown_namespace');
    await assert.rejects(server.sb.publish('Not Valid', 'e', 1), (err: unknown) => err instanceof RequestError && err.code === 'invalid_channel');
    await assert.rejects(server.sb.publish('room:x', 'e', undefined), (err: unknown) => err instanceof RequestError && err.code === 'bad_request');
    await assert.rejects(server.sb.publish('room:x', 'e', { n: 1n }), (err: unknown) => err instanceof RequestError && err.code === 'bad_request');
    const locked = await server.sb.publish('locked:x', 'e', 1);
    assert.equal(locked.offset, 1);
  });
});
