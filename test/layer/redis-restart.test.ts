import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { LayerUnavailableError, type Publication } from '../../src/core/layer/channel-layer.js';
import { RedisLayer } from '../../src/core/layer/redis-layer.js';
import { OwnRedis } from '../helpers/redis-server.js';
import { waitFor } from '../helpers/wait.js';

/** Outages against a redis-server of this suite's own (the shared one is never stopped). */
void describe('redis layer: Redis goes away and comes back', { skip: OwnRedis.unavailable() }, () => {
  let redis: OwnRedis;
  before(async () => {
    redis = await OwnRedis.start();
  });
  after(async () => redis.destroy());

  const keep = { historySize: 100, historyTtlMs: 60_000 };

  void test('while down: not ready, calls fail at once with LayerUnavailableError; back: resubscribed, and a restart changes the epoch', async () => {
    const layer = await RedisLayer.connect({ url: redis.url, prefix: 'sb:', timeoutMs: 1000 });
    const got: Publication[] = [];
    const resubscribed: string[][] = [];
    await layer.start({ publication: (p) => got.push(p), presence: () => undefined, resubscribed: (channels) => resubscribed.push(channels) });
    try {
      await layer.subscribe('chat:r');
      await layer.subscribe('chat:s');
      await layer.unsubscribe('chat:s');
      const before = await layer.publish('chat:r', 'e', '1', keep);
      await waitFor(() => got.length === 1, 3000, 'a delivery');

      await redis.stop();
      await waitFor(() => !layer.ready(), 5000, 'the layer to notice');
      await assert.rejects(layer.publish('chat:r', 'e', '2', keep), LayerUnavailableError);
      await assert.rejects(layer.history('chat:r', {}), LayerUnavailableError);
      await assert.rejects(layer.subscribe('chat:t'), LayerUnavailableError);
      await assert.rejects(layer.publishPresence({ channel: 'chat:r', kind: 'join', user: 'u' }), LayerUnavailableError);

      await redis.restart();
      await waitFor(() => layer.ready() && resubscribed.length === 1, 10_000, 'reconnect and resubscribe');
      assert.deepEqual(resubscribed, [['chat:r']]);
      // The append-only file brought the data back, but the server restarted: the old position
      // must not resume (offsets it restored may be older than what clients saw).
      const page = await layer.history('chat:r', { since: before });
      assert.equal(page.complete, false);
      assert.notEqual(page.position.epoch, before.epoch);
      assert.deepEqual((await layer.history('chat:r', {})).publications.map((p) => p.json), ['1'], 'the data itself was restored');
      const next = await layer.publish('chat:r', 'e', '3', keep);
      assert.equal(next.offset, 2);
      await waitFor(() => got.length === 2, 3000, 'a delivery through the renewed subscription');
      assert.deepEqual(got[1]!.json, '3');
    } finally {
      await layer.close();
    }
  });

  void test('a Redis that stops answering fails calls after the command timeout, not never', async () => {
    const layer = await RedisLayer.connect({ url: redis.url, prefix: 'sb-hung:', timeoutMs: 500 });
    await layer.start({ publication: () => undefined, presence: () => undefined });
    try {
      await layer.publish('chat:h', 'e', '1', keep);
      redis.pause();
      try {
        await assert.rejects(layer.publish('chat:h', 'e', '2', keep), (err: unknown) => err instanceof LayerUnavailableError && /timed out/i.test(err.message));
      } finally {
        redis.resume();
      }
      await waitFor(() => layer.ready(), 5000, 'the layer to be usable again');
      assert.equal((await layer.history('chat:h', { limit: 0 })).position.offset >= 1, true);
    } finally {
      await layer.close();
    }
  });
});
