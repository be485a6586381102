import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { forEachEngine } from '../helpers/app.js';
import { addItem, catalogue, expectError, expectStatus, getCart, insertProduct, lineFor, setStock, suiteApp, type Catalogue } from './support.js';

forEachEngine('cart REST', (engine) => {
  const t = suiteApp(engine);
  let cat: Catalogue;
  before(async () => {
    cat = await catalogue(t, await t.loginAs('customer'));
  });

  void test('GET /api/cart creates an empty cart: version 0, no items, total 0, a currency', async () => {
    const { token, id } = await t.newCustomer();
    const cart = await getCart(t, token);
    assert.equal(cart.userId, id);
    assert.equal(cart.version, 0);
    assert.deepEqual(cart.items, []);
    assert.equal(cart.count, 0);
    assert.equal(cart.totalMinor, 0);
    assert.equal(cart.currency, 'USD');
    assert.equal(cart.hasUnavailableItems, false);
    const again = await getCart(t, token);
    assert.equal(again.id, cart.id, 'a second GET reads the same cart, it does not make another');
    assert.equal(again.version, 0, 'reading does not bump the version');
  });

  void test('GET /api/cart without a token answers 401 unauthenticated', async () => {
    expectError(await t.request('GET', '/api/cart'), 401, 'unauthenticated');
  });

  void test('adding items answers 201 with line and cart totals in integer minor units', async () => {
    const { token } = await t.newCustomer();
    const mug = cat.product('MUG-01');
    const coffee = cat.product('COF-250');
    const first = expectStatus(await addItem(t, token, { productId: mug.id, quantity: 2 }), 201, 'add 2 mugs');
    assert.equal(first.version, 1);
    assert.equal(first.items.length, 1);
    const line = first.items[0]!;
    assert.equal(line.sku, 'MUG-01');
    assert.equal(line.variantId, null);
    assert.equal(line.unitPriceMinor, 900);
    assert.equal(line.quantity, 2);
    assert.equal(line.lineTotalMinor, 1800);
    assert.equal(line.available, true);
    assert.equal(first.totalMinor, 1800);

    const second = expectStatus(await addItem(t, token, { productId: coffee.id, quantity: 3 }), 201, 'add 3 coffees');
    assert.equal(second.version, 2);
    assert.equal(second.items.length, 2);
    assert.equal(lineFor(second, coffee.id)?.lineTotalMinor, 3750);
    assert.equal(second.totalMinor, 1800 + 3750);
    assert.equal(second.count, 5);
    for (const n of [second.totalMinor, ...second.items.map((i) => i.lineTotalMinor), ...second.items.map((i) => i.unitPriceMinor)]) {
      assert.ok(Number.isInteger(n), `money is integer minor units, got ${n}`);
    }
    assert.deepEqual(await getCart(t, token), second, 'GET answers what the last change answered');
  });

  void test('adding the same product again merges into its line (quantities summed)', async () => {
    const { token } = await t.newCustomer();
    const mug = cat.product('MUG-01');
    const a = expectStatus(await addItem(t, token, { productId: mug.id, quantity: 1 }), 201);
    const b = expectStatus(await addItem(t, token, { productId: mug.id, quantity: 2 }), 201);
    assert.equal(b.items.length, 1, 'still one line');
    assert.equal(b.items[0]!.id, a.items[0]!.id, 'the same line');
    assert.equal(b.items[0]!.quantity, 3);
    assert.equal(b.totalMinor, 2700);
  });

  void test('quantity defaults to 1', async () => {
    const { token } = await t.newCustomer();
    const added = expectStatus(await addItem(t, token, { productId: cat.product('FLT-100').id }), 201);
    assert.equal(added.items[0]?.quantity, 1);
    assert.equal(added.totalMinor, 450);
  });

  void test('a variant product without variantId answers 422 variant_required naming variantId; the cart is unchanged', async () => {
    const { token } = await t.newCustomer();
    const res = await addItem(t, token, { productId: cat.product('TEE').id, quantity: 1 });
    expectError(res, 422, 'variant_required', 'variantId');
    const cart = await getCart(t, token);
    assert.deepEqual(cart.items, []);
    assert.equal(cart.version, 0, 'a refused change does not bump the version');
  });

  void test('an unknown product answers 422 unknown_product; an unknown variant 422 unknown_variant', async () => {
    const { token } = await t.newCustomer();
    expectError(await addItem(t, token, { productId: 'prd_doesnotexist', quantity: 1 }), 422, 'unknown_product', 'productId');
    const tee = cat.product('TEE');
    expectError(await addItem(t, token, { productId: tee.id, variantId: 'var_doesnotexist', quantity: 1 }), 422, 'unknown_variant', 'variantId');
    // A real variant, but of another product.
    const boost = cat.variant('BOOST-1').variant;
    expectError(await addItem(t, token, { productId: tee.id, variantId: boost.id, quantity: 1 }), 422, 'unknown_variant', 'variantId');
    // A variant on a product that has none.
    expectError(await addItem(t, token, { productId: cat.product('MUG-01').id, variantId: cat.variant('TEE-S').variant.id, quantity: 1 }), 422, 'unknown_variant', 'variantId');
    assert.deepEqual((await getCart(t, token)).items, []);
  });

  void test('a quantity of 0, 10001, 1.5 or "2" answers 400 invalid_body naming quantity', async () => {
    const { token } = await t.newCustomer();
    const productId = cat.product('FLT-100').id;
    for (const quantity of [0, 10_001, 1.5, '2', -1]) {
      expectError(await addItem(t, token, { productId, quantity }), 400, 'invalid_body', 'quantity');
    }
    expectError(await addItem(t, token, { quantity: 1 }), 400, 'invalid_body', 'productId');
    assert.deepEqual((await getCart(t, token)).items, []);
  });

  void test('more than the stock answers 422 over_stock with details.available; so does a merge that crosses it', async () => {
    const { token } = await t.newCustomer();
    const grinder = cat.product('GRN-1K');
    assert.equal(grinder.stock, 5, 'demo stock of GRN-1K');
    const over = expectError(await addItem(t, token, { productId: grinder.id, quantity: 6 }), 422, 'over_stock', 'quantity');
    assert.equal(over.details.available, 5);
    assert.equal(over.details.requested, 6);

    expectStatus(await addItem(t, token, { productId: grinder.id, quantity: 3 }), 201);
    const merged = expectError(await addItem(t, token, { productId: grinder.id, quantity: 3 }), 422, 'over_stock', 'quantity');
    assert.equal(merged.details.available, 5);
    assert.equal(merged.details.requested, 6, 'the merged quantity is what is checked');
    const cart = await getCart(t, token);
    assert.equal(lineFor(cart, grinder.id)?.quantity, 3, 'the line keeps its quantity');
    assert.equal(cart.version, 1);
  });

  void test('a variant adds its price delta: TEE-XL is 2300; its own stock applies', async () => {
    const { token } = await t.newCustomer();
    const { product, variant } = cat.variant('TEE-XL');
    const added = expectStatus(await addItem(t, token, { productId: product.id, variantId: variant.id, quantity: 2 }), 201);
    const line = lineFor(added, product.id, variant.id);
    assert.ok(line, `a TEE-XL line in ${JSON.stringify(added.items)}`);
    assert.equal(line.sku, 'TEE-XL');
    assert.equal(line.variantName, 'Extra large');
    assert.equal(line.unitPriceMinor, 2300);
    assert.equal(line.lineTotalMinor, 4600);
    assert.equal(added.totalMinor, 4600);

    const small = cat.variant('TEE-S');
    const both = expectStatus(await addItem(t, token, { productId: product.id, variantId: small.variant.id, quantity: 1 }), 201);
    assert.equal(both.items.length, 2, 'each variant is its own line');
    assert.equal(both.totalMinor, 4600 + 2000);

    const over = expectError(await addItem(t, token, { productId: product.id, variantId: variant.id, quantity: 2 }), 422, 'over_stock', 'quantity');
    assert.equal(over.details.available, 3, 'TEE-XL has 3 in stock');
  });

  void test('a product taken off sale answers 422 unavailable; a line already in the cart turns unavailable', async () => {
    const { token } = await t.newCustomer();
    const product = await insertProduct(t, { stock: 10, priceMinor: 700 });
    const added = expectStatus(await addItem(t, token, { productId: product.id, quantity: 2 }), 201);
    assert.equal(added.hasUnavailableItems, false);
    await t.app.database.db.updateTable('products').set({ active: 0 }).where('id', '=', product.id).execute();
    expectError(await addItem(t, token, { productId: product.id, quantity: 1 }), 422, 'unavailable', 'productId');
    const cart = await getCart(t, token);
    assert.equal(lineFor(cart, product.id)?.available, false, 'the line is flagged');
    assert.equal(cart.hasUnavailableItems, true);
    assert.equal(cart.totalMinor, 1400, 'it still counts at its current price');
  });

  void test('a line over the current stock is flagged unavailable', async () => {
    const { token } = await t.newCustomer();
    const product = await insertProduct(t, { stock: 10 });
    expectStatus(await addItem(t, token, { productId: product.id, quantity: 4 }), 201);
    await setStock(t, product.id, 3);
    const cart = await getCart(t, token);
    const line = lineFor(cart, product.id);
    assert.equal(line?.available, false);
    assert.equal(line?.stock, 3);
    assert.equal(cart.hasUnavailableItems, true);
  });

  void test('PATCH sets a line quantity; PATCH 0 removes the line', async () => {
    const { token } = await t.newCustomer();
    const mug = cat.product('MUG-01');
    const coffee = cat.product('COF-250');
    expectStatus(await addItem(t, token, { productId: coffee.id, quantity: 1 }), 201);
    const added = expectStatus(await addItem(t, token, { productId: mug.id, quantity: 1 }), 201);
    const itemId = lineFor(added, mug.id)!.id;

    const set = expectStatus(await t.request('PATCH', `/api/cart/items/${itemId}`, { token, body: { quantity: 4 } }), 200, 'PATCH quantity 4');
    assert.equal(lineFor(set, mug.id)?.quantity, 4);
    assert.equal(set.totalMinor, 4 * 900 + 1250);
    assert.equal(set.version, added.version + 1);

    const removed = expectStatus(await t.request('PATCH', `/api/cart/items/${itemId}`, { token, body: { quantity: 0 } }), 200, 'PATCH quantity 0');
    assert.equal(lineFor(removed, mug.id), undefined, 'the line is gone');
    assert.equal(removed.items.length, 1, 'the other line stays');
    assert.equal(removed.totalMinor, 1250);
  });

  void test('PATCH checks the stock and the quantity range', async () => {
    const { token } = await t.newCustomer();
    const grinder = cat.product('GRN-1K');
    const itemId = expectStatus(await addItem(t, token, { productId: grinder.id, quantity: 1 }), 201).items[0]!.id;
    const over = expectError(await t.request('PATCH', `/api/cart/items/${itemId}`, { token, body: { quantity: 6 } }), 422, 'over_stock', 'quantity');
    assert.equal(over.details.available, 5);
    expectError(await t.request('PATCH', `/api/cart/items/${itemId}`, { token, body: { quantity: -1 } }), 400, 'invalid_body', 'quantity');
    expectError(await t.request('PATCH', `/api/cart/items/${itemId}`, { token, body: { quantity: 10_001 } }), 400, 'invalid_body', 'quantity');
    assert.equal((await getCart(t, token)).items[0]?.quantity, 1);
  });

  void test('PATCH with a stale version answers 409 version_conflict with details.currentVersion; the current one succeeds', async () => {
    const { token } = await t.newCustomer();
    const mug = cat.product('MUG-01');
    const first = expectStatus(await addItem(t, token, { productId: mug.id, quantity: 1 }), 201);
    const itemId = first.items[0]!.id;
    // Another tab changes the cart: version 1 becomes stale.
    const second = expectStatus(await addItem(t, token, { productId: mug.id, quantity: 1 }), 201);
    assert.equal(second.version, 2);

    const stale = await t.request('PATCH', `/api/cart/items/${itemId}`, { token, body: { quantity: 5, version: first.version } });
    const conflict = expectError(stale, 409, 'version_conflict', 'version');
    assert.equal(conflict.details.currentVersion, 2);
    const unchanged = await getCart(t, token);
    assert.equal(unchanged.items[0]?.quantity, 2, 'the refused change left the line alone');
    assert.equal(unchanged.version, 2, 'and the version');

    const fresh = expectStatus(await t.request('PATCH', `/api/cart/items/${itemId}`, { token, body: { quantity: 5, version: 2 } }), 200, 'PATCH at the current version');
    assert.equal(fresh.items[0]?.quantity, 5);
    assert.equal(fresh.version, 3);
  });

  void test('PATCH or DELETE of an unknown item answers 404 unknown_item', async () => {
    const { token } = await t.newCustomer();
    expectError(await t.request('PATCH', '/api/cart/items/item_doesnotexist', { token, body: { quantity: 1 } }), 404, 'unknown_item');
    expectError(await t.request('DELETE', '/api/cart/items/item_doesnotexist', { token }), 404, 'unknown_item');
    assert.equal((await getCart(t, token)).version, 0);
  });

  void test('DELETE an item removes its line; deleting it again answers 404', async () => {
    const { token } = await t.newCustomer();
    const mug = cat.product('MUG-01');
    const flt = cat.product('FLT-100');
    expectStatus(await addItem(t, token, { productId: mug.id, quantity: 2 }), 201);
    const added = expectStatus(await addItem(t, token, { productId: flt.id, quantity: 3 }), 201);
    const itemId = lineFor(added, mug.id)!.id;
    const deleted = expectStatus(await t.request('DELETE', `/api/cart/items/${itemId}`, { token }), 200, 'DELETE item');
    assert.equal(lineFor(deleted, mug.id), undefined);
    assert.equal(deleted.items.length, 1);
    assert.equal(deleted.totalMinor, 3 * 450);
    assert.equal(deleted.version, added.version + 1);
    expectError(await t.request('DELETE', `/api/cart/items/${itemId}`, { token }), 404, 'unknown_item');
  });

  void test('DELETE with a stale version query answers 409 version_conflict', async () => {
    const { token } = await t.newCustomer();
    const added = expectStatus(await addItem(t, token, { productId: cat.product('MUG-01').id, quantity: 1 }), 201);
    const itemId = added.items[0]!.id;
    const conflict = expectError(await t.request('DELETE', `/api/cart/items/${itemId}?version=0`, { token }), 409, 'version_conflict');
    assert.equal(conflict.details.currentVersion, 1);
    expectStatus(await t.request('DELETE', `/api/cart/items/${itemId}?version=1`, { token }), 200, 'DELETE at the current version');
  });

  void test('DELETE /api/cart empties the cart', async () => {
    const { token } = await t.newCustomer();
    expectStatus(await addItem(t, token, { productId: cat.product('MUG-01').id, quantity: 2 }), 201);
    const added = expectStatus(await addItem(t, token, { productId: cat.product('COF-250').id, quantity: 1 }), 201);
    const emptied = expectStatus(await t.request('DELETE', '/api/cart', { token }), 200, 'DELETE /api/cart');
    assert.deepEqual(emptied.items, []);
    assert.equal(emptied.totalMinor, 0);
    assert.equal(emptied.count, 0);
    assert.equal(emptied.id, added.id, 'the same cart, emptied');
    assert.equal(emptied.version, added.version + 1);
    assert.deepEqual(await getCart(t, token), emptied);
  });

  void test("one user cannot change or delete another user's item (404); the owner's cart is untouched", async () => {
    const owner = await t.newCustomer('Owner');
    const other = await t.newCustomer('Other');
    const added = expectStatus(await addItem(t, owner.token, { productId: cat.product('MUG-01').id, quantity: 2 }), 201);
    const itemId = added.items[0]!.id;
    expectError(await t.request('PATCH', `/api/cart/items/${itemId}`, { token: other.token, body: { quantity: 7 } }), 404, 'unknown_item');
    expectError(await t.request('PATCH', `/api/cart/items/${itemId}`, { token: other.token, body: { quantity: 0 } }), 404, 'unknown_item');
    expectError(await t.request('DELETE', `/api/cart/items/${itemId}`, { token: other.token }), 404, 'unknown_item');
    expectStatus(await t.request('DELETE', '/api/cart', { token: other.token }), 200, "DELETE /api/cart empties the caller's own cart");
    assert.deepEqual(await getCart(t, owner.token), added, "the owner's cart is exactly as it was");
    assert.notEqual((await getCart(t, other.token)).id, added.id, 'the other user has their own cart');
  });
});
