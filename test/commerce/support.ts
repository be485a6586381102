/** Shared helpers for the commerce suites: one full app per describe block, coded-error checks,
 * the demo catalogue by SKU, and products made directly in the database. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { CartLine, CartView } from '../../src/modules/cart/cart-view.js';
import { newId, nowIso } from '../../src/core/db/ids.js';
import type { ApiAnswer, TestApp } from '../helpers/app.js';

export type { CartLine, CartView };

export { suiteApp } from '../helpers/app.js';

export interface ErrorDetails {
  code: string;
  message: string;
  details: Record<string, unknown>;
}

/** Checks a coded error answer (`{error:{code,message,details}}`) and returns its error. */
export function expectError(res: ApiAnswer, status: number, code: string, field?: string): ErrorDetails {
  const shown = JSON.stringify(res.body);
  assert.equal(res.status, status, `expected HTTP ${status} ${code}, got ${res.status}: ${shown}`);
  assert.equal(res.body?.error?.code, code, `error code in ${shown}`);
  assert.equal(typeof res.body.error.message, 'string', `error message in ${shown}`);
  assert.ok(res.body.error.message.length > 0, `non-empty error message in ${shown}`);
  assert.equal(typeof res.body.error.details, 'object', `error details in ${shown}`);
  if (field !== undefined) assert.equal(res.body.error.details.field, field, `details.field in ${shown}`);
  return res.body.error as ErrorDetails;
}

/** Checks a success status and returns the body. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- as ApiAnswer: tests read bodies loosely
export function expectStatus<T = any>(res: ApiAnswer<T>, status: number, what = 'the request'): T {
  assert.equal(res.status, status, `${what}: expected HTTP ${status}, got ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body;
}

export interface VariantInfo {
  id: string;
  sku: string;
  name: string;
  priceMinor: number;
  stock: number;
}

export interface ProductInfo {
  id: string;
  sku: string;
  name: string;
  priceMinor: number;
  currency: string;
  stock: number;
  variants: VariantInfo[];
}

export interface Catalogue {
  /** The product with this SKU (throws when there is none). */
  product(sku: string): ProductInfo;
  /** The product and variant of a variant SKU, e.g. TEE-XL. */
  variant(sku: string): { product: ProductInfo; variant: VariantInfo };
}

/** The demo catalogue (GET /api/products), by SKU. */
export async function catalogue(t: TestApp, token: string): Promise<Catalogue> {
  const res = await t.request<{ items: ProductInfo[] }>('GET', '/api/products?limit=100', { token });
  const { items } = expectStatus(res, 200, 'GET /api/products');
  return {
    product(sku) {
      const found = items.find((p) => p.sku === sku);
      if (!found) throw new Error(`no product ${sku} in the catalogue (${items.map((p) => p.sku).join(', ')})`);
      return found;
    },
    variant(sku) {
      for (const product of items) {
        const variant = product.variants.find((v) => v.sku === sku);
        if (variant) return { product, variant };
      }
      throw new Error(`no variant ${sku} in the catalogue`);
    },
  };
}

/** Inserts a product without variants straight into the database, in the demo tenant. */
export async function insertProduct(t: TestApp, fields: { stock: number; priceMinor?: number; name?: string }): Promise<{ id: string; sku: string }> {
  const { db } = t.app.database;
  const tenant = await db.selectFrom('tenants').select('id').where('slug', '=', 'demo').executeTakeFirstOrThrow();
  const id = newId('prd');
  const sku = `TST-${randomBytes(4).toString('hex').toUpperCase()}`;
  await db
    .insertInto('products')
    .values({ id, tenant_id: tenant.id, sku, name: fields.name ?? `Test product ${sku}`, description: 'made by a test', price_minor: fields.priceMinor ?? 100, currency: 'USD', stock: fields.stock, active: 1, created_at: nowIso() })
    .execute();
  return { id, sku };
}

/** Sets a product's stock straight in the database. */
export async function setStock(t: TestApp, productId: string, stock: number): Promise<void> {
  await t.app.database.db.updateTable('products').set({ stock }).where('id', '=', productId).execute();
}

/** The user's cart (GET /api/cart), checked for 200. */
export async function getCart(t: TestApp, token: string): Promise<CartView> {
  return expectStatus(await t.request<CartView>('GET', '/api/cart', { token }), 200, 'GET /api/cart');
}

/** POST /api/cart/items. */
export function addItem(t: TestApp, token: string, body: Record<string, unknown>, headers?: Record<string, string>): Promise<ApiAnswer<CartView>> {
  return t.request<CartView>('POST', '/api/cart/items', { token, body, ...(headers ? { headers } : {}) });
}

/** The cart's line for a product (and variant), or undefined. */
export function lineFor(cart: CartView, productId: string, variantId: string | null = null): CartLine | undefined {
  return cart.items.find((i) => i.productId === productId && i.variantId === variantId);
}

/**
 * Waits until the outbox has published everything committed so far. A tab that subscribes before
 * that also receives the events of changes its snapshot already shows (they are newer than its
 * position); clients drop them by version. Tests that count events wait first.
 */
export async function outboxDrained(t: TestApp, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await t.app.dispatcher.pending()) > 0) {
    if (Date.now() > deadline) throw new Error(`the outbox still had events after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
