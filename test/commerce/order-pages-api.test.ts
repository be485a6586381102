import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { forEachEngine } from '../helpers/app.js';
import { buy, connect, expectError, expectStatus, nextEvent, product, subscribe, suiteNode, whoAmI, type OrderView } from '../outbox/support.js';

interface Actor {
  id: string;
  name: string;
  role: string;
}
interface HistoryEntry {
  id: number;
  actorId: string | null;
  actor: Actor | null;
  changes: Record<string, [unknown, unknown]>;
  at: string;
}

/** What the web app's order pages need beyond the lifecycle: who made each change, pushed with
 * it, and the workers staff can assign (managers may not list accounts). */
forEachEngine('orders API for the order pages', (engine) => {
  const t = suiteNode(engine);
  let managerToken: string;
  let worker: { token: string; id: string };
  let filters: string;
  before(async () => {
    managerToken = await t.loginAs('manager');
    const workerToken = await t.loginAs('worker');
    worker = { token: workerToken, id: (await whoAmI(t, workerToken)).id };
    filters = (await product(t, managerToken, 'FLT-100')).id;
  });

  void test('GET /api/orders/workers: the active workers of the tenant, for managers and admins only', async () => {
    const adminToken = await t.loginAs('admin');
    const listed = expectStatus(await t.request<{ items: { id: string; name: string }[] }>('GET', '/api/orders/workers', { token: managerToken }), 200, 'as manager');
    assert.deepEqual(listed.items, [{ id: worker.id, name: 'Wes Worker' }]);

    // A second worker appears; a disabled one does not, nor do other roles.
    const created = expectStatus(await t.request<{ user: { id: string } }>('POST', '/api/users', { token: adminToken, body: { email: 'ann.worker@demo.test', password: 'password-123', name: 'Ann Other', role: 'worker' } }), 201);
    const gone = expectStatus(await t.request<{ user: { id: string } }>('POST', '/api/users', { token: adminToken, body: { email: 'zed.worker@demo.test', password: 'password-123', name: 'Zed Gone', role: 'worker' } }), 201);
    expectStatus(await t.request('PATCH', `/api/users/${gone.user.id}`, { token: adminToken, body: { disabled: true } }), 200);
    const again = expectStatus(await t.request<{ items: { id: string; name: string }[] }>('GET', '/api/orders/workers', { token: adminToken }), 200, 'as admin');
    assert.deepEqual(again.items, [{ id: created.user.id, name: 'Ann Other' }, { id: worker.id, name: 'Wes Worker' }], 'by name, without the disabled worker');

    expectError(await t.request('GET', '/api/orders/workers', { token: worker.token }), 403, 'forbidden');
    expectError(await t.request('GET', '/api/orders/workers', { token: (await t.newCustomer()).token }), 403, 'forbidden');
  });

  void test('history entries name their actor; order_updated carries the entry it wrote, the same the history then lists', async () => {
    const customer = await t.newCustomer('Hana Buyer');
    const order = await buy(t, customer.token, [{ productId: filters, quantity: 1 }]);
    const client = await connect(t, customer.token);
    await subscribe(client, `order:${order.id}`);

    expectStatus(await t.request<OrderView>('PATCH', `/api/orders/${order.id}`, { token: managerToken, body: { workerId: worker.id } }), 200);
    const pushed = (await nextEvent(client, `order:${order.id}`, 'order_updated')).data as { order: OrderView; changes: Record<string, [unknown, unknown]>; entry: HistoryEntry };
    assert.deepEqual(pushed.changes, { status: ['paid', 'assigned'], workerId: [null, worker.id] });
    assert.deepEqual(pushed.entry.changes, pushed.changes);
    assert.deepEqual(pushed.entry.actor, { id: (await whoAmI(t, managerToken)).id, name: 'Mona Manager', role: 'manager' });

    const { items } = expectStatus(await t.request<{ items: HistoryEntry[] }>('GET', `/api/orders/${order.id}/history`, { token: customer.token }), 200);
    assert.equal(items.length, 2, 'created (by the payment), then assigned');
    // The order was created by the payment's confirmation: no account acted.
    assert.equal(items[0]!.actor, null);
    assert.equal(items[0]!.actorId, null);
    assert.deepEqual(items[1], pushed.entry);
  });
});
