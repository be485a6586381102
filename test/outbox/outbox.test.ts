import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, test } from 'node:test';
import { transact } from '../../src/core/domain/context.js';
import { forEachEngine, type TestApp } from '../helpers/app.js';
import { delay, type WsTestClient } from '../helpers/ws-client.js';
import { addToCart, collectEvents, connect, expectError, expectStatus, product, subscribe, suiteNode, waitUntil, type MessageFrame, type Product } from './support.js';

/** Outbox rows of a channel (sent or not). */
async function rowsOf(t: TestApp, channel: string): Promise<{ event: string; data: string; sent_at: string | null }[]> {
  return t.app.database.db.selectFrom('outbox').select(['event', 'data', 'sent_at']).where('channel', '=', channel).orderBy('id').execute();
}

/** The next message on a channel, whatever its event. */
async function nextMessage(client: WsTestClient, channel: string, timeoutMs = 5000): Promise<MessageFrame> {
  return (await client.nextMatching((f) => f.op === 'message' && f.channel === channel, timeoutMs, `a message on ${channel}`)) as MessageFrame;
}

forEachEngine('outbox', (engine) => {
  const t = suiteNode(engine);
  let coffee: Product;
  let grinder: Product;
  before(async () => {
    const token = await t.loginAs('manager');
    [coffee, grinder] = await Promise.all([product(t, token, 'COF-250'), product(t, token, 'GRN-1K')]);
  });

  void test('a cart change that fails publishes nothing: the next event a subscriber sees is the next committed change', async () => {
    const customer = await t.newCustomer();
    const channel = `cart:${customer.id}`;
    const client = await connect(t, customer.token);
    await subscribe(client, channel);
    const rowsBefore = (await rowsOf(t, channel)).length;
    // The cart's version was bumped and a line written before the stock check refused it: all rolled back.
    expectError(await t.request('POST', '/api/cart/items', { token: customer.token, body: { productId: grinder.id, quantity: grinder.stock + 1000 } }), 422, 'over_stock');
    assert.equal((await rowsOf(t, channel)).length, rowsBefore, 'no outbox row for the failed change');

    await addToCart(t, customer.token, coffee.id, 1);
    const first = await nextMessage(client, channel);
    assert.equal(first.event, 'cart_item_added', 'the first event is the committed change');
    assert.equal((first.data as { version: number }).version, 1, 'and it is version 1: the failed change took no version');
    await client.disconnect();
  });

  void test('transact: events emitted by work that throws are neither stored nor published', async () => {
    const customer = await t.newCustomer();
    const channel = `user:${customer.id}`;
    const client = await connect(t, customer.token);
    await subscribe(client, channel);

    await assert.rejects(
      transact(t.app.domain, async (u) => {
        u.emit({ channel, event: 'rolled_back', data: { n: 1 } });
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.deepEqual(await rowsOf(t, channel), [], 'no outbox row');

    // A committed emit on the same channel right after: it is the first (and only) thing to arrive,
    // so nothing of the rolled-back one was published before it.
    await transact(t.app.domain, async (u) => {
      u.emit({ channel, event: 'committed', data: { n: 2 } });
    });
    const first = await nextMessage(client, channel);
    assert.equal(first.event, 'committed');
    assert.deepEqual(first.data, { n: 2 });
    await client.expectNoMessages(200, channel);
    assert.deepEqual(
      (await rowsOf(t, channel)).map((r) => r.event),
      ['committed'],
    );
    await client.disconnect();
  });

  void test('events leave in commit order per channel: 100 concurrent cart changes reach a subscriber with versions 1..100', async () => {
    const customer = await t.newCustomer();
    const channel = `cart:${customer.id}`;
    const client = await connect(t, customer.token);
    await subscribe(client, channel);
    const answers = await Promise.all(Array.from({ length: 100 }, () => t.request('POST', '/api/cart/items', { token: customer.token, body: { productId: coffee.id, quantity: 1 } })));
    for (const res of answers) expectStatus(res, 201, 'concurrent add');
    assert.deepEqual(
      answers.map((r) => r.body.version as number).sort((a, b) => a - b),
      Array.from({ length: 100 }, (_, i) => i + 1),
      'each change got its own version',
    );

    const updates = await collectEvents(client, channel, 'cart_update', 100, 20_000);
    const versions = updates.map((m) => (m.data as { version: number }).version);
    assert.deepEqual(versions, Array.from({ length: 100 }, (_, i) => i + 1), 'cart_update versions arrive strictly increasing, none missing');
    const quantities = updates.map((m) => (m.data as { items: { quantity: number }[] }).items[0]?.quantity);
    assert.deepEqual(quantities, versions, 'each update shows the cart as of its version');
    const offsets = updates.map((m) => m.offset);
    for (let i = 1; i < offsets.length; i++) assert.ok(offsets[i]! > offsets[i - 1]!, 'offsets rise');
    const added = await collectEvents(client, channel, 'cart_item_added', 100, 5000);
    assert.deepEqual(
      added.map((m) => (m.data as { version: number }).version),
      versions,
      'cart_item_added in the same order',
    );
    // Nothing more: a repeat of any event would show up here.
    await delay(200);
    assert.deepEqual(
      client.pending.filter((r) => r.frame.op === 'message' && r.frame.channel === channel).map((r) => r.text),
      [],
    );
    await client.disconnect();
  });

  // The outbox re-sends an event after a crash between publish and "mark sent", relying on the
  // layer to drop a publication whose idempotency key (the event id) it has already seen.
  void test('a publication re-sent with the same event id is delivered once', async () => {
    const customer = await t.newCustomer();
    const channel = `user:${customer.id}`;
    const client = await connect(t, customer.token);
    await subscribe(client, channel);
    const eventId = `evt_${randomBytes(8).toString('hex')}`;
    const first = await t.app.sb.hub.publish(channel, 'once', { n: 1 }, { idempotencyKey: eventId });
    const again = await t.app.sb.hub.publish(channel, 'once', { n: 1 }, { idempotencyKey: eventId });
    assert.deepEqual(again, first, 'the repeat resolves with the first publication’s position');
    await t.app.sb.hub.publish(channel, 'marker', {});
    const seen: string[] = [];
    for (;;) {
      const m = await nextMessage(client, channel);
      if (m.event === 'marker') break;
      seen.push(m.event);
    }
    assert.deepEqual(seen, ['once']);
    await client.disconnect();
  });

  void test('the dispatcher marks what it published as sent; pending() goes to 0', async () => {
    const customer = await t.newCustomer();
    const channel = `cart:${customer.id}`;
    const sentBefore = t.app.dispatcher.sent;
    await addToCart(t, customer.token, coffee.id, 2);
    await waitUntil(async () => (await t.app.dispatcher.pending()) === 0, 10_000, 'pending() to reach 0');
    const rows = await rowsOf(t, channel);
    assert.deepEqual(
      rows.map((r) => r.event),
      ['cart_item_added', 'cart_update'],
    );
    for (const r of rows) assert.ok(r.sent_at, `${r.event} has sent_at`);
    assert.ok(t.app.dispatcher.sent >= sentBefore + 2, 'the dispatcher counted them');
  });

  void test('events committed while the dispatcher is stopped stay pending and go out, in order, once it starts', async () => {
    const customer = await t.newCustomer();
    const channel = `cart:${customer.id}`;
    const client = await connect(t, customer.token);
    await subscribe(client, channel);
    await t.app.dispatcher.stop();
    try {
      await addToCart(t, customer.token, coffee.id, 1);
      await addToCart(t, customer.token, coffee.id, 1);
      assert.equal((await rowsOf(t, channel)).filter((r) => r.sent_at === null).length, 4, 'committed, not sent');
      await client.expectNoMessages(300, channel);
    } finally {
      t.app.dispatcher.start();
    }
    const updates = await collectEvents(client, channel, 'cart_update', 2);
    assert.deepEqual(
      updates.map((m) => (m.data as { version: number }).version),
      [1, 2],
    );
    await waitUntil(async () => (await rowsOf(t, channel)).every((r) => r.sent_at !== null), 10_000, 'the rows to be marked sent');
    await client.disconnect();
  });

  void test('an event that can never be published (undeclared namespace) is skipped and does not hold back the ones after it', async () => {
    const customer = await t.newCustomer();
    const channel = `user:${customer.id}`;
    const client = await connect(t, customer.token);
    await subscribe(client, channel);
    const nowhere = `nowhere:${randomBytes(4).toString('hex')}`;
    await transact(t.app.domain, async (u) => {
      u.emit({ channel: nowhere, event: 'lost', data: {} }, { channel, event: 'after_lost', data: { ok: true } });
    });
    const m = await nextMessage(client, channel);
    assert.equal(m.event, 'after_lost');
    // Its row exists (`every` over no rows would pass vacuously) and is marked done.
    assert.equal((await rowsOf(t, nowhere)).length, 1, 'the unpublishable event was written to the outbox');
    await waitUntil(async () => (await rowsOf(t, nowhere)).every((r) => r.sent_at !== null), 10_000, 'the unpublishable row to be marked done');
    await client.disconnect();
  });
});
