import type { Db, Domain, Trx, Unit } from '../../core/domain/context.js';
import { transact } from '../../core/domain/context.js';
import { newId, nowIso } from '../../core/db/ids.js';
import type { CartTable } from './schema.js';
import { HttpError } from '../../core/http/errors.js';
import type { ApiUser } from '../../core/http/api.js';
import { cartContents, cartView, type CartLine, type CartView } from './cart-view.js';

/** The most of one line a cart may hold. */
export const MAX_LINE_QUANTITY = 10_000;

export const cartChannel = (userId: string) => `cart:${userId}`;

/** The user's active cart, created on first access. Creating races (two tabs) are settled by the
 * unique index on active carts: the loser's insert does nothing and both read the same row. */
export async function activeCart(db: Db | Trx, user: ApiUser): Promise<CartTable> {
  const existing = await db.selectFrom('carts').selectAll().where('user_id', '=', user.id).where('status', '=', 'active').executeTakeFirst();
  if (existing) return existing;
  const now = nowIso();
  await db
    .insertInto('carts')
    .values({ id: newId('cart'), user_id: user.id, tenant_id: user.tenant, status: 'active', version: 0, created_at: now, updated_at: now })
    .onConflict((oc) => oc.doNothing())
    .execute();
  return db.selectFrom('carts').selectAll().where('user_id', '=', user.id).where('status', '=', 'active').executeTakeFirstOrThrow();
}

export async function getCart(domain: Domain, user: ApiUser): Promise<CartView> {
  return cartView(domain.db, await activeCart(domain.db, user));
}

interface Locked {
  cart: CartTable;
  /** The version before this change (what a compare-and-set compares against). */
  previous: number;
}

/**
 * Takes the cart for a change: bumps its version with an UPDATE, which holds the row lock on
 * PostgreSQL (and the write lock on SQLite) until commit. Every cart change goes through here,
 * so concurrent writers queue on the row and none loses another's update.
 */
async function lockCart(trx: Trx, user: ApiUser): Promise<Locked> {
  for (let attempt = 0; attempt < 3; attempt++) {
    // Straight to the UPDATE: one round trip while the lock is contended; the cart is created
    // (and the update retried) only on the user's first change.
    const locked = await trx
      .updateTable('carts')
      .set((eb) => ({ version: eb('version', '+', 1), updated_at: nowIso() }))
      .where('user_id', '=', user.id)
      .where('status', '=', 'active')
      .returningAll()
      .executeTakeFirst();
    if (locked) return { cart: locked, previous: locked.version - 1 };
    await activeCart(trx, user);
  }
  throw new HttpError(409, 'cart_busy', 'the cart changed state while updating it; retry');
}

async function finish(unit: Unit, cart: CartTable, extra: { event: string; data: (view: CartView) => unknown }[]): Promise<CartView> {
  const view = await cartView(unit.trx, cart);
  const channel = cartChannel(cart.user_id);
  for (const e of extra) unit.emit({ channel, event: e.event, data: e.data(view) });
  unit.emit({ channel, event: 'cart_update', data: view });
  return view;
}

function checkVersion(expected: number | undefined, locked: Locked): void {
  if (expected !== undefined && expected !== locked.previous) {
    throw new HttpError(409, 'version_conflict', `the cart is at version ${locked.previous}, not ${expected}; refetch it and retry`, { field: 'version', currentVersion: locked.previous });
  }
}

function checkQuantity(quantity: number, field: string): void {
  if (!Number.isInteger(quantity) || quantity < 1 || quantity > MAX_LINE_QUANTITY) {
    throw new HttpError(422, 'quantity_out_of_range', `${field} must be a whole number from 1 to ${MAX_LINE_QUANTITY}`, { field, min: 1, max: MAX_LINE_QUANTITY });
  }
}

interface Sellable {
  stock: number;
  currency: string;
  name: string;
}

/** The product (and variant) as the cart may sell it, or a coded refusal naming the field. */
async function sellable(trx: Trx, user: ApiUser, productId: string, variantId: string | null): Promise<Sellable> {
  const product = await trx.selectFrom('products').selectAll().where('id', '=', productId).where('tenant_id', '=', user.tenant).executeTakeFirst();
  if (!product) throw new HttpError(422, 'unknown_product', `no product ${productId}`, { field: 'productId' });
  const variants = await trx.selectFrom('product_variants').selectAll().where('product_id', '=', productId).execute();
  if (variantId === null) {
    if (variants.length > 0) throw new HttpError(422, 'variant_required', `${product.name} comes in variants; choose one of ${variants.map((v) => v.id).join(', ')}`, { field: 'variantId' });
    if (product.active !== 1) throw new HttpError(422, 'unavailable', `${product.name} is not sold any more`, { field: 'productId' });
    return { stock: product.stock, currency: product.currency, name: product.name };
  }
  const variant = variants.find((v) => v.id === variantId);
  if (!variant) throw new HttpError(422, 'unknown_variant', `product ${productId} has no variant ${variantId}`, { field: 'variantId' });
  if (product.active !== 1 || variant.active !== 1) throw new HttpError(422, 'unavailable', `${product.name} (${variant.name}) is not sold any more`, { field: 'variantId' });
  return { stock: variant.stock, currency: product.currency, name: `${product.name} (${variant.name})` };
}

