import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import type { MessageFrame, SubscribeResult } from '@switchboard/client/protocol';
import { Cluster, type NodeProcess } from '../helpers/cluster.js';
import { run } from '../helpers/cli.js';
import { redisUnavailable } from '../helpers/redis.js';
import { dropSchema, PG_URL, postgresUnavailable } from '../helpers/services.js';
import { collectMessages, WsTestClient } from '../helpers/ws-client.js';

const SANDBOX_SECRET = 'sandbox-secret-for-the-cluster-0123';
const CHANGES = 60;
const skip = (await redisUnavailable()) || (await postgresUnavailable()) || false;

/**
 * The commerce modules on three real nodes sharing Redis (channels) and one PostgreSQL schema
 * (data, outbox): a change made through any node reaches every subscriber on any node, once and
 * in order, and the outbox publishes each event once in total although every node dispatches.
 */
void describe('carts and orders across three nodes (Redis + PostgreSQL)', { skip }, () => {
  const schema = `t_${randomBytes(6).toString('hex')}`;
  let cluster: Cluster;
  let dataDir: string;
  const open: WsTestClient[] = [];

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'switchboard-mn-commerce-'));
    // Seeded once, before the nodes start: the demo seed only runs on an empty database and takes
    // no lock, so three nodes must not race to it.
    const seeded = await run(['seed'], { SWITCHBOARD_DATA: dataDir, DATABASE_URL: PG_URL, SWITCHBOARD_DATABASE_SCHEMA: schema, SWITCHBOARD_ENV: 'test' }, 60_000);
    assert.equal(seeded.code, 0, seeded.stderr);
    cluster = await Cluster.start(['a', 'b', 'c'], {
      env: { DATABASE_URL: PG_URL, SWITCHBOARD_DATABASE_SCHEMA: schema, SWITCHBOARD_DEMO_DATA: 'false', SWITCHBOARD_SANDBOX_PAYMENTS: 'true', SWITCHBOARD_SANDBOX_SECRET: SANDBOX_SECRET },
    });
  });
  after(async () => {
    await WsTestClient.closeAll();
    await cluster?.stop();
    await dropSchema(schema);
    await rm(dataDir, { recursive: true, force: true });
  });

  async function api<T>(node: NodeProcess, method: string, path: string, token: string | null, body?: unknown): Promise<{ status: number; body: T }> {
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(node.url + path, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}), signal: AbortSignal.timeout(30_000) });
    return { status: res.status, body: (await res.json()) as T };
  }

  async function login(node: NodeProcess, role: string): Promise<{ token: string; id: string; tenant: string }> {
    const res = await api<{ token: string; user: { id: string; tenant: { id: string } } }>(node, 'POST', '/api/auth/login', null, { email: `${role}@demo.test`, password: `${role}-demo` });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return { token: res.body.token, id: res.body.user.id, tenant: res.body.user.tenant.id };
  }

  async function tab(node: NodeProcess, token: string, channel: string): Promise<WsTestClient> {
    const client = await WsTestClient.open(`${node.wsUrl}?token=${encodeURIComponent(token)}`);
    open.push(client);
    await client.expectOp('welcome');
    await client.ok<SubscribeResult>({ op: 'subscribe', channel });
    return client;
  }

  /** Sum of switchboard_outbox_sent over the nodes: how many events they published in total. */
  async function sentByAll(): Promise<number> {
    let total = 0;
    for (const node of cluster.nodes) {
      const text = await (await fetch(`${node.url}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
      total += Number(/^switchboard_outbox_sent (\d+)/m.exec(text)?.[1] ?? 'NaN');
    }
    return total;
  }

  async function outboxRows(): Promise<{ total: number; unsent: number }> {
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    try {
      const { rows } = await client.query<{ total: string; unsent: string }>(`select count(*) as total, count(*) filter (where sent_at is null) as unsent from ${schema}.outbox`);
      return { total: Number(rows[0]!.total), unsent: Number(rows[0]!.unsent) };
    } finally {
      await client.end();
    }
  }

  void test(`${CHANGES} cart changes made through all three nodes reach a tab on node c once each, in order`, async () => {
    const [a, b, c] = [cluster.node('a'), cluster.node('b'), cluster.node('c')];
    const customer = await login(a, 'customer');
    const products = await api<{ items: { id: string; sku: string }[] }>(a, 'GET', '/api/products?limit=100', customer.token);
    const coffee = products.body.items.find((p) => p.sku === 'COF-250')!;
    const start = (await api<{ version: number }>(b, 'GET', '/api/cart', customer.token)).body.version;
    const onC = await tab(c, customer.token, `cart:${customer.id}`);
    // Three writers at once, one per node: the row lock orders them, the outbox keeps that order.
    await Promise.all(
      [a, b, c].map(async (node) => {
        for (let i = 0; i < CHANGES / 3; i++) {
          const res = await api(node, 'POST', '/api/cart/items', customer.token, { productId: coffee.id, quantity: 1 });
          assert.equal(res.status, 201, JSON.stringify(res.body));
        }
      }),
    );
    const updates = (await collectMessages(onC, `cart:${customer.id}`, CHANGES * 2, 30_000)).filter((m: MessageFrame) => m.event === 'cart_update');
    const versions = updates.map((m) => (m.data as { version: number }).version);
    assert.deepEqual(versions, Array.from({ length: CHANGES }, (_, i) => start + i + 1), 'every version once, in order');
    assert.equal((updates.at(-1)!.data as { items: { quantity: number }[] }).items[0]!.quantity, CHANGES);
    await onC.expectNoMessages(300, `cart:${customer.id}`);
  });

  void test('a checkout on one node and order changes on another reach the customer, the worker and the admin on the others', async () => {
    const [a, b, c] = [cluster.node('a'), cluster.node('b'), cluster.node('c')];
    const customer = await login(a, 'customer');
    const admin = await login(b, 'admin');
    const worker = await login(c, 'worker');
    const manager = await login(a, 'manager');
    const notices = await tab(a, customer.token, `user:${customer.id}`);
    const alerts = await tab(b, admin.token, `alerts:${admin.tenant}`);
    const staff = await tab(b, admin.token, `staff-orders:${admin.tenant}`);
    const assigned = await tab(c, worker.token, `worker-orders:${worker.id}`);

    const created = await api<{ payment: { id: string } }>(b, 'POST', '/api/payments/create-from-cart', customer.token, {});
    assert.ok(created.status === 201 || created.status === 200, JSON.stringify(created.body));
    const paid = await api<{ order: { id: string } }>(c, 'POST', `/api/payments/${created.body.payment.id}/sandbox`, customer.token, {});
    assert.equal(paid.status, 200, JSON.stringify(paid.body));
    const orderId = paid.body.order.id;

    // payment_pending (checkout started) comes first, then payment_confirmed.
    const events = await collectMessages(notices, `user:${customer.id}`, 2, 15_000);
    assert.deepEqual(events.map((m) => m.event), ['payment_pending', 'payment_confirmed']);
    const [alert] = await collectMessages(alerts, `alerts:${admin.tenant}`, 1, 15_000);
    assert.equal(alert!.event, 'order_paid');
    assert.equal((alert!.data as { order: { id: string } }).order.id, orderId);

    // The manager on node a assigns the worker; the worker on c and the admin on b see it.
    const assign = await api(a, 'PATCH', `/api/orders/${orderId}`, manager.token, { workerId: worker.id });
    assert.equal(assign.status, 200, JSON.stringify(assign.body));
    const forWorker = await assigned.nextMatching((f) => f.op === 'message' && f.event === 'order_updated', 15_000, 'order_updated on worker-orders');
    assert.equal(((forWorker as MessageFrame).data as { order: { status: string } }).order.status, 'assigned');
    const forStaff = await staff.nextMatching((f) => f.op === 'message' && f.event === 'order_updated' && (f.data as { order: { id: string } }).order.id === orderId, 15_000, 'order_updated on staff-orders');
    assert.equal(((forStaff as MessageFrame).data as { order: { worker: { id: string } } }).order.worker.id, worker.id);
  });

  void test('with every node dispatching, the outbox published each event exactly once in total', async () => {
    // Bounded wait for the last events to leave.
    const deadline = Date.now() + 15_000;
    let rows = await outboxRows();
    while (rows.unsent > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      rows = await outboxRows();
    }
    assert.equal(rows.unsent, 0, 'nothing left unsent');
    // Events written by the seed (before the nodes started) plus everything since: each counted
    // once across the three nodes' dispatchers, none twice.
    assert.equal(await sentByAll(), rows.total, `events published by all nodes together = outbox rows (${rows.total})`);
  });
});
