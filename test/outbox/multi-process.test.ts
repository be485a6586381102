import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { forEachEngine, startApp, type EngineName, type TestApp } from '../helpers/app.js';
import { delay, WsTestClient } from '../helpers/ws-client.js';
import { connect, expectStatus, product, subscribe, waitUntil, type MessageFrame } from './support.js';

/**
 * Several nodes on one database, as several processes behind a load balancer would be. Each node
 * has its own in-memory channel layer, so a subscriber on node N hears exactly the events node N's
 * dispatcher published. With one subscriber per node on the same channel, the union of what they
 * hear shows how often each event was published across the nodes: every version once means no
 * event was lost and none was published by two dispatchers.
 */

const CHANGES = 200;

/** Runs `tasks` with at most `limit` in flight. */
async function inParallel<T>(tasks: (() => Promise<T>)[], limit: number): Promise<T[]> {
  const results: T[] = new Array<T>(tasks.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await tasks[i]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return results;
}

function suite(engine: EngineName, nodeCount: number): void {
  const nodes: TestApp[] = [];
  before(async () => {
    // One at a time: the first migrates and seeds, the others find the data there.
    const first = await startApp({ engine });
    nodes.push(first);
    for (let i = 1; i < nodeCount; i++) nodes.push(await startApp({ engine, shareWith: first }));
  });
  after(async () => {
    await WsTestClient.closeAll();
    // The first node cleans the shared database up, so it closes last.
    for (const node of [...nodes].reverse()) await node.close();
  });

  void test(`${CHANGES} cart changes spread over ${nodeCount} nodes: every event is published exactly once, in order per node`, async (t) => {
    const customer = await nodes[0]!.newCustomer();
    const channel = `cart:${customer.id}`;
    const clients = await Promise.all(nodes.map((n) => connect(n, customer.token)));
    for (const c of clients) await subscribe(c, channel);
    const received: number[][] = clients.map(() => []);
    for (const [i, c] of clients.entries()) {
      void (async () => {
        // Drains cart_update messages as they come, until the socket closes in after().
        for (;;) {
          const frame = (await c.nextMatching((f) => f.op === 'message' && f.channel === channel && f.event === 'cart_update', 60_000, 'cart_update').catch(() => null)) as MessageFrame | null;
          if (!frame) return;
          received[i]!.push((frame.data as { version: number }).version);
        }
      })();
    }

    const coffee = await product(nodes[0]!, customer.token, 'COF-250');
    const added = expectStatus(await nodes[0]!.request('POST', '/api/cart/items', { token: customer.token, body: { productId: coffee.id, quantity: 1 } }), 201, 'add');
    const itemId = added.items[0].id as string;
    const answers = await inParallel(
      Array.from({ length: CHANGES }, (_, i) => () => nodes[i % nodes.length]!.request('PATCH', `/api/cart/items/${itemId}`, { token: customer.token, body: { quantity: 1 + (i % 7) } })),
      24,
    );
    const failed = answers.filter((r) => r.status !== 200);
    assert.deepEqual(
      failed.map((r) => `${r.status} ${JSON.stringify(r.body)}`),
      [],
      'every change was accepted',
    );
    const total = CHANGES + 1;
    const union = (): number[] => received.flat();
    await waitUntil(async () => union().length >= total, 30_000, `${total} cart_update events across the nodes (have ${union().length})`).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}; per node: ${received.map((r) => r.length).join(', ')}; missing: ${missing(union(), total).slice(0, 20).join(', ')}`);
    });
    // Anything published twice would arrive about now.
    await delay(300);
    const all = union().sort((a, b) => a - b);
    assert.deepEqual(all, Array.from({ length: total }, (_, i) => i + 1), 'each version published once, none missing');
    for (const [i, versions] of received.entries()) {
      for (let k = 1; k < versions.length; k++) assert.ok(versions[k]! > versions[k - 1]!, `node ${i} published in order: ${versions.join(',')}`);
    }
    t.diagnostic(`events published per node: ${received.map((r) => r.length).join(', ')}`);
    await waitUntil(async () => (await nodes[0]!.app.dispatcher.pending()) === 0, 10_000, 'no unsent events');
  });
}

function missing(seen: number[], total: number): number[] {
  const have = new Set(seen);
  return Array.from({ length: total }, (_, i) => i + 1).filter((v) => !have.has(v));
}

forEachEngine('outbox on several nodes sharing a database', (engine) => {
  // SQLite: two nodes on one file, the outbox lease deciding which dispatcher works.
  suite(engine, engine === 'postgres' ? 3 : 2);
});