function checkStock(item: Sellable, quantity: number, field: string): void {
  if (quantity > item.stock) {
    throw new HttpError(422, 'over_stock', `only ${item.stock} of ${item.name} in stock (asked for ${quantity})`, { field, available: item.stock, requested: quantity });
  }
}

function lineOf(view: CartView, id: string): CartLine | undefined {
  return view.items.find((i) => i.id === id);
}

/** Adds to the cart; the same product and variant again adds to the existing line. */
export function addItem(domain: Domain, user: ApiUser, input: { productId: string; variantId?: string | null | undefined; quantity: number; version?: number | undefined }): Promise<CartView> {
  checkQuantity(input.quantity, 'quantity');
  const variantId = input.variantId ?? null;
  return transact(domain, async (unit) => {
    // Catalogue checks first, before the cart's lock is taken, so concurrent writers of one cart
    // hold the lock only for the cart's own statements.
    const item = await sellable(unit.trx, user, input.productId, variantId);
    const locked = await lockCart(unit.trx, user);
    checkVersion(input.version, locked);
    // One read gives the existing line, whether the cart has items, and their currency.
    const lines = await unit.trx
      .selectFrom('cart_items as i')
      .innerJoin('products as p', 'p.id', 'i.product_id')
      .select(['i.id', 'i.product_id', 'i.variant_id', 'i.quantity', 'p.currency'])
      .where('i.cart_id', '=', locked.cart.id)
      .execute();
    const currency = lines[0]?.currency;
    if (currency !== undefined && currency !== item.currency) throw new HttpError(422, 'currency_mismatch', `the cart is in ${currency}; ${item.name} is sold in ${item.currency}`, { field: 'productId' });
    const existing = lines.find((l) => l.product_id === input.productId && l.variant_id === (variantId ?? ''));
    const quantity = (existing?.quantity ?? 0) + input.quantity;
    if (quantity > MAX_LINE_QUANTITY) checkQuantity(quantity, 'quantity');
    checkStock(item, quantity, 'quantity');
    const id = existing?.id ?? newId('item');
    if (existing) await unit.trx.updateTable('cart_items').set({ quantity }).where('id', '=', id).execute();
    else await unit.trx.insertInto('cart_items').values({ id, cart_id: locked.cart.id, product_id: input.productId, variant_id: variantId ?? '', quantity, created_at: nowIso() }).execute();
    return finish(unit, locked.cart, [{ event: 'cart_item_added', data: (view) => ({ version: view.version, item: lineOf(view, id), added: input.quantity }) }]);
  });
}

/** Sets a line's quantity (0 removes it). `version` makes it a compare-and-set on the whole cart. */
export function updateItem(domain: Domain, user: ApiUser, itemId: string, input: { quantity: number; version?: number | undefined }): Promise<CartView> {
  if (input.quantity !== 0) checkQuantity(input.quantity, 'quantity');
  return transact(domain, async (unit) => {
    const locked = await lockCart(unit.trx, user);
    checkVersion(input.version, locked);
    const line = await unit.trx.selectFrom('cart_items').selectAll().where('id', '=', itemId).where('cart_id', '=', locked.cart.id).executeTakeFirst();
    if (!line) throw new HttpError(404, 'unknown_item', `your cart has no item ${itemId}`, { field: 'id' });
    if (input.quantity === 0) return removeLine(unit, locked.cart, line.id);
    const item = await sellable(unit.trx, user, line.product_id, line.variant_id === '' ? null : line.variant_id);
    checkStock(item, input.quantity, 'quantity');
    await unit.trx.updateTable('cart_items').set({ quantity: input.quantity }).where('id', '=', itemId).execute();
    return finish(unit, locked.cart, []);
  });
}

export function removeItem(domain: Domain, user: ApiUser, itemId: string, version?: number): Promise<CartView> {
  return transact(domain, async (unit) => {
    const locked = await lockCart(unit.trx, user);
    checkVersion(version, locked);
    const line = await unit.trx.selectFrom('cart_items').select('id').where('id', '=', itemId).where('cart_id', '=', locked.cart.id).executeTakeFirst();
    if (!line) throw new HttpError(404, 'unknown_item', `your cart has no item ${itemId}`, { field: 'id' });
    return removeLine(unit, locked.cart, line.id);
  });
}

async function removeLine(unit: Unit, cart: CartTable, itemId: string): Promise<CartView> {
  const gone = (await cartContents(unit.trx, cart.id)).items.find((i) => i.id === itemId);
  await unit.trx.deleteFrom('cart_items').where('id', '=', itemId).execute();
  return finish(unit, cart, [{ event: 'cart_item_removed', data: (view) => ({ version: view.version, item: gone }) }]);
}

export function clearCart(domain: Domain, user: ApiUser, version?: number): Promise<CartView> {
  return transact(domain, async (unit) => {
    const locked = await lockCart(unit.trx, user);
    checkVersion(version, locked);
    const before = await cartContents(unit.trx, locked.cart.id);
    await unit.trx.deleteFrom('cart_items').where('cart_id', '=', locked.cart.id).execute();
    return finish(
      unit,
      locked.cart,
      before.items.map((item) => ({ event: 'cart_item_removed', data: (view: CartView) => ({ version: view.version, item }) })),
    );
  });
}
