import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, test } from 'node:test';
import { forEachEngine } from '../helpers/app.js';
import { addItem, catalogue, expectError, expectStatus, getCart, insertProduct, lineFor, setStock, suiteApp, type Catalogue } from './support.js';

const newKey = (): string => `key-${randomBytes(8).toString('hex')}`;
const withKey = (key: string): Record<string, string> => ({ 'idempotency-key': key });

forEachEngine('cart idempotency keys', (engine) => {
  const t = suiteApp(engine);
  let cat: Catalogue;
  before(async () => {
    cat = await catalogue(t, await t.loginAs('customer'));
  });

  void test('the same key and body twice: the second answers the first answer, replayed, and the change applied once', async () => {
    const { token } = await t.newCustomer();
    const mug = cat.product('MUG-01');
    const key = newKey();
    const first = await addItem(t, token, { productId: mug.id, quantity: 2 }, withKey(key));
    expectStatus(first, 201, 'first request');
    assert.equal(first.headers['idempotent-replayed'], undefined, 'the first answer is not a replay');

    const second = await addItem(t, token, { productId: mug.id, quantity: 2 }, withKey(key));
    assert.equal(second.status, 201, `replayed status: ${JSON.stringify(second.body)}`);
    assert.equal(second.headers['idempotent-replayed'], 'true', 'the second answer says it is a replay');
    assert.deepEqual(second.body, first.body, 'the replay is the first answer');

    const cart = await getCart(t, token);
    assert.equal(lineFor(cart, mug.id)?.quantity, 2, 'the quantity was added once');
    assert.equal(cart.version, 1, 'one change');
  });

  void test('the same key with another body answers 422 idempotency_key_reused naming Idempotency-Key', async () => {
    const { token } = await t.newCustomer();
    const mug = cat.product('MUG-01');
    const key = newKey();
    expectStatus(await addItem(t, token, { productId: mug.id, quantity: 1 }, withKey(key)), 201);
    const reused = await addItem(t, token, { productId: mug.id, quantity: 3 }, withKey(key));
    expectError(reused, 422, 'idempotency_key_reused', 'Idempotency-Key');
    // Another route with the same key is another request too.
    const itemId = (await getCart(t, token)).items[0]!.id;
    const elsewhere = await t.request('PATCH', `/api/cart/items/${itemId}`, { token, body: { quantity: 1 }, headers: withKey(key) });
    expectError(elsewhere, 422, 'idempotency_key_reused', 'Idempotency-Key');
    const cart = await getCart(t, token);
    assert.equal(cart.items[0]?.quantity, 1, 'neither refused request changed the cart');
    assert.equal(cart.version, 1);
  });

  void test('10 concurrent requests with one key apply once; all answer 201 with identical bodies', async () => {
    const { token } = await t.newCustomer();
    const coffee = cat.product('COF-250');
    expectStatus(await addItem(t, token, { productId: coffee.id, quantity: 5 }), 201, 'a line to add to');
    const key = newKey();
    const answers = await Promise.all(Array.from({ length: 10 }, () => addItem(t, token, { productId: coffee.id, quantity: 1 }, withKey(key))));
    for (const [i, res] of answers.entries()) assert.equal(res.status, 201, `request ${i}: ${res.status} ${JSON.stringify(res.body)}`);
    const [firstAnswer] = answers;
    for (const [i, res] of answers.entries()) assert.deepEqual(res.body, firstAnswer!.body, `request ${i} answered the same body`);
    const fresh = answers.filter((r) => r.headers['idempotent-replayed'] !== 'true');
    assert.equal(fresh.length, 1, 'exactly one request did the work; the others are replays');

    const cart = await getCart(t, token);
    assert.equal(lineFor(cart, coffee.id)?.quantity, 6, 'the key applied +1 exactly once');
    assert.equal(cart.version, 2, 'one change after the first add');
    assert.deepEqual(firstAnswer!.body, cart, 'the shared answer is the cart after the one change');
  });

  void test('a failed request does not burn its key: the same retry fails the same way, and succeeds once it can', async () => {
    const { token } = await t.newCustomer();
    const product = await insertProduct(t, { stock: 2 });
    const key = newKey();
    const body = { productId: product.id, quantity: 3 };
    const first = await addItem(t, token, body, withKey(key));
    const refused = expectError(first, 422, 'over_stock', 'quantity');
    assert.equal(refused.details.available, 2);

    const retry = await addItem(t, token, body, withKey(key));
    assert.equal(retry.headers['idempotent-replayed'], undefined, 'a failure is not stored, so not replayed');
    expectError(retry, 422, 'over_stock', 'quantity');
    assert.deepEqual(retry.body, first.body, 'the retry failed the same way');
    assert.equal((await getCart(t, token)).version, 0, 'nothing was applied');

    // Stock arrives: the same retry with the same key now goes through, once.
    await setStock(t, product.id, 10);
    const succeeded = await addItem(t, token, body, withKey(key));
    expectStatus(succeeded, 201, 'the retry after restocking');
    assert.equal(succeeded.headers['idempotent-replayed'], undefined);
    const replayed = await addItem(t, token, body, withKey(key));
    assert.equal(replayed.status, 201);
    assert.equal(replayed.headers['idempotent-replayed'], 'true');
    assert.deepEqual(replayed.body, succeeded.body);
    assert.equal(lineFor(await getCart(t, token), product.id)?.quantity, 3, 'applied once');
  });

  void test('a failed request records nothing under its key: a corrected body may use the same key', async () => {
    const { token } = await t.newCustomer();
    const grinder = cat.product('GRN-1K');
    const key = newKey();
    expectError(await addItem(t, token, { productId: grinder.id, quantity: 50 }, withKey(key)), 422, 'over_stock');
    const corrected = await addItem(t, token, { productId: grinder.id, quantity: 1 }, withKey(key));
    expectStatus(corrected, 201, 'the corrected request with the unused key');
    // From here on the key is taken by the corrected request.
    expectError(await addItem(t, token, { productId: grinder.id, quantity: 50 }, withKey(key)), 422, 'idempotency_key_reused', 'Idempotency-Key');
  });

  void test('keys are per user: two users may use the same key independently', async () => {
    const alice = await t.newCustomer('Alice');
    const bob = await t.newCustomer('Bob');
    const key = newKey();
    const a = await addItem(t, alice.token, { productId: cat.product('MUG-01').id, quantity: 1 }, withKey(key));
    const b = await addItem(t, bob.token, { productId: cat.product('FLT-100').id, quantity: 4 }, withKey(key));
    expectStatus(a, 201, "alice's request");
    expectStatus(b, 201, "bob's request, same key, another body");
    assert.equal(b.headers['idempotent-replayed'], undefined, "bob does not get alice's answer");
    assert.equal(b.body.userId, bob.id);
    assert.equal(lineFor(await getCart(t, bob.token), cat.product('FLT-100').id)?.quantity, 4);
    const aliceCart = await getCart(t, alice.token);
    assert.equal(aliceCart.items.length, 1, "alice's cart only has her line");
    assert.equal(lineFor(aliceCart, cat.product('MUG-01').id)?.quantity, 1);
  });

  void test('the same key with another query answers 422 idempotency_key_reused (the query is part of the request)', async () => {
    const { token } = await t.newCustomer();
    const key = newKey();
    const emptied = await t.request('DELETE', '/api/cart?version=0', { token, headers: withKey(key) });
    expectStatus(emptied, 200, 'DELETE /api/cart?version=0 with a key');
    expectStatus(await addItem(t, token, { productId: cat.product('MUG-01').id, quantity: 1 }), 201);
    // The cart is at version 2 now; reusing the key for another compare-and-set must not replay
    // the old "emptied" answer while the cart still holds the mug.
    const reused = await t.request('DELETE', '/api/cart?version=2', { token, headers: withKey(key) });
    expectError(reused, 422, 'idempotency_key_reused', 'Idempotency-Key');
    assert.equal((await getCart(t, token)).items.length, 1, 'the cart still holds its line');
    const retry = await t.request('DELETE', '/api/cart?version=0', { token, headers: withKey(key) });
    assert.equal(retry.headers['idempotent-replayed'], 'true', 'the same query is still a replay');
    assert.deepEqual(retry.body, emptied.body);
  });

  void test('an invalid key (300 characters, or with spaces) answers 400 invalid_idempotency_key and changes nothing', async () => {
    const { token } = await t.newCustomer();
    const body = { productId: cat.product('MUG-01').id, quantity: 1 };
    for (const key of ['k'.repeat(300), 'has spaces in it', 'semi;colon']) {
      expectError(await addItem(t, token, body, withKey(key)), 400, 'invalid_idempotency_key', 'Idempotency-Key');
    }
    expectStatus(await addItem(t, token, body, withKey('k'.repeat(200))), 201, 'a 200-character key is fine');
    assert.equal((await getCart(t, token)).items[0]?.quantity, 1, 'only the valid request applied');
  });

  void test('a replayed PATCH answers its first answer without applying it again', async () => {
    const { token } = await t.newCustomer();
    const mug = cat.product('MUG-01');
    const itemId = expectStatus(await addItem(t, token, { productId: mug.id, quantity: 1 }), 201).items[0]!.id;
    const key = newKey();
    const patched = await t.request('PATCH', `/api/cart/items/${itemId}`, { token, body: { quantity: 5 }, headers: withKey(key) });
    expectStatus(patched, 200, 'PATCH with a key');
    // Meanwhile another change: the replay must not set the line back to 5.
    expectStatus(await addItem(t, token, { productId: mug.id, quantity: 1 }), 201);
    const replay = await t.request('PATCH', `/api/cart/items/${itemId}`, { token, body: { quantity: 5 }, headers: withKey(key) });
    assert.equal(replay.status, 200);
    assert.equal(replay.headers['idempotent-replayed'], 'true');
    assert.deepEqual(replay.body, patched.body, 'the stored answer');
    assert.equal(lineFor(await getCart(t, token), mug.id)?.quantity, 6, 'the PATCH was not applied again');
  });

  void test('a replayed DELETE answers its first answer instead of 404', async () => {
    const { token } = await t.newCustomer();
    const itemId = expectStatus(await addItem(t, token, { productId: cat.product('MUG-01').id, quantity: 1 }), 201).items[0]!.id;
    const key = newKey();
    const deleted = await t.request('DELETE', `/api/cart/items/${itemId}`, { token, headers: withKey(key) });
    expectStatus(deleted, 200, 'DELETE with a key');
    const replay = await t.request('DELETE', `/api/cart/items/${itemId}`, { token, headers: withKey(key) });
    assert.equal(replay.status, 200, `the retry is a replay, not a 404: ${JSON.stringify(replay.body)}`);
    assert.equal(replay.headers['idempotent-replayed'], 'true');
    assert.deepEqual(replay.body, deleted.body);
    expectError(await t.request('DELETE', `/api/cart/items/${itemId}`, { token, headers: withKey(newKey()) }), 404, 'unknown_item');
  });
});
