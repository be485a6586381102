import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ChannelLayer, PresenceEvent, Publication, PublishOptions } from '../../src/core/layer/channel-layer.js';

export interface LayerFactory {
  /** A fresh layer, not yet started. */
  create(): Promise<ChannelLayer>;
  /** Makes the layer lose its streams (memory: a new instance; Redis: a flush), returning the layer to use next. */
  lose?(layer: ChannelLayer): Promise<ChannelLayer>;
  /** Milliseconds to wait for an age limit to expire; the suite publishes with ttl = this / 2. */
  ageWaitMs?: number;
}

const keep: PublishOptions = { historySize: 100, historyTtlMs: 60_000 };
let unique = 0;
const channelName = (what: string) => `conf:${what}-${process.pid}-${Date.now()}-${unique++}`;

/** The channel-layer contract, run against every implementation (see ChannelLayer's doc comment).
 * `skip`: a reason to skip the whole suite (e.g. the backend's server is not reachable). */
export function channelLayerConformance(name: string, factory: LayerFactory, skip: string | false = false): void {
  describe(`ChannelLayer conformance: ${name}`, { skip }, () => {
    let layer: ChannelLayer;
    const received: Publication[] = [];
    const presence: PresenceEvent[] = [];
    /** Called at the moment of each delivery, before the suite records it. */
    let onDelivery: ((p: Publication) => void) | null = null;

    before(async () => {
      layer = await factory.create();
      await layer.start({
        publication: (p) => {
          onDelivery?.(p);
          received.push(p);
        },
        presence: (e) => presence.push(e),
      });
    });
    after(async () => layer.close());

    const waitFor = async (check: () => boolean, what: string) => {
      for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
      assert.ok(check(), `timed out waiting for ${what}`);
    };

    test('offsets start at 1 and rise by exactly 1 per channel, with one epoch', async () => {
      const a = channelName('a');
      const b = channelName('b');
      const positions = [];
      for (let i = 0; i < 5; i++) positions.push(await layer.publish(a, 'e', JSON.stringify(i), keep));
      const pb = await layer.publish(b, 'e', '0', keep);
      assert.deepEqual(positions.map((p) => p.offset), [1, 2, 3, 4, 5]);
      assert.equal(new Set(positions.map((p) => p.epoch)).size, 1);
      assert.equal(pb.offset, 1, 'another channel has its own offsets');
    });

    test('concurrent publishes get distinct consecutive offsets', async () => {
      const ch = channelName('concurrent');
      const positions = await Promise.all(Array.from({ length: 50 }, (_, i) => layer.publish(ch, 'e', String(i), keep)));
      assert.deepEqual(positions.map((p) => p.offset).sort((x, y) => x - y), Array.from({ length: 50 }, (_, i) => i + 1));
    });

    test('history returns publications after a position, oldest first, with the current position', async () => {
      const ch = channelName('hist');
      const first = await layer.publish(ch, 'e', '1', keep);
      await layer.publish(ch, 'e', '2', keep);
      const last = await layer.publish(ch, 'f', '{"x":3}', keep);
      const page = await layer.history(ch, { since: first });
      assert.equal(page.complete, true);
      assert.deepEqual(page.position, last);
      assert.deepEqual(page.publications.map((p) => [p.offset, p.event, p.json]), [[2, 'e', '2'], [3, 'f', '{"x":3}']]);
      assert.ok(page.publications.every((p) => p.channel === ch && p.epoch === last.epoch && typeof p.time === 'number'));
    });

    test('history since the current position is complete and empty', async () => {
      const ch = channelName('top');
      const pos = await layer.publish(ch, 'e', '1', keep);
      const page = await layer.history(ch, { since: pos });
      assert.equal(page.complete, true);
      assert.deepEqual(page.publications, []);
    });

    test('history of an unused channel has offset 0 and a stable epoch for later publishes', async () => {
      const ch = channelName('fresh');
      const empty = await layer.history(ch, { limit: 0 });
      assert.equal(empty.position.offset, 0);
      const pos = await layer.publish(ch, 'e', '1', keep);
      assert.equal(pos.epoch, empty.position.epoch);
      const page = await layer.history(ch, { since: empty.position });
      assert.equal(page.complete, true);
      assert.equal(page.publications.length, 1);
    });

    test('limit without since returns the newest publications, oldest first; with since, the first after it', async () => {
      const ch = channelName('limit');
      for (let i = 1; i <= 10; i++) await layer.publish(ch, 'e', String(i), keep);
      assert.deepEqual((await layer.history(ch, { limit: 3 })).publications.map((p) => p.offset), [8, 9, 10]);
      const epoch = (await layer.history(ch, { limit: 0 })).position.epoch;
      assert.deepEqual((await layer.history(ch, { since: { epoch, offset: 2 }, limit: 3 })).publications.map((p) => p.offset), [3, 4, 5]);
      assert.deepEqual((await layer.history(ch, { limit: 0 })).publications, []);
    });

    test('maxChars cuts a page by size, newest kept without since, always at least one publication', async () => {
      const ch = channelName('chars');
      // Each publication counts 1 (event) + 10 (data) characters.
      for (let i = 1; i <= 10; i++) await layer.publish(ch, 'e', JSON.stringify('x'.repeat(8)), keep);
      const epoch = (await layer.history(ch, { limit: 0 })).position.epoch;
      assert.deepEqual((await layer.history(ch, { since: { epoch, offset: 0 }, maxChars: 35 })).publications.map((p) => p.offset), [1, 2, 3]);
      assert.deepEqual((await layer.history(ch, { since: { epoch, offset: 4 }, limit: 2, maxChars: 1000 })).publications.map((p) => p.offset), [5, 6]);
      assert.deepEqual((await layer.history(ch, { maxChars: 25 })).publications.map((p) => p.offset), [9, 10]);
      assert.deepEqual((await layer.history(ch, { since: { epoch, offset: 7 }, maxChars: 1 })).publications.map((p) => p.offset), [8]);
      assert.deepEqual((await layer.history(ch, { maxChars: 1 })).publications.map((p) => p.offset), [10]);
    });

    test('history is bounded by size: a position before the retained window is not complete', async () => {
      const ch = channelName('size');
      const small: PublishOptions = { historySize: 3, historyTtlMs: 60_000 };
      const first = await layer.publish(ch, 'e', '1', small);
      for (let i = 2; i <= 6; i++) await layer.publish(ch, 'e', String(i), small);
      const all = await layer.history(ch, {});
      assert.deepEqual(all.publications.map((p) => p.offset), [4, 5, 6]);
      const gap = await layer.history(ch, { since: first });
      assert.equal(gap.complete, false);
      assert.deepEqual(gap.publications, []);
      assert.equal(gap.position.offset, 6);
      const edge = await layer.history(ch, { since: { epoch: first.epoch, offset: 3 } });
      assert.equal(edge.complete, true, 'the publication right after the position is still there');
      assert.deepEqual(edge.publications.map((p) => p.offset), [4, 5, 6]);
    });

    test('history is bounded by age', async () => {
      const wait = factory.ageWaitMs ?? 1200;
      const ch = channelName('age');
      const first = await layer.publish(ch, 'e', '1', { historySize: 100, historyTtlMs: Math.max(1, Math.floor(wait / 2)) });
      await new Promise((r) => setTimeout(r, wait));
      const page = await layer.history(ch, {});
      assert.deepEqual(page.publications, []);
      assert.equal(page.position.offset, 1, 'the position survives its publications');
      const since = await layer.history(ch, { since: { epoch: first.epoch, offset: 0 } });
      assert.equal(since.complete, false);
    });

    test('a foreign epoch or a position from the future is not complete', async () => {
      const ch = channelName('epoch');
      const pos = await layer.publish(ch, 'e', '1', keep);
      assert.equal((await layer.history(ch, { since: { epoch: 'not-this-one', offset: 0 } })).complete, false);
      assert.equal((await layer.history(ch, { since: { epoch: pos.epoch, offset: 99 } })).complete, false);
    });

    test('subscribed channels are delivered in offset order; unsubscribed ones are not', async () => {
      const ch = channelName('deliver');
      const other = channelName('other');
      await layer.subscribe(ch);
      for (let i = 1; i <= 20; i++) await layer.publish(ch, 'e', String(i), keep);
      await layer.publish(other, 'e', '1', keep);
      await waitFor(() => received.filter((p) => p.channel === ch).length === 20, '20 deliveries');
      assert.deepEqual(received.filter((p) => p.channel === ch).map((p) => p.offset), Array.from({ length: 20 }, (_, i) => i + 1));
      assert.equal(received.filter((p) => p.channel === other).length, 0);
      await layer.unsubscribe(ch);
      await layer.publish(ch, 'e', '21', keep);
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(received.filter((p) => p.channel === ch).length, 20);
    });

    test('a publication is in history before any subscriber sees it', async () => {
      const ch = channelName('atomic');
      await layer.subscribe(ch);
      // Ask for history at the moment of delivery: it must already hold the delivered publication.
      const checks: Promise<boolean>[] = [];
      onDelivery = (pub) => {
        if (pub.channel === ch) checks.push(layer.history(ch, {}).then((page) => page.publications.some((p) => p.offset === pub.offset)));
      };
      try {
        for (let i = 1; i <= 5; i++) await layer.publish(ch, 'e', String(i), keep);
        await waitFor(() => checks.length === 5, '5 deliveries');
        assert.deepEqual(await Promise.all(checks), [true, true, true, true, true]);
      } finally {
        onDelivery = null;
        await layer.unsubscribe(ch);
      }
    });

    test('what history returns is a copy: changing it changes nothing stored', async () => {
      const ch = channelName('copy');
      await layer.publish(ch, 'e', '{"items":[1,2]}', keep);
      const first = await layer.history(ch, {});
      first.publications.length = 0;
      const second = await layer.history(ch, {});
      assert.equal(second.publications.length, 1);
      try {
        (second.publications[0] as { json: string }).json = 'changed';
      } catch {
        // frozen objects refuse the change outright, which is as good
      }
      const third = await layer.history(ch, {});
      assert.equal(third.publications[0]!.json, '{"items":[1,2]}');
    });

    test('a publish with an idempotency key the channel has seen returns the first position and publishes nothing', async () => {
      const ch = channelName('idem');
      await layer.subscribe(ch);
      try {
        const first = await layer.publish(ch, 'e', '1', { ...keep, idempotencyKey: 'evt-1' });
        const again = await layer.publish(ch, 'e', '"re-sent"', { ...keep, idempotencyKey: 'evt-1' });
        assert.deepEqual(again, first);
        const second = await layer.publish(ch, 'e', '2', { ...keep, idempotencyKey: 'evt-2' });
        const plain = await layer.publish(ch, 'e', '3', keep);
        assert.deepEqual([first.offset, second.offset, plain.offset], [1, 2, 3]);
        // Re-sent at once (an outbox retrying while the first attempt is still in flight): one publication.
        const racing = await Promise.all(Array.from({ length: 10 }, () => layer.publish(ch, 'e', '4', { ...keep, idempotencyKey: 'evt-4' })));
        assert.deepEqual(new Set(racing.map((p) => p.offset)), new Set([4]));
        await waitFor(() => received.filter((p) => p.channel === ch).length >= 4, '4 deliveries');
        await new Promise((r) => setTimeout(r, 50));
        assert.deepEqual(received.filter((p) => p.channel === ch).map((p) => [p.offset, p.json]), [[1, '1'], [2, '2'], [3, '3'], [4, '4']]);
        assert.deepEqual((await layer.history(ch, {})).publications.map((p) => p.json), ['1', '2', '3', '4']);

        const other = channelName('idem-other');
        assert.equal((await layer.publish(other, 'e', '1', { ...keep, idempotencyKey: 'evt-1' })).offset, 1, 'keys are per channel');
        // Channels without history still remember keys.
        const bare = channelName('idem-bare');
        const none: PublishOptions = { historySize: 0, historyTtlMs: 0, idempotencyKey: 'k' };
        const a = await layer.publish(bare, 'e', '1', none);
        assert.deepEqual(await layer.publish(bare, 'e', '1', none), a);
        assert.equal((await layer.history(bare, { limit: 0 })).position.offset, 1);
      } finally {
        await layer.unsubscribe(ch);
      }
    });

    test('presence events reach subscribed nodes and are not stored', async () => {
      const ch = channelName('presence');
      await layer.subscribe(ch);
      await layer.publishPresence({ channel: ch, kind: 'join', user: 'u1' });
      await layer.publishPresence({ channel: ch, kind: 'leave', user: 'u1' });
      await waitFor(() => presence.filter((e) => e.channel === ch).length === 2, 'presence events');
      assert.deepEqual(presence.filter((e) => e.channel === ch).map((e) => e.kind), ['join', 'leave']);
      assert.equal((await layer.history(ch, {})).position.offset, 0);
      await layer.unsubscribe(ch);
    });

    test('losing the streams changes the epoch: old positions are not complete', async () => {
      if (!factory.lose) return;
      const ch = channelName('lost');
      const pos = await layer.publish(ch, 'e', '1', keep);
      layer = await factory.lose(layer);
      await layer.start({
        publication: (p) => {
          onDelivery?.(p);
          received.push(p);
        },
        presence: (e) => presence.push(e),
      });
      const page = await layer.history(ch, { since: pos });
      assert.equal(page.complete, false);
      assert.notEqual(page.position.epoch, pos.epoch);
    });

    test('ready() is true while open; calls after close fail with a clear error', async () => {
      const other = await factory.create();
      await other.start({ publication: () => undefined, presence: () => undefined });
      assert.equal(other.ready(), true);
      await other.close();
      assert.equal(other.ready(), false);
      await assert.rejects(other.publish(channelName('closed'), 'e', '1', keep), /closed|unavailable/i);
    });
  });
}
