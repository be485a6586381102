import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { forEachEngine, type ApiAnswer, type TestApp } from '../helpers/app.js';
import { allOrders, buy, expectError, expectStatus, product, suiteNode, whoAmI, type OrderView } from '../outbox/support.js';

function patch(t: TestApp, token: string, id: string, body: Record<string, unknown>): Promise<ApiAnswer<OrderView>> {
  return t.request<OrderView>('PATCH', `/api/orders/${id}`, { token, body });
}

interface Staff {
  token: string;
  id: string;
}

forEachEngine('orders REST', (engine) => {
  const t = suiteNode(engine);
  let filters: string;
  let tenantId: string;
  let worker: Staff;
  let manager: Staff;
  let admin: Staff;
  before(async () => {
    const [w, m, a] = await Promise.all([t.loginAs('worker'), t.loginAs('manager'), t.loginAs('admin')]);
    worker = { token: w, id: (await whoAmI(t, w)).id };
    manager = { token: m, id: (await whoAmI(t, m)).id };
    admin = { token: a, id: (await whoAmI(t, a)).id };
    tenantId = (await whoAmI(t, m)).tenantId;
    filters = (await product(t, m, 'FLT-100')).id;
  });

  /** A fresh customer with one paid order. */
  async function paidOrder(quantity = 1): Promise<{ token: string; id: string; order: OrderView }> {
    const customer = await t.newCustomer();
    return { ...customer, order: await buy(t, customer.token, [{ productId: filters, quantity }]) };
  }

  void test('a customer lists only their own orders; a worker only those assigned to them', async () => {
    const c1 = await t.newCustomer('First');
    const a1 = await buy(t, c1.token, [{ productId: filters, quantity: 1 }]);
    const a2 = await buy(t, c1.token, [{ productId: filters, quantity: 2 }]);
    const c2 = await paidOrder();

    const own = await allOrders(t, c1.token);
    assert.deepEqual(own.map((o) => o.id).sort(), [a1.id, a2.id].sort());
    assert.deepEqual(
      (await allOrders(t, c2.token)).map((o) => o.id),
      [c2.order.id],
    );
    const demoCustomer = await allOrders(t, await t.loginAs('customer'));
    assert.ok(demoCustomer.length >= 3, 'the demo customer has the demo orders');
    assert.ok(!demoCustomer.some((o) => o.id === a1.id || o.id === c2.order.id), 'and none of the others');

    const before = await allOrders(t, worker.token);
    assert.ok(before.length >= 2, 'the demo worker has the demo orders assigned to them');
    for (const o of before) assert.equal(o.worker?.id, worker.id, `order ${o.id} is the worker's`);
    assert.ok(!before.some((o) => o.id === a1.id), 'an unassigned order is not listed');
    expectStatus(await patch(t, manager.token, a1.id, { workerId: worker.id }), 200, 'assign');
    const after = await allOrders(t, worker.token);
    assert.deepEqual(
      after.map((o) => o.id).filter((id) => id === a1.id),
      [a1.id],
      'once assigned, it is listed',
    );
  });

  void test('managers and admins list every order of the tenant; pages walk them all once, newest first', async () => {
    await paidOrder();
    await paidOrder();
    const inTenant = await t.app.database.db.selectFrom('orders').select('id').where('tenant_id', '=', tenantId).execute();
    const expected = inTenant.map((r) => r.id).sort();
    assert.ok(expected.length >= 5);
    for (const staff of [manager, admin]) {
      assert.deepEqual((await allOrders(t, staff.token)).map((o) => o.id).sort(), expected);
    }
    const paged = await allOrders(t, manager.token, 2);
    const ids = paged.map((o) => o.id);
    assert.equal(new Set(ids).size, ids.length, `no order twice across pages: ${ids.join(', ')}`);
    assert.deepEqual([...ids].sort(), expected, 'every order, walking limit=2 pages');
    for (let i = 1; i < paged.length; i++) assert.ok(paged[i - 1]!.createdAt >= paged[i]!.createdAt, 'newest first');

    const first = expectStatus(await t.request('GET', '/api/orders?limit=2', { token: manager.token }), 200);
    assert.equal(first.items.length, 2);
    assert.equal(typeof first.nextCursor, 'string');
  });

  void test('an order someone may not see answers 404 not_found, as a missing one does', async () => {
    const mine = await paidOrder();
    const stranger = await t.newCustomer('Stranger');
    expectStatus(await t.request('GET', `/api/orders/${mine.order.id}`, { token: mine.token }), 200);
    expectError(await t.request('GET', `/api/orders/${mine.order.id}`, { token: stranger.token }), 404, 'not_found');
    expectError(await t.request('GET', `/api/orders/${mine.order.id}/history`, { token: stranger.token }), 404, 'not_found');
    expectError(await t.request('GET', '/api/orders/ord_doesnotexist', { token: stranger.token }), 404, 'not_found');
    expectError(await t.request('GET', `/api/orders/${mine.order.id}`, { token: worker.token }), 404, 'not_found');
    expectStatus(await t.request('GET', `/api/orders/${mine.order.id}`, { token: manager.token }), 200);
    expectError(await patch(t, stranger.token, mine.order.id, { status: 'cancelled' }), 404, 'not_found');
  });

  void test("an order's next lists the moves its viewer may make; nextByRole lists every role's", async () => {
    const mine = await paidOrder();
    const asCustomer = expectStatus(await t.request('GET', `/api/orders/${mine.order.id}`, { token: mine.token }), 200, 'customer reads');
    assert.deepEqual(asCustomer.next, ['cancelled'], 'a customer may only cancel a paid order');
    const asManager = expectStatus(await t.request('GET', `/api/orders/${mine.order.id}`, { token: manager.token }), 200, 'manager reads');
    assert.deepEqual(asManager.next, ['assigned', 'cancelled']);
    assert.deepEqual(asManager.nextByRole, { customer: ['cancelled'], worker: [], manager: ['assigned', 'cancelled'], admin: ['assigned', 'cancelled'] });
    expectStatus(await patch(t, manager.token, mine.order.id, { workerId: worker.id }), 200, 'assign');
    const started = expectStatus(await patch(t, worker.token, mine.order.id, { status: 'in_progress' }), 200, 'start');
    assert.deepEqual(started.next, ['completed'], 'the worker finishes; cancelling is the shop\'s');
    const listed = expectStatus(await t.request('GET', '/api/orders?limit=100', { token: mine.token }), 200, 'customer lists');
    assert.deepEqual(listed.items.find((o: OrderView) => o.id === mine.order.id)?.next, [], 'being worked on: the customer can no longer cancel it');
  });

  void test('the lifecycle: paid → assigned (manager) → in_progress → progress 50 → completed (worker), with the history of each change', async () => {
    const { order } = await paidOrder();
    assert.equal(order.status, 'paid');
    assert.deepEqual(order.next, ['assigned', 'cancelled']);

    const assigned = expectStatus(await patch(t, manager.token, order.id, { workerId: worker.id }), 200, 'assign');
    assert.equal(assigned.status, 'assigned', 'giving a paid order a worker assigns it');
    assert.equal(assigned.worker?.id, worker.id);
    assert.equal(assigned.version, order.version + 1);

    const started = expectStatus(await patch(t, worker.token, order.id, { status: 'in_progress' }), 200, 'start');
    assert.equal(started.status, 'in_progress');
    assert.equal(started.progress, 0);
    const half = expectStatus(await patch(t, worker.token, order.id, { progress: 50 }), 200, 'progress');
    assert.equal(half.progress, 50);
    assert.equal(half.status, 'in_progress');
    const done = expectStatus(await patch(t, worker.token, order.id, { status: 'completed' }), 200, 'complete');
    assert.equal(done.status, 'completed');
    assert.equal(done.progress, 100, 'completing sets progress to 100');
    assert.deepEqual(done.next, []);
    assert.deepEqual(
      [assigned, started, half, done].map((o) => o.version),
      [order.version + 1, order.version + 2, order.version + 3, order.version + 4],
    );
    assert.deepEqual(expectStatus(await t.request('GET', `/api/orders/${order.id}`, { token: manager.token }), 200), done);

    const { items } = expectStatus(await t.request('GET', `/api/orders/${order.id}/history`, { token: manager.token }), 200, 'history');
    assert.deepEqual(
      items.map((e: { actorId: string | null; changes: unknown }) => ({ actorId: e.actorId, changes: e.changes })),
      [
        { actorId: null, changes: { status: [null, 'paid'] } },
        { actorId: manager.id, changes: { status: ['paid', 'assigned'], workerId: [null, worker.id] } },
        { actorId: worker.id, changes: { status: ['assigned', 'in_progress'] } },
        { actorId: worker.id, changes: { progress: [0, 50] } },
        { actorId: worker.id, changes: { status: ['in_progress', 'completed'], progress: [50, 100] } },
      ],
    );
    for (const e of items) assert.equal(typeof e.at, 'string');
    // The worker and the customer read the same history.
    expectStatus(await t.request('GET', `/api/orders/${order.id}/history`, { token: worker.token }), 200);
  });

  void test('a move the lifecycle does not allow answers 409 invalid_transition with details.allowed', async () => {
    const { order } = await paidOrder();
    const skip = expectError(await patch(t, manager.token, order.id, { status: 'completed' }), 409, 'invalid_transition');
    assert.deepEqual(skip.details.allowed, ['assigned', 'cancelled']);
    assert.equal(skip.details.from, 'paid');
    assert.equal(skip.details.to, 'completed');

    expectStatus(await patch(t, manager.token, order.id, { workerId: worker.id }), 200);
    expectStatus(await patch(t, worker.token, order.id, { status: 'in_progress' }), 200);
    expectStatus(await patch(t, worker.token, order.id, { status: 'completed' }), 200);
    const back = expectError(await patch(t, manager.token, order.id, { status: 'in_progress' }), 409, 'invalid_transition');
    assert.deepEqual(back.details.allowed, []);
    assert.equal(back.details.from, 'completed');
    const unchanged = expectStatus(await t.request('GET', `/api/orders/${order.id}`, { token: manager.token }), 200);
    assert.equal(unchanged.status, 'completed', 'a refused change leaves the order as it was');
  });

  void test('a customer may cancel their own paid order but not change its price', async () => {
    const mine = await paidOrder();
    const price = expectError(await patch(t, mine.token, mine.order.id, { priceMinor: 1 }), 403, 'forbidden');
    assert.match(price.message, /only cancel/);
    expectError(await patch(t, mine.token, mine.order.id, { status: 'cancelled', priceMinor: 1 }), 403, 'forbidden');
    const cancelled = expectStatus(await patch(t, mine.token, mine.order.id, { status: 'cancelled' }), 200, 'cancel');
    assert.equal(cancelled.status, 'cancelled');
    assert.equal(cancelled.priceMinor, mine.order.priceMinor);
  });

  void test('a customer may not cancel once the work started', async () => {
    const mine = await paidOrder();
    expectStatus(await patch(t, manager.token, mine.order.id, { workerId: worker.id }), 200);
    expectError(await patch(t, mine.token, mine.order.id, { status: 'cancelled' }), 403, 'forbidden');
  });

  void test('a worker may not change the price (403) nor touch an order not assigned to them (404)', async () => {
    const assigned = await paidOrder();
    expectStatus(await patch(t, manager.token, assigned.order.id, { workerId: worker.id }), 200);
    expectError(await patch(t, worker.token, assigned.order.id, { priceMinor: 1 }), 403, 'forbidden');
    expectError(await patch(t, worker.token, assigned.order.id, { workerId: null }), 403, 'forbidden');
    expectError(await patch(t, worker.token, assigned.order.id, { status: 'cancelled' }), 403, 'forbidden');

    const other = await paidOrder();
    expectError(await patch(t, worker.token, other.order.id, { status: 'in_progress' }), 404, 'not_found');
    expectError(await t.request('GET', `/api/orders/${other.order.id}`, { token: worker.token }), 404, 'not_found');
    const untouched = expectStatus(await t.request('GET', `/api/orders/${other.order.id}`, { token: manager.token }), 200);
    assert.equal(untouched.version, other.order.version);
    assert.equal(untouched.status, 'paid');
  });

  void test('a manager changes the price; the history has it before and after', async () => {
    const { order } = await paidOrder(2);
    const repriced = expectStatus(await patch(t, manager.token, order.id, { priceMinor: 777 }), 200, 'reprice');
    assert.equal(repriced.priceMinor, 777);
    assert.equal(repriced.status, 'paid');
    const { items } = expectStatus(await t.request('GET', `/api/orders/${order.id}/history`, { token: admin.token }), 200);
    assert.deepEqual(items.at(-1).changes, { priceMinor: [order.priceMinor, 777] });
    assert.equal(items.at(-1).actorId, manager.id);
    expectError(await patch(t, manager.token, order.id, { priceMinor: 777 }), 409, 'no_change');
  });

  void test('version is a compare-and-set: a stale version answers 409 version_conflict and changes nothing', async () => {
    const { order } = await paidOrder();
    const repriced = expectStatus(await patch(t, manager.token, order.id, { priceMinor: 500, version: order.version }), 200, 'CAS at the current version');
    assert.equal(repriced.version, order.version + 1);
    const stale = expectError(await patch(t, manager.token, order.id, { priceMinor: 600, version: order.version }), 409, 'version_conflict');
    assert.equal(stale.details.currentVersion, order.version + 1);
    const now = expectStatus(await t.request('GET', `/api/orders/${order.id}`, { token: manager.token }), 200);
    assert.equal(now.priceMinor, 500);
    assert.equal(now.version, order.version + 1, 'the refused change did not bump the version');
  });
});
