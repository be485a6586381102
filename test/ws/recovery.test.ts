import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { MessageFrame, StreamPosition, SubscribeResult } from '@switchboard/client/protocol';
import { allow } from '../../src/core/channels/namespaces.js';
import { collectMessages, waitFor, WsTestClient, wsSuiteServer } from '../helpers/ws-client.js';

const yieldToIo = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

void describe('ws recovery after reconnect', () => {
  // `deep:` keeps enough history that a subscribe sent late in a 200-publication burst still recovers.
  const server = wsSuiteServer({
      setup: (sb) => sb.defineNamespace('deep', { subscribe: allow.authenticated, history: allow.authenticated, historySize: 1000 }),
    });

  async function connect(user = 'alice'): Promise<WsTestClient> {
    const c = await WsTestClient.open(server.wsUrl, { token: await server.token(user) });
    await c.expectOp('welcome');
    return c;
  }

  /** Subscribes, receives `live` messages, remembers the last position, disconnects. */
  async function seeThenLeave(channel: string, live: number): Promise<StreamPosition> {
    const c = await connect();
    const sub = await c.ok<SubscribeResult>({ op: 'subscribe', channel });
    let position: StreamPosition = { epoch: sub.epoch, offset: sub.offset };
    for (let i = 0; i < live; i++) await server.sb.publish(channel, 'before', { i });
    for (const m of await collectMessages(c, channel, live)) position = { epoch: m.epoch, offset: m.offset };
    await c.disconnect();
    return position;
  }

  void test('missed publications come back in the subscribe reply, in order; live messages continue after them', async () => {
    const channel = 'room:recover';
    const k = 25;
    const last = await seeThenLeave(channel, 3);
    assert.equal(last.offset, 3);

    for (let i = 0; i < k; i++) await server.sb.publish(channel, 'missed', { n: i });

    const c = await connect();
    const sub = await c.ok<SubscribeResult>({ op: 'subscribe', channel, since: last });
    assert.equal(sub.recovered, true);
    assert.equal(sub.epoch, last.epoch);
    assert.equal(sub.offset, last.offset + k);
    assert.equal(sub.publications.length, k);
    sub.publications.forEach((p, i) => {
      assert.equal(p.offset, last.offset + 1 + i);
      assert.equal(p.event, 'missed');
      assert.deepEqual(p.data, { n: i });
      assert.ok(!Number.isNaN(Date.parse(p.time)));
    });
    // Nothing missed is delivered twice as a live message.
    await c.expectNoMessages(100, channel);

    await server.sb.publish(channel, 'live', { n: k });
    const [next] = await collectMessages(c, channel, 1);
    assert.ok(next);
    assert.equal(next.offset, last.offset + k + 1);
    assert.equal(next.epoch, last.epoch);
    assert.equal(next.event, 'live');
    await c.disconnect();
  });

  void test('since at the current position: recovered with no publications', async () => {
    const channel = 'room:uptodate';
    const last = await seeThenLeave(channel, 2);
    const c = await connect();
    const sub = await c.ok<SubscribeResult>({ op: 'subscribe', channel, since: last });
    assert.equal(sub.recovered, true);
    assert.deepEqual(sub.publications, []);
    assert.equal(sub.offset, last.offset);
    await c.disconnect();
  });

  void test('a gap beyond history (tiny: keeps 3): recovered false, no publications, live continues', async () => {
    const channel = 'tiny:gap';
    const last = await seeThenLeave(channel, 1);
    for (let i = 0; i < 10; i++) await server.sb.publish(channel, 'missed', { i });

    const c = await connect();
    const sub = await c.ok<SubscribeResult>({ op: 'subscribe', channel, since: last });
    assert.equal(sub.recovered, false);
    assert.deepEqual(sub.publications, []);
    assert.equal(sub.epoch, last.epoch);
    assert.equal(sub.offset, last.offset + 10);
    await c.expectNoMessages(100, channel);

    await server.sb.publish(channel, 'live', {});
    const [next] = await collectMessages(c, channel, 1);
    assert.equal(next?.offset, last.offset + 11);
    await c.disconnect();
  });

  void test('since from another epoch: recovered false', async () => {
    const channel = 'room:epoch';
    const last = await seeThenLeave(channel, 1);
    const c = await connect();
    const sub = await c.ok<SubscribeResult>({ op: 'subscribe', channel, since: { epoch: 'not-the-epoch', offset: last.offset } });
    assert.equal(sub.recovered, false);
    assert.deepEqual(sub.publications, []);
    assert.equal(sub.epoch, last.epoch);
    await c.disconnect();
  });

  /** White-box: publications the hub holds back for a subscription still being set up. */
  function heldBack(channel: string): number {
    let n = 0;
    for (const session of server.sb.gateway.sessions) n += session.subs.get(channel)?.buffer?.length ?? 0;
    return n;
  }

  /**
   * Publishes `total` from the server concurrently with a subscribe (with `since`, if given) that
   * the client sends over its socket; returns every offset the client saw, reply first.
   *
   * - `io`: the server publishes one at a time, yielding to I/O in between, and the client sends
   *   the subscribe after `sendAfter` of them (real timing; with the in-memory layer a subscribe
   *   then usually completes between two publications).
   * - `interleaved`: the burst starts when the subscribe frame reaches the server, which handles it
   *   after `sendAfter` publications while the rest keep coming between its steps (the timing of a
   *   layer with real I/O, where publications arrive while history is read).
   */
  async function race(
    mode: 'io' | 'interleaved',
    channel: string,
    since: StreamPosition | undefined,
    total: number,
    sendAfter: number,
  ): Promise<{ reply: SubscribeResult; offsets: number[]; top: number; held: number }> {
    const c = await connect();
    const id = c.nextId();
    const request = { op: 'subscribe', id, channel, ...(since ? { since } : {}) };
    let top = 0;
    let held = 0;
    const publishOne = async (i: number): Promise<void> => {
      top = (await server.sb.publish(channel, 'race', { i })).offset;
      held = Math.max(held, heldBack(channel));
    };

    if (mode === 'io') {
      for (let i = 1; i <= total; i++) {
        if (i === sendAfter + 1) c.send(request);
        await publishOne(i);
        await yieldToIo();
      }
      if (sendAfter >= total) c.send(request);
    } else {
      const { gateway } = server.sb;
      const onText = gateway.onText;
      let burst: Promise<void> | null = null;
      gateway.onText = (session, text) => {
        if (burst !== null || !text.includes('"op":"subscribe"')) return onText.call(gateway, session, text);
        burst = (async () => {
          for (let i = 1; i <= total; i++) {
            if (i === sendAfter + 1) onText.call(gateway, session, text);
            await publishOne(i);
          }
          if (sendAfter >= total) onText.call(gateway, session, text);
        })();
      };
      try {
        c.send(request);
        await waitFor(() => burst !== null, 2000, 'the subscribe to reach the server');
        await burst;
      } finally {
        gateway.onText = onText;
      }
    }

    const reply = await c.reply(id, 5000);
    assert.ok(reply.ok, JSON.stringify(reply));
    const result = reply.result as SubscribeResult;
    const offsets = result.publications.map((p) => p.offset);
    const live: MessageFrame[] = await collectMessages(c, channel, top - result.offset, 5000);
    offsets.push(...live.map((m) => m.offset));
    await c.expectNoMessages(50, channel);
    await c.disconnect();
    return { reply: result, offsets, top, held };
  }

  for (const mode of ['io', 'interleaved'] as const) {
    void test(`publications racing a subscribe with since (${mode}): every offset exactly once, consecutive, no gap`, async () => {
      const runs = [
        { ns: 'room', sendAfter: 0 },
        { ns: 'room', sendAfter: 20 },
        { ns: 'deep', sendAfter: 1 },
        { ns: 'deep', sendAfter: 5 },
        { ns: 'deep', sendAfter: 100 },
        { ns: 'deep', sendAfter: 199 },
      ];
      let heldTotal = 0;
      for (const { ns, sendAfter } of runs) {
        const channel = `${ns}:race-${mode}-${sendAfter}`;
        const last = await seeThenLeave(channel, 2);
        for (let i = 0; i < 5; i++) await server.sb.publish(channel, 'missed', { i });
        const { reply, offsets, top, held } = await race(mode, channel, last, 200, sendAfter);
        heldTotal += held;
        assert.equal(reply.recovered, true, `subscribe after ${sendAfter} publications`);
        assert.equal(top, last.offset + 5 + 200);
        const expected = Array.from({ length: top - last.offset }, (_v, i) => last.offset + 1 + i);
        assert.deepEqual(offsets, expected, `subscribe after ${sendAfter} publications (${held} held back)`);
      }
      // The interleaved runs must really have delivered publications during a subscribe.
      if (mode === 'interleaved') assert.ok(heldTotal > 0, 'no publication arrived during a subscribe; the race was not exercised');
    });

    void test(`publications racing a first subscribe, no since (${mode}): live messages start right after the reply position`, async () => {
      let heldTotal = 0;
      for (const sendAfter of [0, 3, 50]) {
        const channel = `room:fresh-race-${mode}-${sendAfter}`;
        const { reply, offsets, top, held } = await race(mode, channel, undefined, 100, sendAfter);
        heldTotal += held;
        assert.equal(reply.recovered, false);
        assert.deepEqual(reply.publications, []);
        const expected = Array.from({ length: top - reply.offset }, (_v, i) => reply.offset + 1 + i);
        assert.deepEqual(offsets, expected, `subscribe after ${sendAfter} publications`);
      }
      if (mode === 'interleaved') assert.ok(heldTotal > 0, 'no publication arrived during a subscribe; the race was not exercised');
    });
  }
});
