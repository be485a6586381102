import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryPresence } from '../../src/core/presence/memory-presence.js';

test('a user with several connections is listed once and leaves with the last one', async () => {
  let now = 1_000;
  const presence = new MemoryPresence({ now: () => now });
  assert.deepEqual(await presence.join('room:a', 'u1', 'c1'), { changed: true });
  now = 2_000;
  assert.deepEqual(await presence.join('room:a', 'u1', 'c2'), { changed: false });
  assert.deepEqual(await presence.join('room:a', 'u2', 'c3'), { changed: true });
  assert.deepEqual(await presence.list('room:a'), [
    { user: 'u1', since: 1_000 },
    { user: 'u2', since: 2_000 },
  ]);
  assert.deepEqual(await presence.leave('room:a', 'u1', 'c1'), { changed: false });
  assert.deepEqual((await presence.list('room:a')).map((m) => m.user), ['u1', 'u2']);
  assert.deepEqual(await presence.leave('room:a', 'u1', 'c2'), { changed: true });
  assert.deepEqual((await presence.list('room:a')).map((m) => m.user), ['u2']);
});

test('leaving twice or leaving what was never joined changes nothing', async () => {
  const presence = new MemoryPresence();
  assert.deepEqual(await presence.leave('room:b', 'u1', 'c1'), { changed: false });
  await presence.join('room:b', 'u1', 'c1');
  assert.deepEqual(await presence.leave('room:b', 'u1', 'c1'), { changed: true });
  assert.deepEqual(await presence.leave('room:b', 'u1', 'c1'), { changed: false });
  assert.deepEqual(await presence.list('room:b'), []);
});

test('channels are independent', async () => {
  const presence = new MemoryPresence();
  await presence.join('room:c', 'u1', 'c1');
  await presence.join('room:d', 'u2', 'c1');
  assert.deepEqual((await presence.list('room:c')).map((m) => m.user), ['u1']);
  assert.deepEqual((await presence.list('room:d')).map((m) => m.user), ['u2']);
});
