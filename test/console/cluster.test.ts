/**
 * The console with two nodes on Redis: whichever node a REST call lands on, the tables hold the
 * shop's connections of both (each node answers for its own), ending sessions closes them on the
 * other node, and a node that stopped answering is named as missing rather than waited for.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CloseCodes } from '@switchboard/client/protocol';
import { builtinModules, createConsoleModule } from '../../src/modules/index.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { deleteKeys, REDIS_URL, redisUnavailable, uniquePrefix } from '../helpers/redis.js';
import { delay, WsTestClient } from '../helpers/ws-client.js';
import { connected, demo, otherShop } from './support.js';

const modules = () => [...builtinModules.filter((m) => m.name !== 'console'), createConsoleModule({ feedIntervalMs: 100 })];

interface Coverage {
  node: string;
  nodes: string[];
  missing: string[];
}

void describe('the console across two nodes on Redis', async () => {
  const skip = await redisUnavailable();
  let a: TestApp;
  let b: TestApp;
  const prefix = uniquePrefix('console');
  before(async () => {
    if (skip) return;
    a = await startApp({ engine: 'sqlite', modules: modules(), redis: { url: REDIS_URL, prefix } });
    b = await startApp({ engine: 'sqlite', modules: modules(), redis: { url: REDIS_URL, prefix }, shareWith: a });
    // Each node learns the other is alive from its samples on ops:node.
    await delay(500);
  });
  after(async () => {
    if (skip) return;
    await WsTestClient.closeAll();
    await b?.close();
    await a?.close();
    await deleteKeys(prefix);
  });

  void test("a call to either node lists the shop's users and channels of both, tagged by node; another shop's stay out", { skip }, async () => {
    const admin = await demo(a, 'admin');
    const customer = await demo(a, 'customer');
    const other = await otherShop(a);
    const onB = await connected(b, customer.token, [`tenant:${customer.tenant}`, `cart:${customer.id}`]);
    const onA = await connected(a, customer.token, [`tenant:${customer.tenant}`]);
    const theirs = await connected(b, other.customer.token, [`tenant:${other.tenant}`, 'chat:lobby']);
    try {
      for (const node of [a, b]) {
        const view = await node.request<{ coverage: Coverage; users: { id: string; connections: number; channels: number; nodes: string[] }[] }>('GET', '/api/console/connections', { token: admin.token });
        assert.equal(view.status, 200, JSON.stringify(view.body));
        assert.deepEqual([...view.body.coverage.nodes].sort(), [a.app.sb.nodeId, b.app.sb.nodeId].sort());
        assert.deepEqual(view.body.coverage.missing, []);
        const cust = view.body.users.find((u) => u.id === customer.id);
        assert.ok(cust, JSON.stringify(view.body.users));
        assert.equal(cust.connections, 2);
        assert.equal(cust.channels, 2);
        assert.deepEqual([...cust.nodes].sort(), [a.app.sb.nodeId, b.app.sb.nodeId].sort());
        assert.ok(!view.body.users.some((u) => u.id === other.customer.id));

        const channels = await node.request<{ channels: { channel: string; connections: number; users: number }[] }>('GET', '/api/console/channels', { token: admin.token });
        const rows = Object.fromEntries(channels.body.channels.map((c) => [c.channel, [c.connections, c.users]]));
        assert.deepEqual(rows[`tenant:${customer.tenant}`], [2, 1]);
        assert.deepEqual(rows[`cart:${customer.id}`], [1, 1]);
        assert.ok(!channels.body.channels.some((c) => c.channel.includes(other.tenant) || c.channel === 'chat:lobby'), JSON.stringify(rows));
      }

      // Ending the sessions from node A closes the customer's sockets on both nodes.
      const ended = await a.request<{ connections: number }>('POST', `/api/console/users/${customer.id}/end-sessions`, { token: admin.token, body: {} });
      assert.equal(ended.status, 200, JSON.stringify(ended.body));
      assert.equal(ended.body.connections, 2);
      assert.equal((await onB.closed(3000)).code, CloseCodes.accountRevoked);
      assert.equal((await onA.closed(3000)).code, CloseCodes.accountRevoked);
      await theirs.assertAlive();
    } finally {
      for (const c of [onA, onB, theirs]) c.terminate();
    }
  });

  void test('a node that stopped is named as missing after a second, and the answer comes from the others', { skip }, async () => {
    const admin = await demo(a, 'admin');
    const gone = b.app.sb.nodeId;
    await b.close();
    const started = Date.now();
    const view = await a.request<{ coverage: Coverage }>('GET', '/api/console/connections', { token: admin.token });
    assert.equal(view.status, 200, JSON.stringify(view.body));
    assert.deepEqual(view.body.coverage.nodes, [a.app.sb.nodeId]);
    assert.deepEqual(view.body.coverage.missing, [gone]);
    assert.ok(Date.now() - started < 3000, 'waited about a second, not more');
  });
});
