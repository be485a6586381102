import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { SANDBOX_SIGNATURE_HEADER } from '../../src/modules/payments/sandbox.js';
import { forEachEngine, type ApiAnswer, type TestApp, paymentsOf } from '../helpers/app.js';
import {
  addToCart,
  allOrders,
  approve,
  connect,
  createFromCart,
  expectError,
  expectStatus,
  nextEvent,
  product,
  stockOf,
  subscribe,
  suiteNode,
  whoAmI,
  type Checkout,
  type OrderView,
  type PaymentView,
  type Product,
} from '../outbox/support.js';

type Settled = { payment: PaymentView; order: OrderView | null };

/** The sandbox's signing secret: generated into the node's data folder on first start (config
 * leaves it null in tests), on both engines. */
async function sandboxSecret(t: TestApp): Promise<string> {
  return (await readFile(join(t.dataDir, 'sandbox-secret'), 'utf8')).trim();
}

/** POSTs a raw body to the callback route, as a provider would: the signature covers these bytes. */
async function postCallback(t: TestApp, body: string, signature: string | null): Promise<ApiAnswer<Settled>> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (signature !== null) headers[SANDBOX_SIGNATURE_HEADER] = signature;
  const res = await fetch(`${t.url}/api/payments/callback/sandbox`, { method: 'POST', headers, body, signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as Settled, headers: Object.fromEntries(res.headers.entries()) };
}

async function signedCallback(t: TestApp, paymentId: string, status: 'succeeded' | 'failed'): Promise<{ body: string; signature: string }> {
  const ref = await paymentsOf(t.app).providerRef(paymentId);
  const body = JSON.stringify({ ref, status });
  return { body, signature: createHmac('sha256', await sandboxSecret(t)).update(body).digest('hex') };
}

async function getPayment(t: TestApp, token: string, id: string): Promise<PaymentView> {
  return expectStatus(await t.request<PaymentView>('GET', `/api/payments/${id}`, { token }), 200, 'GET /api/payments/:id');
}

