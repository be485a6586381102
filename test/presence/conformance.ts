import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { PresenceStore } from '../../src/core/presence/presence-store.js';

export interface PresenceFactory {
  /** A fresh, empty store (its own key space). */
  create(): Promise<PresenceStore>;
  /** Releases what `create` made besides the store (connections, keys). */
  dispose?(store: PresenceStore): Promise<void>;
}

let unique = 0;
const channelName = (what: string) => `room:${what}-${process.pid}-${unique++}`;

/** The PresenceStore contract, run against every implementation. */
export function presenceConformance(name: string, factory: PresenceFactory, skip: string | false = false): void {
  describe(`PresenceStore conformance: ${name}`, { skip }, () => {
    let store: PresenceStore;
    before(async () => {
      store = await factory.create();
    });
    after(async () => {
      await store.close();
      await factory.dispose?.(store);
    });

    test('a user with several connections is listed once, joins with the first and leaves with the last', async () => {
      const ch = channelName('tabs');
      assert.deepEqual(await store.join(ch, 'u1', 'c1'), { changed: true });
      assert.deepEqual(await store.join(ch, 'u1', 'c2'), { changed: false });
      assert.deepEqual(await store.join(ch, 'u2', 'c3'), { changed: true });
      const listed = await store.list(ch);
      assert.deepEqual(listed.map((m) => m.user).sort(), ['u1', 'u2']);
      assert.ok(listed.every((m) => Number.isFinite(m.since) && m.since > 1_600_000_000_000), JSON.stringify(listed));
      assert.deepEqual(await store.leave(ch, 'u1', 'c1'), { changed: false });
      assert.deepEqual((await store.list(ch)).map((m) => m.user).sort(), ['u1', 'u2']);
      assert.deepEqual(await store.leave(ch, 'u1', 'c2'), { changed: true });
      assert.deepEqual((await store.list(ch)).map((m) => m.user), ['u2']);
      assert.deepEqual(await store.leave(ch, 'u2', 'c3'), { changed: true });
      assert.deepEqual(await store.list(ch), []);
    });

    test('since is when the first current connection joined', async () => {
      const ch = channelName('since');
      await store.join(ch, 'early', 'c1');
      await new Promise((r) => setTimeout(r, 20));
      await store.join(ch, 'late', 'c2');
      await store.join(ch, 'early', 'c3');
      const listed = await store.list(ch);
      const since = new Map(listed.map((m) => [m.user, m.since]));
      assert.ok(since.get('early')! < since.get('late')!, JSON.stringify(listed));
    });

    test('joining twice with one connection counts once; leaving twice or what was never joined changes nothing', async () => {
      const ch = channelName('twice');
      assert.deepEqual(await store.leave(ch, 'u1', 'c1'), { changed: false });
      await store.join(ch, 'u1', 'c1');
      assert.deepEqual(await store.join(ch, 'u1', 'c1'), { changed: false });
      assert.deepEqual(await store.leave(ch, 'u1', 'c1'), { changed: true });
      assert.deepEqual(await store.leave(ch, 'u1', 'c1'), { changed: false });
      assert.deepEqual(await store.list(ch), []);
    });

    test('channels are independent, whatever their names hold', async () => {
      const a = `${channelName('a')}:x/y@z.w`;
      const b = `${channelName('b')}`;
      await store.join(a, 'u1', 'c1');
      await store.join(b, 'u2', 'c1');
      assert.deepEqual((await store.list(a)).map((m) => m.user), ['u1']);
      assert.deepEqual((await store.list(b)).map((m) => m.user), ['u2']);
      assert.deepEqual(await store.leave(a, 'u1', 'c1'), { changed: true });
      assert.deepEqual((await store.list(b)).map((m) => m.user), ['u2']);
    });
  });
}
