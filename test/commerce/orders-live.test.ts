import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, test } from 'node:test';
import type { ServerFrame } from '@switchboard/client/protocol';
import { forEachEngine, type TestApp } from '../helpers/app.js';
import { WsTestClient } from '../helpers/ws-client.js';
import { buy, connect, expectStatus, nextEvent, product, subscribe, suiteNode, whoAmI, type MessageFrame, type OrderView } from '../outbox/support.js';

interface OrderEvent {
  order: OrderView;
  changes: Record<string, [unknown, unknown]>;
}

/** The next `count` order_updated messages about one order on a channel (dashboards carry other
 * orders too), in arrival order. Only versions above `after`: events are published after the REST
 * answer, so one of a change made before subscribing can still arrive after it. */
async function updatesOf(client: WsTestClient, channel: string, orderId: string, count: number, after = 0): Promise<OrderEvent[]> {
  const out: OrderEvent[] = [];
  const deadline = Date.now() + 10_000;
  while (out.length < count) {
    const frame = (await client.nextMatching(
      (f) => f.op === 'message' && f.channel === channel && f.event === 'order_updated' && (f.data as OrderEvent).order.id === orderId && (f.data as OrderEvent).order.version > after,
      Math.max(1, deadline - Date.now()),
      `order_updated ${out.length + 1}/${count} for ${orderId} on ${channel}`,
    )) as MessageFrame;
    out.push(frame.data as OrderEvent);
  }
  return out;
}

function patch(t: TestApp, token: string, id: string, body: Record<string, unknown>): Promise<OrderView> {
  return t.request<OrderView>('PATCH', `/api/orders/${id}`, { token, body }).then((res) => expectStatus(res, 200, `PATCH ${JSON.stringify(body)}`));
}

/** A WebSocket URL for a path alias of the node (e.g. /ws/orders/<id>/). */
function aliasUrl(t: TestApp, path: string): string {
  return t.wsUrl.replace(/\/ws$/, path);
}

