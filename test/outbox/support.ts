/** Shared helpers for the checkout, order and outbox suites: a node per describe block, coded-error
 * checks, checkout in one call, and WebSocket subscriptions with bounded waits. */
import assert from 'node:assert/strict';
import type { MessageFrame } from '@switchboard/client/protocol';
import type { OrderView } from '../../src/modules/orders/orders.js';
import type { PaymentView } from '../../src/modules/payments/payments.js';
import type { ApiAnswer, TestApp } from '../helpers/app.js';
import { WsTestClient } from '../helpers/ws-client.js';

export type { MessageFrame, OrderView, PaymentView };

export { suiteApp as suiteNode } from '../helpers/app.js';

/** Checks a coded error answer (`{error:{code,message,details}}`) and returns its error. */
export function expectError(res: ApiAnswer, status: number, code: string): { code: string; message: string; details: Record<string, unknown> } {
  const shown = JSON.stringify(res.body);
  assert.equal(res.status, status, `expected HTTP ${status} ${code}, got ${res.status}: ${shown}`);
  assert.equal(res.body?.error?.code, code, `error code in ${shown}`);
  assert.equal(typeof res.body.error.message, 'string', `error message in ${shown}`);
  assert.ok(res.body.error.message.length > 0, `a non-empty error message in ${shown}`);
  return res.body.error;
}

/** Checks a success status and returns the body. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- as ApiAnswer: tests read bodies loosely
export function expectStatus<T = any>(res: ApiAnswer<T>, status: number, what = 'the request'): T {
  assert.equal(res.status, status, `${what}: expected HTTP ${status}, got ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body;
}

export interface Product {
  id: string;
  sku: string;
  priceMinor: number;
  stock: number;
  variants: { id: string; sku: string; stock: number }[];
}

/** The demo catalogue's product with this SKU. */
export async function product(t: TestApp, token: string, sku: string): Promise<Product> {
  const { items } = expectStatus(await t.request<{ items: Product[] }>('GET', '/api/products?limit=100', { token }), 200, 'GET /api/products');
  const found = items.find((p) => p.sku === sku);
  if (!found) throw new Error(`no product ${sku} in the catalogue`);
  return found;
}

/** A product's current stock (GET /api/products/:id). */
export async function stockOf(t: TestApp, token: string, productId: string): Promise<number> {
  return expectStatus(await t.request<Product>('GET', `/api/products/${productId}`, { token }), 200, 'GET /api/products/:id').stock;
}

/** The signed-in user's id and tenant (GET /api/me). */
export async function whoAmI(t: TestApp, token: string): Promise<{ id: string; tenantId: string }> {
  const { user } = expectStatus(await t.request('GET', '/api/me', { token }), 200, 'GET /api/me');
  return { id: user.id, tenantId: user.tenant.id };
}

export async function addToCart(t: TestApp, token: string, productId: string, quantity: number): Promise<void> {
  expectStatus(await t.request('POST', '/api/cart/items', { token, body: { productId, quantity } }), 201, 'POST /api/cart/items');
}

export interface Checkout {
  payment: PaymentView;
  next: Record<string, unknown>;
}

export function createFromCart(t: TestApp, token: string): Promise<ApiAnswer<Checkout>> {
  return t.request<Checkout>('POST', '/api/payments/create-from-cart', { token, body: {} });
}

export function approve(t: TestApp, token: string, paymentId: string, outcome: 'succeeded' | 'failed' = 'succeeded'): Promise<ApiAnswer<{ payment: PaymentView; order: OrderView | null }>> {
  return t.request('POST', `/api/payments/${paymentId}/sandbox`, { token, body: { outcome } });
}

/** Puts the lines in the cart, checks out and approves: the order the payment made. */
export async function buy(t: TestApp, token: string, lines: { productId: string; quantity: number }[]): Promise<OrderView> {
  for (const l of lines) await addToCart(t, token, l.productId, l.quantity);
  const { payment } = expectStatus(await createFromCart(t, token), 201, 'create-from-cart');
  const settled = expectStatus(await approve(t, token, payment.id), 200, 'sandbox approval');
  assert.ok(settled.order, `the approval made an order: ${JSON.stringify(settled)}`);
  return settled.order;
}

/** Every order the token may see, walking the pages. */
export async function allOrders(t: TestApp, token: string, limit = 100): Promise<OrderView[]> {
  const out: OrderView[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 1000; page++) {
    const path: string = `/api/orders?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const body = expectStatus(await t.request<{ items: OrderView[]; nextCursor: string | null }>('GET', path, { token }), 200, `GET ${path}`);
    out.push(...body.items);
    cursor = body.nextCursor;
    if (!cursor) return out;
  }
  throw new Error('GET /api/orders kept handing out cursors');
}

/** A WebSocket connection to the node, signed in with the token. */
export function connect(t: TestApp, token: string): Promise<WsTestClient> {
  return WsTestClient.open(t.wsUrl, { token });
}

/** Subscribes and returns the result (snapshot included); fails unless the reply is ok. */
export function subscribe(client: WsTestClient, channel: string): Promise<{ epoch: string; offset: number; snapshot?: unknown }> {
  return client.ok({ op: 'subscribe', channel });
}

/** Takes the next message of `event` on `channel` (other frames stay queued). */
export async function nextEvent(client: WsTestClient, channel: string, event: string, timeoutMs = 5000): Promise<MessageFrame> {
  return (await client.nextMatching((f) => f.op === 'message' && f.channel === channel && f.event === event, timeoutMs, `${event} on ${channel}`)) as MessageFrame;
}

/** Takes `count` messages of `event` on `channel` in arrival order, within one overall bound. */
export async function collectEvents(client: WsTestClient, channel: string, event: string, count: number, timeoutMs = 10_000): Promise<MessageFrame[]> {
  const deadline = Date.now() + timeoutMs;
  const out: MessageFrame[] = [];
  while (out.length < count) out.push(await nextEvent(client, channel, event, Math.max(1, deadline - Date.now())));
  return out;
}

/** Polls an async condition every 20 ms; rejects after `timeoutMs` naming what it waited for. */
export async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