forEachEngine('checkout', (engine) => {
  const t = suiteNode(engine);
  let mug: Product;
  let coffee: Product;
  let grinder: Product;
  before(async () => {
    const token = await t.loginAs('customer');
    [mug, coffee, grinder] = await Promise.all([product(t, token, 'MUG-01'), product(t, token, 'COF-250'), product(t, token, 'GRN-1K')]);
  });

  void test('an empty cart answers 422 cart_empty with a message that says so', async () => {
    const { token } = await t.newCustomer();
    const err = expectError(await createFromCart(t, token), 422, 'cart_empty');
    assert.match(err.message, /cart is empty/);
    assert.equal(err.details.field, 'cart');
  });

  void test('checkout makes a pending payment with a snapshot of the cart; the same cart again gives the same payment (200)', async () => {
    const { token } = await t.newCustomer();
    await addToCart(t, token, mug.id, 2);
    await addToCart(t, token, coffee.id, 1);
    const first = expectStatus(await createFromCart(t, token), 201, 'first checkout');
    const { payment, next } = first;
    assert.equal(payment.status, 'pending');
    assert.equal(payment.provider, 'sandbox');
    assert.equal(payment.orderId, null);
    assert.equal(payment.failureReason, null);
    assert.equal(payment.snapshot.totalMinor, 2 * 900 + 1250);
    assert.ok(Number.isInteger(payment.snapshot.totalMinor), 'money is integer minor units');
    assert.equal(payment.amountMinor, payment.snapshot.totalMinor);
    assert.equal(payment.currency, 'USD');
    assert.deepEqual(payment.snapshot.lines, [
      { productId: mug.id, variantId: null, name: 'Enamel mug', unitPriceMinor: 900, quantity: 2, lineTotalMinor: 1800 },
      { productId: coffee.id, variantId: null, name: 'House coffee beans 250 g', unitPriceMinor: 1250, quantity: 1, lineTotalMinor: 1250 },
    ]);
    assert.equal(next.type, 'sandbox_approval');

    const second = expectStatus(await createFromCart(t, token), 200, 'second checkout of the same cart');
    assert.equal(second.payment.id, payment.id, 'the same cart version gives the same payment');
    assert.equal(second.payment.status, 'pending');
    assert.deepEqual(second.next, next);
    assert.deepEqual(await getPayment(t, token, payment.id), second.payment);
  });

  void test('a checkout retried with the same Idempotency-Key replays the first answer, {payment, next}, with its status', async () => {
    const { token } = await t.newCustomer();
    await addToCart(t, token, mug.id, 1);
    const checkout = (key: string) => t.request<Checkout>('POST', '/api/payments/create-from-cart', { token, body: {}, headers: { 'idempotency-key': key } });
    const first = await checkout('checkout-1');
    expectStatus(first, 201, 'first checkout');
    const retry = await checkout('checkout-1');
    assert.equal(retry.headers['idempotent-replayed'], 'true');
    assert.equal(retry.status, 201);
    assert.deepEqual(retry.body, first.body, 'the replay is the answer the client got (not the stored row)');

    // Another key for the same cart finds the payment: 200, and its retry replays 200.
    const found = await checkout('checkout-2');
    expectStatus(found, 200, 'checkout of a cart that has its payment');
    assert.equal(found.body.payment.id, first.body.payment.id);
    const foundAgain = await checkout('checkout-2');
    assert.equal(foundAgain.headers['idempotent-replayed'], 'true');
    assert.equal(foundAgain.status, 200);
    assert.deepEqual(foundAgain.body, found.body);
  });

  void test('approval confirms the payment, makes one paid order, empties the cart and takes the stock; repeats change nothing', async () => {
    const customer = await t.newCustomer();
    const { token } = customer;
    const mugStock = await stockOf(t, token, mug.id);
    const coffeeStock = await stockOf(t, token, coffee.id);
    await addToCart(t, token, mug.id, 3);
    await addToCart(t, token, coffee.id, 2);
    const { payment } = expectStatus(await createFromCart(t, token), 201);
    assert.equal((await allOrders(t, token)).length, 0, 'no order before the payment is confirmed');

    const settled = expectStatus(await approve(t, token, payment.id), 200, 'sandbox approval');
    assert.equal(settled.payment.status, 'confirmed');
    const order = settled.order;
    assert.ok(order, 'the approval answers the order');
    assert.equal(settled.payment.orderId, order.id);
    assert.equal(order.status, 'paid');
    assert.equal(order.paymentId, payment.id);
    assert.equal(order.customer.id, customer.id);
    assert.equal(order.priceMinor, payment.snapshot.totalMinor);
    assert.equal(order.priceMinor, 3 * 900 + 2 * 1250);
    assert.equal(order.currency, 'USD');
    assert.equal(order.worker, null);
    assert.deepEqual(order.lines, payment.snapshot.lines, 'the order holds what was paid for, in the same order');

    const cart = expectStatus(await t.request('GET', '/api/cart', { token }), 200);
    assert.deepEqual(cart.items, [], 'what was paid for left the cart');
    assert.equal(cart.totalMinor, 0);
    assert.equal(await stockOf(t, token, mug.id), mugStock - 3);
    assert.equal(await stockOf(t, token, coffee.id), coffeeStock - 2);
    assert.deepEqual((await getPayment(t, token, payment.id)).orderId, order.id);

    // A customer double-clicking "approve", and the provider retrying its callback: same answer, no new order.
    const again = expectStatus(await approve(t, token, payment.id), 200, 'second approval');
    assert.equal(again.payment.status, 'confirmed');
    assert.equal(again.payment.orderId, order.id);
    const { body, signature } = await signedCallback(t, payment.id, 'succeeded');
    const retried = expectStatus(await postCallback(t, body, signature), 200, 'provider retry');
    assert.equal(retried.payment.status, 'confirmed');
    assert.equal(retried.payment.orderId, order.id);

    const orders = await allOrders(t, token);
    assert.deepEqual(
      orders.map((o) => o.id),
      [order.id],
      'exactly one order for the customer',
    );
    assert.equal(await stockOf(t, token, mug.id), mugStock - 3, 'the stock was taken once');
  });

  void test('a callback without a valid signature answers 401 invalid_signature and changes nothing', async () => {
    const { token } = await t.newCustomer();
    await addToCart(t, token, mug.id, 1);
    const { payment } = expectStatus(await createFromCart(t, token), 201);
    const { body, signature } = await signedCallback(t, payment.id, 'succeeded');
    const forged = createHmac('sha256', 'not-the-sandbox-secret').update(body).digest('hex');
    expectError(await postCallback(t, body, forged), 401, 'invalid_signature');
    expectError(await postCallback(t, body, null), 401, 'invalid_signature');
    expectError(await postCallback(t, body, 'zz'), 401, 'invalid_signature');
    // A valid signature over other bytes (the body tampered with after signing).
    expectError(await postCallback(t, body.replace('succeeded', 'failed'), signature), 401, 'invalid_signature');
    assert.equal((await getPayment(t, token, payment.id)).status, 'pending');
    assert.equal((await allOrders(t, token)).length, 0);
  });

  void test('the same signed callback sent twice at once makes one order', async () => {
    const { token } = await t.newCustomer();
    await addToCart(t, token, coffee.id, 1);
    const { payment } = expectStatus(await createFromCart(t, token), 201);
    const { body, signature } = await signedCallback(t, payment.id, 'succeeded');
    const answers = await Promise.all([postCallback(t, body, signature), postCallback(t, body, signature)]);
    for (const res of answers) assert.equal(res.status, 200, JSON.stringify(res.body));
    // One made the order; the other found it made and answers the same order (a provider or a
    // client retrying after a lost answer learns the order either way).
    const orderId = answers[0]!.body.order?.id as string;
    assert.ok(orderId, JSON.stringify(answers[0]!.body));
    for (const res of answers) {
      assert.equal(res.body.order?.id, orderId);
      assert.equal(res.body.payment.orderId, orderId);
    }
    assert.deepEqual(
      (await allOrders(t, token)).map((o) => o.id),
      [orderId],
    );
  });

  void test('two tabs checking out the same cart at once, then both approving at once, make exactly one order', async () => {
    const { token } = await t.newCustomer();
    await addToCart(t, token, mug.id, 1);
    await addToCart(t, token, coffee.id, 1);
    const tabs = await Promise.all([createFromCart(t, token), createFromCart(t, token)]);
    assert.deepEqual(tabs.map((r) => r.status).sort(), [200, 201], `one checkout created the payment, the other found it: ${JSON.stringify(tabs.map((r) => r.body))}`);
    const id = tabs[0]!.body.payment.id;
    assert.equal(tabs[1]!.body.payment.id, id, 'both tabs pay the same payment');

    const approvals = await Promise.all([approve(t, token, id), approve(t, token, id)]);
    for (const res of approvals) {
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.payment.status, 'confirmed');
    }
    const orders = await allOrders(t, token);
    assert.equal(orders.length, 1, `one order: ${JSON.stringify(orders.map((o) => o.id))}`);
    assert.equal(orders[0]!.paymentId, id);
    // Both answer that one order, the approval that found it made too (it used to answer null).
    for (const res of approvals) assert.equal(res.body.order?.id, orders[0]!.id);
    // And a later repeat, after a lost answer, still does.
    const later = await approve(t, token, id);
    assert.equal(later.status, 200);
    assert.equal(later.body.order?.id, orders[0]!.id);
  });

  void test('a changed cart supersedes the older pending payment; approving that one later makes no order', async () => {
    const { token } = await t.newCustomer();
    await addToCart(t, token, mug.id, 1);
    const older = expectStatus(await createFromCart(t, token), 201).payment;
    await addToCart(t, token, coffee.id, 1);
    const newer = expectStatus(await createFromCart(t, token), 201, 'checkout of the changed cart').payment;
    assert.notEqual(newer.id, older.id);
    assert.equal(newer.snapshot.totalMinor, 900 + 1250);

    const superseded = await getPayment(t, token, older.id);
    assert.equal(superseded.status, 'failed');
    assert.equal(superseded.failureReason, 'superseded');

    const late = expectStatus(await approve(t, token, older.id), 200, 'approving the superseded payment');
    assert.equal(late.payment.status, 'failed');
    assert.equal(late.order, null);
    assert.equal((await allOrders(t, token)).length, 0, 'the superseded payment made no order');
    const asked = late.payment.refundRequestedAt;
    assert.ok(asked, 'money arrived for a failed payment: the admins are asked to refund it');
    // The provider calls back again (they all retry): no second refund request.
    const again = expectStatus(await approve(t, token, older.id), 200, 'the same callback again');
    assert.equal(again.payment.refundRequestedAt, asked);
    const alerts = await t.app.database.db.selectFrom('outbox').select('data').where('event', '=', 'refund_needed').execute();
    assert.equal(alerts.filter((a) => a.data.includes(older.id)).length, 1, 'one refund_needed alert for the payment');

    const paid = expectStatus(await approve(t, token, newer.id), 200);
    assert.equal(paid.order?.priceMinor, 900 + 1250, 'the current payment still goes through');
    assert.equal((await allOrders(t, token)).length, 1);
  });

  void test('a declined payment fails with no order and leaves the cart as it was', async () => {
    const { token } = await t.newCustomer();
    const stock = await stockOf(t, token, mug.id);
    await addToCart(t, token, mug.id, 2);
    const { payment } = expectStatus(await createFromCart(t, token), 201);
    const declined = expectStatus(await approve(t, token, payment.id, 'failed'), 200, 'declining');
    assert.equal(declined.payment.status, 'failed');
    assert.ok(declined.payment.failureReason, 'a failure reason');
    assert.equal(declined.order, null);
    assert.equal((await getPayment(t, token, payment.id)).status, 'failed');
    assert.equal((await allOrders(t, token)).length, 0);
    const cart = expectStatus(await t.request('GET', '/api/cart', { token }), 200);
    assert.equal(cart.items.length, 1, 'the cart keeps its items');
    assert.equal(await stockOf(t, token, mug.id), stock, 'no stock taken');
    // Approving after the decline changes nothing either.
    assert.equal(expectStatus(await approve(t, token, payment.id), 200).order, null);
    assert.equal((await allOrders(t, token)).length, 0);
  });

  void test('stock sold to someone else between checkout and confirmation fails the payment (out_of_stock) with no order', async () => {
    const a = await t.newCustomer('Slow buyer');
    const b = await t.newCustomer('Fast buyer');
    const stock = await stockOf(t, a.token, grinder.id);
    assert.ok(stock >= 1, `the grinder is in stock (${stock})`);
    await addToCart(t, a.token, grinder.id, 1);
    const slow = expectStatus(await createFromCart(t, a.token), 201).payment;
    // B buys every grinder left after A started paying.
    await addToCart(t, b.token, grinder.id, stock);
    const fast = expectStatus(await createFromCart(t, b.token), 201).payment;
    assert.ok(expectStatus(await approve(t, b.token, fast.id), 200).order, 'B got the grinders');
    assert.equal(await stockOf(t, a.token, grinder.id), 0);

    const late = expectStatus(await approve(t, a.token, slow.id), 200, 'approving after the stock ran out');
    assert.equal(late.payment.status, 'failed');
    assert.match(late.payment.failureReason ?? '', /^out_of_stock/);
    assert.equal(late.order, null);
    assert.equal((await getPayment(t, a.token, slow.id)).status, 'failed');
    assert.equal((await allOrders(t, a.token)).length, 0, 'no order for A');
    assert.equal(await stockOf(t, a.token, grinder.id), 0, 'the stock never goes below zero');
  });

  void test('over WebSocket: the customer hears payment_confirmed on user:<id>, the admin order_paid on alerts:<tenant>', async () => {
    const customer = await t.newCustomer();
    const adminToken = await t.loginAs('admin');
    const { tenantId } = await whoAmI(t, adminToken);
    const [own, admin] = await Promise.all([connect(t, customer.token), connect(t, adminToken)]);
    await subscribe(own, `user:${customer.id}`);
    await subscribe(admin, `alerts:${tenantId}`);

    // A customer may not listen to the shop's alerts.
    const refused = await own.request({ op: 'subscribe', channel: `alerts:${tenantId}` });
    assert.equal(refused.ok, false);
    assert.equal(!refused.ok && refused.error.code, 'forbidden');

    await addToCart(t, customer.token, mug.id, 1);
    const { payment } = expectStatus(await createFromCart(t, customer.token), 201);
    const pending = await nextEvent(own, `user:${customer.id}`, 'payment_pending');
    assert.equal((pending.data as { payment: PaymentView }).payment.id, payment.id);
    const order = expectStatus(await approve(t, customer.token, payment.id), 200).order!;

    const confirmed = (await nextEvent(own, `user:${customer.id}`, 'payment_confirmed')).data as Settled;
    assert.equal(confirmed.payment.id, payment.id);
    assert.equal(confirmed.payment.status, 'confirmed');
    assert.equal(confirmed.order?.id, order.id);
    const paid = await admin.nextMatching(
      (f) => f.op === 'message' && f.channel === `alerts:${tenantId}` && f.event === 'order_paid' && (f.data as Settled).order?.id === order.id,
      5000,
      `order_paid for ${order.id}`,
    );
    assert.equal(paid.op === 'message' && (paid.data as Settled).payment.id, payment.id);
    await Promise.all([own.disconnect(), admin.disconnect()]);
  });
});
