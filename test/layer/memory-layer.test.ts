import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryLayer } from '../../src/core/layer/memory-layer.js';
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

void test('memory layer: a node-wide budget drops the oldest publications of any channel first', async () => {
  const layer = new MemoryLayer({ maxHistoryChars: 100 });
  await layer.start({ publication: () => undefined, presence: () => undefined });
  const keep = { historySize: 100, historyTtlMs: 60_000 };
  const ten = JSON.stringify('x'.repeat(8)); // 10 characters
  const first = await layer.publish('chat:a', 'e', ten, keep);
  for (let i = 0; i < 4; i++) await layer.publish('chat:a', 'e', ten, keep);
  for (let i = 0; i < 5; i++) await layer.publish('chat:b', 'e', ten, keep);
  assert.equal(layer.historyChars, 100);
  await layer.publish('chat:c', 'e', ten, keep); // over budget: chat:a's oldest goes
  assert.equal(layer.historyChars, 100);
  assert.deepEqual((await layer.history('chat:a', {})).publications.map((p) => p.offset), [2, 3, 4, 5]);
  assert.equal((await layer.history('chat:a', { since: { epoch: first.epoch, offset: 0 } })).complete, false);
  assert.equal((await layer.history('chat:a', { since: first })).complete, true, 'offset 1 seen: 2..5 are all there');
  for (let i = 0; i < 10; i++) await layer.publish('chat:c', 'e', ten, keep);
  assert.equal(layer.historyChars, 100);
  assert.deepEqual((await layer.history('chat:a', {})).publications, [], 'the oldest channel emptied first');
  assert.equal((await layer.history('chat:c', {})).publications.length, 10);
  await layer.close();
});

void test('memory layer: bookkeeping for the budget stays proportional to retained history', async () => {
  const layer = new MemoryLayer();
  await layer.start({ publication: () => undefined, presence: () => undefined });
  // One long-lived publication first, then a busy channel that keeps only 10.
  await layer.publish('chat:old', 'e', '1', { historySize: 10, historyTtlMs: 3_600_000 });
  for (let i = 0; i < 20_000; i++) await layer.publish('chat:busy', 'e', String(i), { historySize: 10, historyTtlMs: 3_600_000 });
  assert.equal(layer.historyChars, 1 + 10 * 5);
  assert.ok(layer.budgetListLength < 2 * 11 + 1100, `budget list holds ${layer.budgetListLength} entries for 11 retained`);
  await layer.close();
});

void test('memory layer: publications that left history are not kept by the budget list (a steady channel)', async () => {
  const layer = new MemoryLayer();
  await layer.start({ publication: () => undefined, presence: () => undefined });
  for (let i = 0; i < 20_000; i++) await layer.publish('chat:steady', 'e', String(i), { historySize: 10, historyTtlMs: 3_600_000 });
  assert.ok(layer.budgetListLength < 2 * 1024 + 20, `the list holds ${layer.budgetListLength} entries for 10 retained`);
  await layer.close();
});
