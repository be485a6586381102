/**
 * The console's REST API against a full node of the app: what an admin sees of this node's channels
 * and connections (its own shop's only), the test publish and history, ending a user's sessions,
 * and the audit log of both. Who may call the routes at all is in the authorization matrix.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CloseCodes } from '@switchboard/client/protocol';
import { forEachEngine, suiteApp } from '../helpers/app.js';
import { AUDIT_EVENT, SIGNED_OUT_REASON, TEST_EVENT, type AuditEntry } from '../../src/modules/console/index.js';
import { connected, demo, otherShop, type Account } from './support.js';

interface ChannelRow {
  channel: string;
  connections: number;
  users: number;
  own: boolean;
  canPublish: boolean;
  canReadHistory: boolean;
}

forEachEngine('console API', (engine) => {
  const t = suiteApp(engine);
  let admin: Account;
  let customer: Account;
  let manager: Account;
  let other: Awaited<ReturnType<typeof otherShop>>;

  const get = async <T>(path: string, token: string, status = 200): Promise<T> => {
    const res = await t.request<T>('GET', path, { token });
    assert.equal(res.status, status, `GET ${path}: ${JSON.stringify(res.body)}`);
    return res.body;
  };
  const post = async <T>(path: string, token: string, body: unknown, status = 200): Promise<T> => {
    const res = await t.request<T>('POST', path, { token, body });
    assert.equal(res.status, status, `POST ${path}: ${JSON.stringify(res.body)}`);
    return res.body;
  };

  void test('set up: the demo shop and a second shop', async () => {
    admin = await demo(t, 'admin');
    customer = await demo(t, 'customer');
    manager = await demo(t, 'manager');
    other = await otherShop(t);
  });

  void test("the channels table holds the channels its shop's connections follow, counting only them; another shop's channels never appear", async () => {
    const mine = await connected(t, customer.token, [`tenant:${admin.tenant}`, `cart:${customer.id}`, 'chat:lobby']);
    const mine2 = await connected(t, customer.token, [`tenant:${admin.tenant}`]);
    const theirs = await connected(t, other.customer.token, [`tenant:${other.tenant}`, `cart:${other.customer.id}`, 'chat:lobby', 'chat:their-secret-room']);
    try {
      const { channels, coverage } = await get<{ channels: ChannelRow[]; coverage: { node: string; nodes: string[]; missing: string[] } }>('/api/console/channels', admin.token);
      assert.deepEqual(coverage, { node: t.app.sb.nodeId, nodes: [t.app.sb.nodeId], missing: [], partial: false });
      const byName = new Map(channels.map((c) => [c.channel, c]));
      assert.deepEqual(byName.get(`tenant:${admin.tenant}`), { channel: `tenant:${admin.tenant}`, namespace: 'tenant', connections: 2, users: 1, own: true, canPublish: true, canReadHistory: true });
      // The customer's cart is the shop's (its key is a user of the shop), but not the admin's to read.
      assert.deepEqual(byName.get(`cart:${customer.id}`), { channel: `cart:${customer.id}`, namespace: 'cart', connections: 1, users: 1, own: true, canPublish: false, canReadHistory: false });
      // Shared with the other shop: listed because this shop's customer is in it, counted without the other shop's.
      assert.deepEqual(byName.get('chat:lobby'), { channel: 'chat:lobby', namespace: 'chat', connections: 1, users: 1, own: false, canPublish: false, canReadHistory: false });
      for (const c of channels) assert.ok(!c.channel.includes(other.tenant) && !c.channel.includes(other.customer.id) && c.channel !== 'chat:their-secret-room', `leaked ${c.channel}`);

      const theirView = await get<{ channels: ChannelRow[] }>('/api/console/channels', other.admin.token);
      assert.deepEqual(theirView.channels.map((c) => [c.channel, c.connections]).sort(), [[`cart:${other.customer.id}`, 1], ['chat:lobby', 1], ['chat:their-secret-room', 1], [`tenant:${other.tenant}`, 1]].sort());
    } finally {
      for (const c of [mine, mine2, theirs]) c.terminate();
    }
  });

  void test('the connected users table lists its shop\'s users on this node, grouped, and nobody of another shop', async () => {
    const a = await connected(t, customer.token, [`tenant:${admin.tenant}`, `cart:${customer.id}`]);
    const b = await connected(t, customer.token, [`tenant:${admin.tenant}`]);
    const c = await connected(t, manager.token);
    const theirs = await connected(t, other.customer.token, [`tenant:${other.tenant}`]);
    try {
      const view = await get<{ coverage: { nodes: string[] }; users: { id: string; name: string; role: string; connections: number; channels: number; nodes: string[] }[] }>('/api/console/connections', admin.token);
      assert.deepEqual(view.coverage.nodes, [t.app.sb.nodeId]);
      const cust = view.users.find((u) => u.id === customer.id);
      assert.ok(cust, JSON.stringify(view.users));
      assert.deepEqual([cust.role, cust.connections, cust.channels, cust.nodes], ['customer', 2, 2, [t.app.sb.nodeId]]);
      assert.equal(view.users.find((u) => u.id === manager.id)?.connections, 1);
      assert.ok(!view.users.some((u) => u.id === other.customer.id), "the other shop's customer is not listed");
      const theirView = await get<{ users: { id: string }[] }>('/api/console/connections', other.admin.token);
      assert.deepEqual(theirView.users.map((u) => u.id), [other.customer.id]);
    } finally {
      for (const client of [a, b, c, theirs]) client.terminate();
    }
  });

  void test('a test publish reaches the channel\'s subscribers, shows in its history, and is audited live; another shop\'s or a shared channel answers 404', async () => {
    const channel = `tenant:${admin.tenant}`;
    const subscriber = await connected(t, customer.token, [channel]);
    const watcher = await connected(t, admin.token, [`audit:${admin.tenant}`]);
    const theirWatcher = await connected(t, other.admin.token, [`audit:${other.tenant}`]);
    try {
      const sent = await post<{ epoch: string; offset: number; audit: AuditEntry }>('/api/console/publish', admin.token, { channel, message: 'hello from the console' });
      const message = await subscriber.nextMatching((f) => f.op === 'message' && f.channel === channel, 3000, 'the test event');
      assert.ok(message.op === 'message');
      assert.equal(message.event, TEST_EVENT);
      assert.deepEqual((message.data as { message: string }).message, 'hello from the console');
      assert.equal(message.offset, sent.offset);

      const live = await watcher.nextMatching((f) => f.op === 'message' && f.event === AUDIT_EVENT, 3000, 'the audit line');
      assert.ok(live.op === 'message');
      const line = live.data as AuditEntry;
      assert.equal(line.id, sent.audit.id);
      assert.equal(line.action, 'publish');
      assert.equal(line.target, channel);
      assert.equal(line.actor.id, admin.id);
      assert.deepEqual(line.details, { event: TEST_EVENT, message: 'hello from the console', outcome: 'published', epoch: sent.epoch, offset: sent.offset });
      await theirWatcher.expectNoMessages(200);

      const history = await get<{ publications: { event: string; offset: number }[] }>(`/api/console/channels/history?channel=${encodeURIComponent(channel)}&limit=5`, admin.token);
      assert.deepEqual(history.publications.at(-1), { ...history.publications.at(-1), event: TEST_EVENT, offset: sent.offset });

      for (const refused of [`tenant:${other.tenant}`, 'chat:lobby', 'admin:alerts', `cart:${customer.id}`, `audit:${admin.tenant}`, 'ops:node', 'sys:accounts', `order:${admin.tenant}`]) {
        await post('/api/console/publish', admin.token, { channel: refused, message: 'x' }, 404);
        await get(`/api/console/channels/history?channel=${encodeURIComponent(refused)}`, admin.token, 404);
      }
      // The other shop's admin cannot reach this shop's channels either.
      await post('/api/console/publish', other.admin.token, { channel, message: 'x' }, 404);
      await get(`/api/console/channels/history?channel=${encodeURIComponent(channel)}`, other.admin.token, 404);
      await post('/api/console/publish', admin.token, { channel: 'Not A Channel', message: 'x' }, 400);
      await subscriber.expectNoMessages(200, channel);
    } finally {
      for (const c of [subscriber, watcher, theirWatcher]) c.terminate();
    }
  });

  void test('ending a user\'s sessions closes every connection of theirs with 4504 and its reason, audited; other shops\' users 404, your own 409', async () => {
    const victim = await t.newCustomer('Signed Out');
    const first = await connected(t, victim.token, [`tenant:${admin.tenant}`]);
    const second = await connected(t, victim.token);
    const bystander = await connected(t, customer.token);
    try {
      const ended = await post<{ connections: number; audit: AuditEntry; user: { id: string } }>(`/api/console/users/${victim.id}/end-sessions`, admin.token, {});
      assert.equal(ended.connections, 2);
      for (const client of [first, second]) {
        const closed = await client.closed(3000);
        assert.equal(closed.code, CloseCodes.accountRevoked);
        assert.equal(closed.reason, SIGNED_OUT_REASON);
      }
      await bystander.assertAlive();
      assert.equal(ended.audit.action, 'end_sessions');
      assert.equal(ended.audit.target, victim.id);
      assert.deepEqual(ended.audit.details, { user: { id: victim.id, name: 'Signed Out', email: victim.email, role: 'customer' }, connections: 2, nodes: 1, outcome: 'signed_out' });
      // Signing out is not locking out: the token still connects (disabling the account does that).
      const back = await connected(t, victim.token);
      back.terminate();

      const refused = await t.request('POST', `/api/console/users/${other.customer.id}/end-sessions`, { token: admin.token, body: {} });
      assert.equal(refused.status, 404, JSON.stringify(refused.body));
      const theirs = await t.request('POST', `/api/console/users/${customer.id}/end-sessions`, { token: other.admin.token, body: {} });
      assert.equal(theirs.status, 404, JSON.stringify(theirs.body));
      const own = await t.request('POST', `/api/console/users/${admin.id}/end-sessions`, { token: admin.token, body: {} });
      assert.equal(own.status, 409);
      assert.equal(own.body.error.code, 'own_sessions');
      await bystander.assertAlive();
    } finally {
      bystander.terminate();
    }
  });

  void test('the audit log lists the shop\'s actions newest first, a page at a time, and none of another shop\'s', async () => {
    for (const n of [1, 2, 3]) await post('/api/console/publish', admin.token, { channel: `tenant:${admin.tenant}`, message: `page ${n}` });
    await post('/api/console/publish', other.admin.token, { channel: `tenant:${other.tenant}`, message: 'theirs' });
    const first = await get<{ items: AuditEntry[]; nextCursor: string | null }>('/api/console/audit?limit=2', admin.token);
    assert.deepEqual(first.items.map((i) => i.details.message), ['page 3', 'page 2']);
    assert.ok(first.nextCursor);
    const second = await get<{ items: AuditEntry[]; nextCursor: string | null }>(`/api/console/audit?limit=100&cursor=${first.nextCursor}`, admin.token);
    const actions = second.items.map((i) => `${i.action}:${String(i.details.message ?? i.target)}`);
    assert.equal(actions[0], 'publish:page 1');
    assert.ok(actions.some((a) => a.startsWith('end_sessions:')), actions.join(', '));
    assert.ok(second.items.every((i) => i.actor.id === admin.id), 'only this shop\'s admin acted here');
    assert.equal(second.nextCursor, null);
    const theirs = await get<{ items: AuditEntry[] }>('/api/console/audit', other.admin.token);
    assert.deepEqual(theirs.items.map((i) => i.details.message), ['theirs']);
    const rows = await t.app.database.db.selectFrom('console_audit_log').select(['tenant_id', 'action']).execute();
    assert.equal(rows.filter((r) => r.tenant_id === admin.tenant).length, first.items.length + second.items.length);
  });

  void test('non-admins are refused every console route (403), without a token 401', async () => {
    for (const token of [customer.token, manager.token]) {
      await get('/api/console/channels', token, 403);
      await get('/api/console/connections', token, 403);
      await get('/api/console/audit', token, 403);
      await get(`/api/console/channels/history?channel=tenant:${admin.tenant}`, token, 403);
      await post('/api/console/publish', token, { channel: `tenant:${admin.tenant}`, message: 'x' }, 403);
      await post(`/api/console/users/${customer.id}/end-sessions`, token, {}, 403);
    }
    assert.equal((await t.request('GET', '/api/console/channels')).status, 401);
  });
});
