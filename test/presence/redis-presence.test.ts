import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { PresenceEvent } from '../../src/core/layer/channel-layer.js';
import { RedisLayer } from '../../src/core/layer/redis-layer.js';
import { RedisNodes } from '../../src/core/layer/redis-nodes.js';
import { RedisPresence } from '../../src/core/presence/redis-presence.js';
import { RedisConnectionCounter } from '../../src/core/realtime/redis-connection-counter.js';
import { REDIS_URL, deleteKeys, keysUnder, redisUnavailable, uniquePrefix } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import { presenceConformance } from './conformance.js';

const skip = await redisUnavailable();
const prefixes = new Set<string>();
after(async () => {
  if (!skip) for (const prefix of prefixes) await deleteKeys(prefix);
});

/** One node: its layer (which owns the connection), heartbeat, presence and connection counter. */
interface TestNode {
  layer: RedisLayer;
  nodes: RedisNodes;
  presence: RedisPresence;
  connections: RedisConnectionCounter;
  events: PresenceEvent[];
  /** Stops the node the way a crash does: no goodbye, the heartbeat just stops. */
  crash(): Promise<void>;
  close(): Promise<void>;
}

async function startNode(prefix: string, timeoutMs = 15_000): Promise<TestNode> {
  prefixes.add(prefix);
  const layer = await RedisLayer.connect({ url: REDIS_URL, prefix });
  const events: PresenceEvent[] = [];
  await layer.start({ publication: () => undefined, presence: (e) => events.push(e) });
  const nodes = new RedisNodes(layer.connection, { timeoutMs });
  const presence = new RedisPresence(nodes, (e) => layer.publishPresence(e));
  const connections = new RedisConnectionCounter(nodes);
  await nodes.start();
  let gone = false;
  return {
    layer,
    nodes,
    presence,
    connections,
    events,
    crash: async () => {
      gone = true;
      await layer.close(); // the timer lives on but cannot reach Redis: no heartbeat, no goodbye
    },
    close: async () => {
      if (gone) return;
      gone = true;
      await presence.close();
      await nodes.close();
      await layer.close();
    },
  };
}

const stores = new Map<RedisPresence, TestNode>();
presenceConformance(
  'redis',
  {
    create: async () => {
      const node = await startNode(uniquePrefix('presence'));
      stores.set(node.presence, node);
      return node.presence;
    },
    dispose: async (store) => stores.get(store as RedisPresence)?.close(),
  },
  skip,
);