forEachEngine('orders live', (engine) => {
  const t = suiteNode(engine);
  let filters: string;
  let tenantId: string;
  let managerToken: string;
  let adminToken: string;
  let worker: { token: string; id: string };
  before(async () => {
    [managerToken, adminToken] = await Promise.all([t.loginAs('manager'), t.loginAs('admin')]);
    const workerToken = await t.loginAs('worker');
    worker = { token: workerToken, id: (await whoAmI(t, workerToken)).id };
    tenantId = (await whoAmI(t, managerToken)).tenantId;
    filters = (await product(t, managerToken, 'FLT-100')).id;
  });

  async function paidOrder(): Promise<{ token: string; id: string; order: OrderView }> {
    const customer = await t.newCustomer();
    return { ...customer, order: await buy(t, customer.token, [{ productId: filters, quantity: 1 }]) };
  }

  void test('a REST change reaches the order channel, the customer, the worker and the staff dashboards, versions rising', async () => {
    const customer = await paidOrder();
    const { order } = customer;
    const [own, work, staff] = await Promise.all([connect(t, customer.token), connect(t, worker.token), connect(t, adminToken)]);
    const subscribed = await subscribe(own, `order:${order.id}`);
    assert.deepEqual(subscribed.snapshot, expectStatus(await t.request('GET', `/api/orders/${order.id}`, { token: customer.token }), 200), 'the snapshot is the order');
    await subscribe(own, `my-orders:${customer.id}`);
    await subscribe(work, `worker-orders:${worker.id}`);
    await subscribe(staff, `staff-orders:${tenantId}`);

    await patch(t, managerToken, order.id, { workerId: worker.id });
    await patch(t, worker.token, order.id, { status: 'in_progress' });
    await patch(t, worker.token, order.id, { progress: 50 });
    const done = await patch(t, worker.token, order.id, { status: 'completed' });

    const expected = {
      statuses: ['assigned', 'in_progress', 'in_progress', 'completed'],
      versions: [order.version + 1, order.version + 2, order.version + 3, order.version + 4],
    };
    for (const [client, channel] of [
      [own, `order:${order.id}`],
      [own, `my-orders:${customer.id}`],
      [work, `worker-orders:${worker.id}`],
      [staff, `staff-orders:${tenantId}`],
    ] as const) {
      const events = await updatesOf(client, channel, order.id, 4, order.version);
      assert.deepEqual(
        { statuses: events.map((e) => e.order.status), versions: events.map((e) => e.order.version) },
        expected,
        `order_updated on ${channel}`,
      );
      assert.deepEqual(events[2]!.changes, { progress: [0, 50] });
      assert.deepEqual(events[3]!.order, done, `the last event on ${channel} carries the order as REST answered it`);
    }
    await Promise.all([own.disconnect(), work.disconnect(), staff.disconnect()]);
  });

  void test('a stranger may not subscribe to order:<id> nor use its alias; the owner’s alias connection works', async () => {
    const owner = await paidOrder();
    const { order } = owner;
    const stranger = await t.newCustomer('Stranger');
    const snoop = await connect(t, stranger.token);
    const refused = await snoop.request({ op: 'subscribe', channel: `order:${order.id}` });
    assert.equal(refused.ok, false);
    assert.equal(!refused.ok && refused.error.code, 'forbidden');
    await snoop.disconnect();

    const alias = `/ws/orders/${order.id}/`;
    const strangerAlias = await WsTestClient.open(aliasUrl(t, alias), { token: stranger.token });
    const closed = await strangerAlias.closed(5000);
    assert.equal(closed.code, 4501, `the stranger's alias connection closes 4501 (${closed.reason})`);
    // The alias speaks Channels frames by default: a refused connection gets none at all.
    assert.deepEqual(strangerAlias.pending.map((r) => r.text), [], 'and was never sent anything');

    const ownerAlias = await WsTestClient.open(aliasUrl(t, `${alias}?frames=switchboard`), { token: owner.token });
    const frame = (await ownerAlias.nextMatching((f) => f.op === 'subscribed', 5000, 'the alias subscription')) as Extract<ServerFrame, { op: 'subscribed' }>;
    assert.equal(frame.channel, `order:${order.id}`);
    assert.equal((frame.snapshot as OrderView).id, order.id);
    await patch(t, managerToken, order.id, { workerId: worker.id });
    const update = (await nextEvent(ownerAlias, `order:${order.id}`, 'order_updated')).data as OrderEvent;
    assert.equal(update.order.status, 'assigned');
    await ownerAlias.disconnect();
  });

  void test('reassigning the worker tells the former worker’s dashboard too', async () => {
    const email = `w-${randomBytes(4).toString('hex')}@test.example`;
    const created = await t.request('POST', '/api/users', { token: adminToken, body: { email, password: 'password-123', name: 'Second Worker', role: 'worker' } });
    const second = { id: expectStatus(created, 201, 'create a worker').user.id as string, token: await t.login(email, 'password-123') };
    const { order } = await paidOrder();
    const assigned = await patch(t, managerToken, order.id, { workerId: worker.id });

    const [former, next] = await Promise.all([connect(t, worker.token), connect(t, second.token)]);
    await subscribe(former, `worker-orders:${worker.id}`);
    await subscribe(former, `order:${order.id}`);
    await subscribe(next, `worker-orders:${second.id}`);
    const reassigned = await patch(t, managerToken, order.id, { workerId: second.id });
    // The former worker was reading the order itself: that subscription ends with the change that
    // took them off (they get it, then unsubscribed), and later changes no longer reach them.
    const ended = await former.nextMatching((f) => f.op === 'unsubscribed' && f.channel === `order:${order.id}`, 5000, 'unsubscribed from the order');
    assert.equal((ended as { error: { code: string } }).error.code, 'forbidden');
    const priced = await patch(t, managerToken, order.id, { priceMinor: 777 });
    await updatesOf(next, `worker-orders:${second.id}`, order.id, 1, reassigned.version);
    assert.ok(
      !former.pending.some((r) => r.frame.op === 'message' && r.frame.channel === `order:${order.id}` && (r.frame.data as { order: { version: number } }).order.version >= priced.version),
      'no change after the one that took the worker off reaches them on order:<id>',
    );

    const [lost] = await updatesOf(former, `worker-orders:${worker.id}`, order.id, 1, assigned.version);
    assert.equal(lost!.order.version, reassigned.version);
    assert.equal(lost!.order.worker?.id, second.id, 'the former worker learns the order went to someone else');
    assert.deepEqual(lost!.changes.workerId, [worker.id, second.id]);
    const [gained] = await updatesOf(next, `worker-orders:${second.id}`, order.id, 1);
    assert.equal(gained!.order.worker?.id, second.id);
    assert.equal(gained!.order.version, reassigned.version);

    // And the former worker no longer sees the order.
    const res = await t.request('GET', `/api/orders/${order.id}`, { token: worker.token });
    assert.equal(res.status, 404);
    await Promise.all([former.disconnect(), next.disconnect()]);
  });
});
