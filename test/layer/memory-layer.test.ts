import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryLayer } from '../../src/layer/memory-layer.js';
import { channelLayerConformance } from './conformance.js';

channelLayerConformance('memory', {
  create: async () => new MemoryLayer(),
  lose: async (layer) => {
    await layer.close();
    return new MemoryLayer();
  },
  ageWaitMs: 120,
});

void test('memory layer: reading channels stores nothing; a swept stream comes back under a new epoch', async () => {
  let now = 0;
  const layer = new MemoryLayer({ now: () => now, streamMetaTtlMs: 1000, sweepIntervalMs: 10 });
  await layer.start({ publication: () => undefined, presence: () => undefined });
  for (let i = 0; i < 100; i++) await layer.history(`public:probe-${i}`, { limit: 0 });
  assert.equal(layer.streamCount, 0);
  const pos = await layer.publish('public:kept', 'e', '1', { historySize: 10, historyTtlMs: 100 });
  assert.equal(layer.streamCount, 1);
  now = 5000; // publications expired and the stream idle past its meta TTL
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(layer.streamCount, 0);
  const after = await layer.history('public:kept', { since: pos });
  assert.equal(after.complete, false, 'a position from the dropped stream must not match');
  assert.notEqual(after.position.epoch, pos.epoch);
  await layer.close();
});
