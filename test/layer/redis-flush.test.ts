import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { Publication } from '../../src/core/layer/channel-layer.js';
import { RedisLayer } from '../../src/core/layer/redis-layer.js';
import { REDIS_URL, inspector, redisUnavailable, uniquePrefix } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

/** The one suite that flushes: it owns database 15 (no other suite uses it), so FLUSHDB there
 * touches nobody else's keys. Pub/sub ignores databases, hence the prefix all the same. */
const url = new URL(REDIS_URL);
url.pathname = '/15';
const DB15 = url.toString();
const skip = await redisUnavailable(DB15);

void describe('redis layer: a flushed Redis', { skip }, () => {
  const layers: RedisLayer[] = [];
  after(async () => {
    for (const layer of layers) await layer.close();
    const client = inspector(DB15);
    await client.flushdb();
    await client.quit();
  });

  void test('changes every epoch: old positions are not complete, offsets start again at 1, subscribers keep receiving', async () => {
    const prefix = uniquePrefix('flush');
    const a = await RedisLayer.connect({ url: DB15, prefix });
    const b = await RedisLayer.connect({ url: DB15, prefix });
    layers.push(a, b);
    const got: Publication[] = [];
    await a.start({ publication: () => undefined, presence: () => undefined });
    await b.start({ publication: (p) => got.push(p), presence: () => undefined });
    const keep = { historySize: 100, historyTtlMs: 60_000 };
    await b.subscribe('chat:flushed');
    await a.publish('chat:flushed', 'e', '1', keep);
    const before = await a.publish('chat:flushed', 'e', '2', { ...keep, idempotencyKey: 'evt-2' });
    const other = await a.publish('chat:other', 'e', '1', keep);
    await waitFor(() => got.length === 2, 3000, 'two deliveries before the flush');

    const client = inspector(DB15);
    await client.flushdb();
    await client.quit();

    for (const layer of [a, b]) {
      const page = await layer.history('chat:flushed', { since: { epoch: before.epoch, offset: 1 } });
      assert.equal(page.complete, false, 'a position from before the flush must not resume');
      assert.deepEqual(page.publications, []);
      assert.notEqual(page.position.epoch, before.epoch);
      assert.equal(page.position.offset, 0);
      assert.equal((await layer.history('chat:other', { since: other })).complete, false);
    }
    // The idempotency key went with the flush too: this is a new publication in the new epoch.
    const after = await a.publish('chat:flushed', 'e', '3', { ...keep, idempotencyKey: 'evt-2' });
    assert.equal(after.offset, 1);
    assert.notEqual(after.epoch, before.epoch);
    await waitFor(() => got.length === 3, 3000, 'a delivery after the flush');
    assert.deepEqual(got.map((p) => [p.epoch === before.epoch, p.offset]), [[true, 1], [true, 2], [false, 1]]);
  });
});
