import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { forEachEngine, startApp, type TestApp } from '../helpers/app.js';

forEachEngine('app smoke', (engine) => {
  let t: TestApp;
  before(async () => {
    t = await startApp({ engine });
  });
  after(() => t.close());

  test('a customer adds to the cart', async () => {
    const token = await t.loginAs('customer');
    const products = await t.request('GET', '/api/products?limit=100', { token });
    const mug = products.body.items.find((p: { sku: string }) => p.sku === 'MUG-01');
    const added = await t.request('POST', '/api/cart/items', { token, body: { productId: mug.id, quantity: 2 } });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    assert.equal(added.body.totalMinor, 1800);
  });
});
