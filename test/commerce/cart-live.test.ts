import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { CloseCodes, type MessageFrame, type ReplyFrame, type SubscribeResult } from '@switchboard/client/protocol';
import { forEachEngine } from '../helpers/app.js';
import { collectMessages, WsTestClient } from '../helpers/ws-client.js';
import { addItem, catalogue, outboxDrained, expectError, expectStatus, getCart, lineFor, suiteApp, type Catalogue, type CartLine, type CartView } from './support.js';

/** How long "nothing is published" is watched for. */
const QUIET_MS = 300;

interface ItemEvent {
  version: number;
  item: CartLine;
  added?: number;
}

function expectRefused(reply: ReplyFrame, code: string): void {
  assert.equal(reply.ok, false, `expected ${code}, got ${JSON.stringify(reply)}`);
  if (!reply.ok) assert.equal(reply.error.code, code, JSON.stringify(reply.error));
}

/** Checks the events and channel of pushed messages and that their offsets follow each other. */
function expectEvents(messages: MessageFrame[], events: string[], after: number): void {
  assert.deepEqual(
    messages.map((m) => m.event),
    events,
    `events in order: ${JSON.stringify(messages.map((m) => m.event))}`,
  );
  messages.forEach((m, i) => assert.equal(m.offset, after + i + 1, `offset of ${m.event}: no gap, no repeat`));
}