void describe('redis presence and connection counts across nodes', { skip }, () => {
  void test('a user on two nodes is listed once on both; leaves when the last connection, on either node, goes', async () => {
    const prefix = uniquePrefix('two');
    const a = await startNode(prefix);
    const b = await startNode(prefix);
    try {
      const ch = 'chat:both';
      await a.layer.subscribe(ch);
      await b.layer.subscribe(ch);
      assert.deepEqual(await a.presence.join(ch, 'ann', 'a1'), { changed: true });
      assert.deepEqual(await b.presence.join(ch, 'ann', 'b1'), { changed: false });
      for (const node of [a, b]) assert.deepEqual((await node.presence.list(ch)).map((m) => m.user), ['ann']);
      assert.deepEqual(await a.presence.leave(ch, 'ann', 'a1'), { changed: false });
      assert.deepEqual((await b.presence.list(ch)).map((m) => m.user), ['ann']);
      assert.deepEqual(await b.presence.leave(ch, 'ann', 'b1'), { changed: true });
      assert.deepEqual(await a.presence.list(ch), []);
    } finally {
      await a.close();
      await b.close();
    }
  });

  void test('connections per user are counted across nodes', async () => {
    const prefix = uniquePrefix('count');
    const a = await startNode(prefix);
    const b = await startNode(prefix);
    try {
      assert.deepEqual(await a.connections.acquire('bob', 's1', 2), { ok: true, count: 1 });
      assert.deepEqual(await b.connections.acquire('bob', 's2', 2), { ok: true, count: 2 });
      assert.deepEqual(await b.connections.acquire('bob', 's3', 2), { ok: false, count: 2 });
      assert.deepEqual(await a.connections.acquire('eve', 's4', 2), { ok: true, count: 1 }, 'per user');
      await a.connections.release('bob', 's1');
      assert.deepEqual(await b.connections.acquire('bob', 's3', 2), { ok: true, count: 2 });
    } finally {
      await a.close();
      await b.close();
    }
  });

  void test('a node that dies stops counting within the bound: one leave per user it alone held, published once, and its connections freed', async () => {
    const prefix = uniquePrefix('dead');
    const timeoutMs = 1200;
    const a = await startNode(prefix, timeoutMs);
    const b = await startNode(prefix, timeoutMs);
    const c = await startNode(prefix, timeoutMs);
    try {
      const ch = 'chat:crash';
      for (const node of [a, b, c]) await node.layer.subscribe(ch);
      await a.presence.join(ch, 'stays', 'a1');
      await b.presence.join(ch, 'stays', 'b1'); // also on the node that survives
      await b.presence.join(ch, 'goes', 'b2');
      await b.presence.join(ch, 'goes', 'b3');
      await b.presence.join('chat:other', 'goes', 'b2');
      await b.connections.acquire('goes', 'b2', 2);
      await b.connections.acquire('goes', 'b3', 2);
      assert.deepEqual(await a.connections.acquire('goes', 'a9', 2), { ok: false, count: 2 });

      const crashedAt = Date.now();
      await b.crash();
      await waitFor(() => a.events.some((e) => e.kind === 'leave' && e.user === 'goes'), timeoutMs * 3, 'the leave of the dead node\'s user');
      const took = Date.now() - crashedAt;
      await waitFor(() => c.events.some((e) => e.kind === 'leave'), 2000, 'the leave on the other node');
      // Every sweeper had its chance: still one leave.
      await a.nodes.tick();
      await c.nodes.tick();
      await new Promise((r) => setTimeout(r, 100));
      for (const node of [a, c]) assert.deepEqual(node.events.filter((e) => e.kind === 'leave'), [{ channel: ch, kind: 'leave', user: 'goes' }]);
      assert.deepEqual((await a.presence.list(ch)).map((m) => m.user), ['stays']);
      assert.deepEqual(await a.presence.list('chat:other'), []);
      assert.deepEqual(await a.connections.acquire('goes', 'a9', 2), { ok: true, count: 1 });
      assert.ok(!(await keysUnder(prefix)).some((k) => k.includes(b.nodes.id)), 'nothing of the dead node is left');
      assert.ok(took <= timeoutMs * 2, `swept after ${took} ms (bound ${timeoutMs} ms, timers allowing)`);
    } finally {
      await a.close();
      await b.close();
      await c.close();
    }
  });

  void test('a node cut off for longer than the bound registers its entries again when it is back', async () => {
    const prefix = uniquePrefix('back');
    const a = await startNode(prefix, 1200);
    const b = await startNode(prefix, 1200);
    try {
      await a.layer.subscribe('chat:back');
      await b.presence.join('chat:back', 'carl', 'b1');
      await b.connections.acquire('carl', 'b1', 1);
      // As the sweep would after b's heartbeat ran out:
      await a.layer.connection.scripts.run('sbReapNode', [a.layer.keys.nodes], [prefix, b.nodes.id]);
      await waitFor(() => a.events.some((e) => e.kind === 'leave' && e.user === 'carl'), 2000, 'the leave');
      assert.deepEqual(await a.presence.list('chat:back'), []);
      await b.nodes.tick(); // b's heartbeat finds it was declared dead
      await waitFor(() => a.events.some((e) => e.kind === 'join' && e.user === 'carl'), 2000, 'the join again');
      assert.deepEqual((await a.presence.list('chat:back')).map((m) => m.user), ['carl']);
      assert.deepEqual(await a.connections.acquire('carl', 'a1', 1), { ok: false, count: 1 });
    } finally {
      await a.close();
      await b.close();
    }
  });

  void test('a node leaving on purpose takes its entries with it at once', async () => {
    const prefix = uniquePrefix('bye');
    const a = await startNode(prefix);
    const b = await startNode(prefix);
    try {
      await a.layer.subscribe('chat:bye');
      await b.presence.join('chat:bye', 'dora', 'b1');
      await b.connections.acquire('dora', 'b1', 1);
      await b.close();
      await waitFor(() => a.events.some((e) => e.kind === 'leave' && e.user === 'dora'), 2000, 'the leave');
      assert.deepEqual(await a.connections.acquire('dora', 'a1', 1), { ok: true, count: 1 });
    } finally {
      await a.close();
    }
  });
});
