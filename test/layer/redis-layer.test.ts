import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { Publication, StreamPosition } from '../../src/core/layer/channel-layer.js';
import { RedisUnreachableError } from '../../src/core/layer/redis-connection.js';
import { RedisLayer } from '../../src/core/layer/redis-layer.js';
import { REDIS_URL, deleteKeys, keysUnder, redisUnavailable, uniquePrefix } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import { channelLayerConformance } from './conformance.js';

const skip = await redisUnavailable();
const prefixes = new Set<string>();

async function connect(prefix = uniquePrefix('layer')): Promise<RedisLayer> {
  prefixes.add(prefix);
  return RedisLayer.connect({ url: REDIS_URL, prefix });
}

after(async () => {
  if (!skip) for (const prefix of prefixes) await deleteKeys(prefix);
});

channelLayerConformance(
  'redis',
  {
    create: () => connect(),
    // Deleting the prefix's keys is a flush for this layer (redis-flush.test.ts flushes for real).
    lose: async (layer) => {
      const { prefix } = (layer as RedisLayer).keys;
      await layer.close();
      await deleteKeys(prefix);
      return connect(prefix);
    },
    ageWaitMs: 300,
  },
  skip,
);

void describe('redis layer', { skip }, () => {
  const keep = { historySize: 100, historyTtlMs: 60_000 };

  void test('reads store nothing per channel: only the instance key exists after reading 100 channels', async () => {
    const layer = await connect();
    try {
      for (let i = 0; i < 100; i++) await layer.history(`public:probe-${i}`, { limit: 0 });
      for (let i = 0; i < 10; i++) await layer.history(`public:probe-${i}`, { since: { epoch: 'x', offset: 3 }, limit: 10 });
      assert.deepEqual(await keysUnder(layer.keys.prefix), [layer.keys.epoch, layer.keys.runId]);
    } finally {
      await layer.close();
    }
  });

  void test('two nodes on one Redis share positions and history; each node gets what the other publishes, in order', async () => {
    const prefix = uniquePrefix('nodes');
    const a = await connect(prefix);
    const b = await connect(prefix);
    const got: Publication[] = [];
    await a.start({ publication: () => undefined, presence: () => undefined });
    await b.start({ publication: (p) => got.push(p), presence: () => undefined });
    try {
      const channel = 'chat:lobby';
      await b.subscribe(channel);
      const positions: StreamPosition[] = [];
      for (let i = 1; i <= 50; i++) positions.push(await a.publish(channel, 'said', JSON.stringify({ i }), keep));
      await waitFor(() => got.length === 50, 3000, '50 publications on node b');
      assert.deepEqual(got.map((p) => p.offset), positions.map((p) => p.offset));
      assert.deepEqual(got.map((p) => p.json), positions.map((_, i) => JSON.stringify({ i: i + 1 })));
      assert.ok(got.every((p) => p.epoch === positions[0]!.epoch && p.event === 'said' && p.channel === channel));
      const fromB = await b.history(channel, { since: positions[9]! });
      assert.equal(fromB.complete, true);
      assert.deepEqual(fromB.position, positions[49]);
      assert.deepEqual(fromB.publications.map((p) => p.offset), Array.from({ length: 40 }, (_, i) => i + 11));
      assert.deepEqual(fromB.publications.map((p) => p.time), got.slice(10).map((p) => p.time), 'history and delivery carry the same time');
    } finally {
      await a.close();
      await b.close();
    }
  });

  void test('channel names with : . @ / # , = are keys of their own; events and data of any text survive', async () => {
    const layer = await connect();
    const got: Publication[] = [];
    await layer.start({ publication: (p) => got.push(p), presence: () => undefined });
    try {
      const names = ['tenant:acme/eu', 'tenant:acme', 'user:a.b@example.com', 'chat:#x,y=z', 'chat:a:b:c'];
      for (const name of names) await layer.subscribe(name);
      const odd = { text: 'pipes | and\nnewlines, "quotes", ünïcödé ✓' };
      for (const [i, name] of names.entries()) {
        for (let n = 0; n <= i; n++) await layer.publish(name, 'ev.t:x-1|odd', JSON.stringify(odd), { ...keep, idempotencyKey: `k:${n}` });
      }
      for (const [i, name] of names.entries()) {
        const page = await layer.history(name, {});
        assert.equal(page.position.offset, i + 1, name);
        assert.deepEqual(page.publications.map((p) => [p.event, JSON.parse(p.json)]), Array.from({ length: i + 1 }, () => ['ev.t:x-1|odd', odd]));
      }
      await waitFor(() => got.length === 15, 3000, 'every delivery');
      assert.deepEqual(got.filter((p) => p.channel === 'chat:a:b:c').map((p) => p.offset), [1, 2, 3, 4, 5]);
      assert.ok((await keysUnder(layer.keys.prefix)).every((k) => k.startsWith(layer.keys.prefix)));
    } finally {
      await layer.close();
    }
  });

  void test('a subscribed channel keeps the epoch its subscribers were told, even before its first publication', async () => {
    const layer = await connect();
    await layer.start({ publication: () => undefined, presence: () => undefined });
    try {
      await layer.subscribe('chat:quiet');
      const told = await layer.history('chat:quiet', { limit: 0 });
      const pos = await layer.publish('chat:quiet', 'e', '1', keep);
      assert.equal(pos.epoch, told.position.epoch);
      assert.equal(pos.offset, 1);
    } finally {
      await layer.close();
    }
  });

  void test('connecting to a Redis that is not there fails fast, naming the URL and the cause', async () => {
    await assert.rejects(
      RedisLayer.connect({ url: 'redis://:secret@127.0.0.1:1/0', prefix: uniquePrefix(), timeoutMs: 2000 }),
      (err: unknown) => {
        assert.ok(err instanceof RedisUnreachableError, String(err));
        assert.match(err.message, /^cannot reach Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:1\/0: ECONNREFUSED$/);
        return true;
      },
    );
  });
});