forEachEngine('cart live over WebSocket', (engine) => {
  const t = suiteApp(engine);
  let cat: Catalogue;
  before(async () => {
    cat = await catalogue(t, await t.loginAs('customer'));
  });

  /** A second "tab": a raw WebSocket with the user's token, subscribed to their cart. */
  async function openTab(token: string, channel: string): Promise<{ tab: WsTestClient; result: SubscribeResult }> {
    await outboxDrained(t);
    const tab = await WsTestClient.open(t.wsUrl, { token });
    await tab.expectOp('welcome');
    const result = await tab.ok<SubscribeResult>({ op: 'subscribe', channel });
    return { tab, result };
  }

  void test('a second tab gets the cart as its snapshot, then every REST change: added, updated, removed', async () => {
    const { id, token } = await t.newCustomer();
    const channel = `cart:${id}`;
    const mug = cat.product('MUG-01');
    const coffee = cat.product('COF-250');
    expectStatus(await addItem(t, token, { productId: mug.id, quantity: 1 }), 201, 'a line before the tab opens');

    const { tab, result } = await openTab(token, channel);
    assert.deepEqual(result.snapshot, await getCart(t, token), 'the snapshot is the current cart');
    let offset = result.offset;
    let version = (result.snapshot as CartView).version;

    // POST: cart_item_added, then cart_update with the cart as REST answered it.
    const added = expectStatus(await addItem(t, token, { productId: coffee.id, quantity: 2 }), 201);
    const onAdd = await collectMessages(tab, channel, 2);
    expectEvents(onAdd, ['cart_item_added', 'cart_update'], offset);
    const addedEvent = onAdd[0]!.data as ItemEvent;
    assert.equal(addedEvent.version, added.version);
    assert.equal(addedEvent.added, 2);
    assert.deepEqual(addedEvent.item, lineFor(added, coffee.id), 'the added event carries the line');
    assert.deepEqual(onAdd[1]!.data, added, 'cart_update is the REST answer');
    assert.ok(added.version > version, 'the version rose');
    offset += 2;
    version = added.version;

    // PATCH: cart_update only.
    const coffeeLine = lineFor(added, coffee.id)!;
    const patched = expectStatus(await t.request<CartView>('PATCH', `/api/cart/items/${coffeeLine.id}`, { token, body: { quantity: 5 } }), 200);
    const onPatch = await collectMessages(tab, channel, 1);
    expectEvents(onPatch, ['cart_update'], offset);
    assert.deepEqual(onPatch[0]!.data, patched, 'cart_update is the REST answer');
    assert.ok(patched.version > version, 'the version rose');
    offset += 1;
    version = patched.version;

    // DELETE: cart_item_removed, then cart_update.
    const deleted = expectStatus(await t.request<CartView>('DELETE', `/api/cart/items/${coffeeLine.id}`, { token }), 200);
    const onDelete = await collectMessages(tab, channel, 2);
    expectEvents(onDelete, ['cart_item_removed', 'cart_update'], offset);
    const removedEvent = onDelete[0]!.data as ItemEvent;
    assert.equal(removedEvent.version, deleted.version);
    assert.equal(removedEvent.item.id, coffeeLine.id, 'the removed event names the line');
    assert.equal(removedEvent.item.quantity, 5, 'as it was before removal');
    assert.deepEqual(onDelete[1]!.data, deleted, 'cart_update is the REST answer');
    assert.ok(deleted.version > version, 'the version rose');

    await tab.expectNoMessages(100, channel);
    await tab.disconnect();
  });

  void test('emptying the cart pushes cart_item_removed for each line, then cart_update', async () => {
    const { id, token } = await t.newCustomer();
    const channel = `cart:${id}`;
    expectStatus(await addItem(t, token, { productId: cat.product('MUG-01').id, quantity: 1 }), 201);
    const full = expectStatus(await addItem(t, token, { productId: cat.product('FLT-100').id, quantity: 2 }), 201);
    const { tab, result } = await openTab(token, channel);
    const emptied = expectStatus(await t.request<CartView>('DELETE', '/api/cart', { token }), 200);
    const messages = await collectMessages(tab, channel, 3);
    expectEvents(messages, ['cart_item_removed', 'cart_item_removed', 'cart_update'], result.offset);
    assert.deepEqual(
      messages.slice(0, 2).map((m) => (m.data as ItemEvent).item.id).sort(),
      full.items.map((i) => i.id).sort(),
      'one removal per line',
    );
    assert.deepEqual(messages[2]!.data, emptied);
    await tab.disconnect();
  });

  void test('two tabs of one user both follow the cart', async () => {
    const { id, token } = await t.newCustomer();
    const channel = `cart:${id}`;
    const a = await openTab(token, channel);
    const b = await openTab(token, channel);
    const added = expectStatus(await addItem(t, token, { productId: cat.product('MUG-01').id, quantity: 3 }), 201);
    for (const { tab } of [a, b]) {
      const messages = await collectMessages(tab, channel, 2);
      assert.deepEqual(messages[1]!.data, added);
      await tab.disconnect();
    }
  });

  void test('a change that is rolled back publishes nothing', async () => {
    const { id, token } = await t.newCustomer();
    const channel = `cart:${id}`;
    const grinder = cat.product('GRN-1K');
    const { tab, result } = await openTab(token, channel);

    expectError(await addItem(t, token, { productId: grinder.id, quantity: 6 }), 422, 'over_stock');
    expectError(await addItem(t, token, { productId: cat.product('TEE').id, quantity: 1 }), 422, 'variant_required');
    const ok = expectStatus(await addItem(t, token, { productId: grinder.id, quantity: 1 }), 201);
    const itemId = ok.items[0]!.id;
    await collectMessages(tab, channel, 2);
    expectError(await t.request('PATCH', `/api/cart/items/${itemId}`, { token, body: { quantity: 2, version: 0 } }), 409, 'version_conflict');
    expectError(await t.request('PATCH', `/api/cart/items/${itemId}`, { token, body: { quantity: 50 } }), 422, 'over_stock');
    await tab.expectNoMessages(QUIET_MS, channel);

    // The next real change follows directly: nothing was published in between.
    const next = expectStatus(await addItem(t, token, { productId: grinder.id, quantity: 1 }), 201);
    const messages = await collectMessages(tab, channel, 2);
    expectEvents(messages, ['cart_item_added', 'cart_update'], result.offset + 2);
    assert.deepEqual(messages[1]!.data, next);
    await tab.disconnect();
  });

  void test('a tab that resubscribes with since recovers the changes it missed', async () => {
    const { id, token } = await t.newCustomer();
    const channel = `cart:${id}`;
    const { tab, result } = await openTab(token, channel);
    await tab.disconnect();
    const a = expectStatus(await addItem(t, token, { productId: cat.product('MUG-01').id, quantity: 1 }), 201);
    const b = expectStatus(await addItem(t, token, { productId: cat.product('MUG-01').id, quantity: 1 }), 201);

    const again = await WsTestClient.open(t.wsUrl, { token });
    await again.expectOp('welcome');
    // The dispatcher publishes after commit: wait until both changes are out before resubscribing.
    const recovered = await waitForRecovery(again, channel, result, 4);
    assert.equal(recovered.recovered, true);
    assert.deepEqual(
      recovered.publications.map((p) => p.event),
      ['cart_item_added', 'cart_update', 'cart_item_added', 'cart_update'],
    );
    assert.deepEqual(recovered.publications[1]!.data, a);
    assert.deepEqual(recovered.publications[3]!.data, b);
    assert.deepEqual(recovered.snapshot, b, 'and the snapshot is the current cart');
    await again.disconnect();
  });

  void test('the /ws/cart/ and /ws/cart/user/ aliases subscribe the own cart, with its snapshot (native frames)', async () => {
    const { id, token } = await t.newCustomer();
    const channel = `cart:${id}`;
    const current = expectStatus(await addItem(t, token, { productId: cat.product('MUG-01').id, quantity: 2 }), 201);
    for (const path of ['/cart/', '/cart/user/', `/cart/${id}/`]) {
      const tab = await WsTestClient.open(`${t.wsUrl}${path}?frames=switchboard`, { token });
      const welcome = await tab.expectOp('welcome');
      assert.equal(welcome.user?.id, id);
      const subscribed = await tab.expectOp('subscribed');
      assert.equal(subscribed.channel, channel, `${path} subscribes the own cart`);
      assert.deepEqual(subscribed.snapshot, current, `${path}: the snapshot is the current cart`);
      await tab.assertAlive();
      await tab.disconnect();
    }

    const tab = await WsTestClient.open(`${t.wsUrl}/cart/?frames=switchboard`, { token });
    await tab.expectOp('welcome');
    const subscribed = await tab.expectOp('subscribed');
    const added = expectStatus(await addItem(t, token, { productId: cat.product('MUG-01').id, quantity: 1 }), 201);
    const messages = await collectMessages(tab, channel, 2);
    expectEvents(messages, ['cart_item_added', 'cart_update'], subscribed.offset);
    assert.deepEqual(messages[1]!.data, added);
    await tab.disconnect();
  });

  void test("/ws/cart/<someone else's id>/ is refused with 4501", async () => {
    const owner = await t.newCustomer('Owner');
    const other = await t.newCustomer('Other');
    const tab = await WsTestClient.open(`${t.wsUrl}/cart/${owner.id}/`, { token: other.token });
    const closed = await tab.closed();
    assert.equal(closed.code, CloseCodes.forbidden);
    assert.equal(closed.code, 4501);
    // The alias speaks Channels frames by default: a refused connection gets none at all.
    assert.deepEqual(tab.pending.map((r) => r.text), [], 'nothing of the cart was sent');
  });

  void test("subscribing to another user's cart is refused (forbidden) and nothing of it arrives", async () => {
    const owner = await t.newCustomer('Owner');
    const other = await t.newCustomer('Other');
    const channel = `cart:${owner.id}`;
    const tab = await WsTestClient.open(t.wsUrl, { token: other.token });
    await tab.expectOp('welcome');
    expectRefused(await tab.request({ op: 'subscribe', channel }), 'forbidden');
    expectRefused(await tab.request({ op: 'history', channel }), 'forbidden');
    await tab.assertAlive();
    expectStatus(await addItem(t, owner.token, { productId: cat.product('MUG-01').id, quantity: 1 }), 201);
    await tab.expectNoMessages(QUIET_MS);
    await tab.disconnect();
  });

  void test('clients may not publish to a cart channel, not even their own', async () => {
    const { id, token } = await t.newCustomer();
    const channel = `cart:${id}`;
    const { tab } = await openTab(token, channel);
    expectRefused(await tab.request({ op: 'publish', channel, event: 'cart_update', data: { totalMinor: 0 } }), 'forbidden');
    await tab.expectNoMessages(QUIET_MS, channel);
    await tab.disconnect();
  });
});

/** Subscribes with `since` until the recovery holds `count` publications (the outbox publishes
 * shortly after commit); bounded. */
async function waitForRecovery(client: WsTestClient, channel: string, since: SubscribeResult, count: number): Promise<SubscribeResult> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const result = await client.ok<SubscribeResult>({ op: 'subscribe', channel, since: { epoch: since.epoch, offset: since.offset } });
    if (result.publications.length >= count || Date.now() > deadline) return result;
    await client.ok({ op: 'unsubscribe', channel });
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
