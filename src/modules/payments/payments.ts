import { z } from 'zod';
import type { Domain, Trx, Unit } from '../../core/domain/context.js';
import { forUpdate, idempotencyScope, transact } from '../../core/domain/context.js';
import { newId, nowIso } from '../../core/db/ids.js';
import type { PaymentTable } from './schema.js';
import { cartChannel } from '../cart/cart.js';
import { cartContents, cartView, DEFAULT_CURRENCY } from '../cart/cart-view.js';
import type { ApiUser } from '../../core/http/api.js';
import { HttpError } from '../../core/http/errors.js';
import { createOrder, orderView, type OrderLineView, type OrderView } from '../orders/orders.js';
import type { PaymentProvider, ProviderOutcome } from './provider.js';

/** Admin alerts of a tenant (order paid, refund needed), for its admins. */
export const alertsChannel = (tenantId: string) => `alerts:${tenantId}`;
/** Notifications of one user (the core's `user:` namespace). */
export const userChannel = (userId: string) => `user:${userId}`;

export interface PaymentSnapshot {
  cartVersion: number;
  currency: string;
  totalMinor: number;
  lines: OrderLineView[];
}

export interface PaymentView {
  id: string;
  status: PaymentTable['status'];
  provider: string;
  amountMinor: number;
  currency: string;
  snapshot: PaymentSnapshot;
  orderId: string | null;
  failureReason: string | null;
  /** Set once the tenant's admins were asked to refund it (money arrived for a failed payment). */
  refundRequestedAt: string | null;
  createdAt: string;
  updatedAt: string;
}

const line = z.object({ productId: z.string(), variantId: z.string().nullable(), name: z.string(), unitPriceMinor: z.number().int(), quantity: z.number().int(), lineTotalMinor: z.number().int() });
export const paymentSchema = z.object({
  id: z.string(),
  status: z.enum(['pending', 'confirmed', 'failed']),
  provider: z.string(),
  amountMinor: z.number().int(),
  currency: z.string(),
  snapshot: z.object({ cartVersion: z.number().int(), currency: z.string(), totalMinor: z.number().int(), lines: z.array(line) }),
  orderId: z.string().nullable(),
  failureReason: z.string().nullable(),
  refundRequestedAt: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

function view(row: PaymentTable): PaymentView {
  return {
    id: row.id,
    status: row.status,
    provider: row.provider,
    amountMinor: row.amount_minor,
    currency: row.currency,
    snapshot: JSON.parse(row.snapshot) as PaymentSnapshot,
    orderId: row.order_id,
    failureReason: row.failure_reason,
    refundRequestedAt: row.refund_requested_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export class Payments {
  readonly #providers = new Map<string, PaymentProvider>();

  constructor(private readonly domain: Domain) {}

  register(provider: PaymentProvider): this {
    this.#providers.set(provider.name, provider);
    return this;
  }

  provider(name: string): PaymentProvider {
    const provider = this.#providers.get(name);
    if (!provider) throw new HttpError(422, 'unknown_provider', `no payment provider '${name}' (have: ${[...this.#providers.keys()].join(', ')})`, { field: 'provider' });
    return provider;
  }

  /**
   * Starts paying for the cart as it is now. The lines and totals are copied into the payment, so
   * what is confirmed later is what was shown. One payment per cart version: two tabs checking out
   * the same cart get the same payment (and so at most one order); a newer checkout of a changed
   * cart supersedes older pending ones, so the customer cannot pay twice for the same items. After
   * a failed payment (declined, out of stock) checking out again makes a new one.
   */
  async createFromCart(user: ApiUser, providerName: string): Promise<{ payment: PaymentView; next: Record<string, unknown>; created: boolean }> {
    const provider = this.provider(providerName);
    // The checkout's transaction runs outside the request's Idempotency-Key: the key must store the
    // answer the client gets, {payment, next}, which exists only once the provider has started. A
    // retry racing this one redoes the checkout, which is idempotent per cart version.
    const { row, created } = await idempotencyScope.exit(() => transact(this.domain, async (unit) => {
      // No active cart yet is an empty one: nothing to create just to refuse it.
      let locked = await forUpdate(this.domain, unit.trx.selectFrom('carts').selectAll().where('user_id', '=', user.id).where('status', '=', 'active')).executeTakeFirst();
      const { items: lines, currency } = locked ? await cartContents(unit.trx, locked.id) : { items: [], currency: DEFAULT_CURRENCY };
      if (!locked || lines.length === 0) throw new HttpError(422, 'cart_empty', 'your cart is empty; add items before checking out', { field: 'cart' });
      const unavailable = lines.filter((l) => !l.available);
      if (unavailable.length > 0) {
        throw new HttpError(422, 'cart_unavailable', `some items are not available in that quantity: ${unavailable.map((l) => `${l.name} (${l.stock} left)`).join(', ')}`, {
          field: 'cart',
          items: unavailable.map((l) => ({ id: l.id, available: l.stock })),
        });
      }
      const existing = await unit.trx.selectFrom('payments').selectAll().where('cart_id', '=', locked.id).where('cart_version', '=', locked.version).executeTakeFirst();
      if (existing && existing.status !== 'failed') return { row: existing, created: false };
      if (existing) {
        // This cart state's payment failed (declined, or the stock ran out): paying again must be
        // possible without touching the cart, and a cart version has one payment, so the retry
        // moves the cart to a new version (every tab hears it) and pays that one.
        locked = await unit.trx
          .updateTable('carts')
          .set((eb) => ({ version: eb('version', '+', 1), updated_at: nowIso() }))
          .where('id', '=', locked.id)
          .returningAll()
          .executeTakeFirstOrThrow();
        unit.emit({ channel: cartChannel(locked.user_id), event: 'cart_update', data: await cartView(unit.trx, locked) });
      }
      const snapshot: PaymentSnapshot = {
        cartVersion: locked.version,
        currency,
        totalMinor: lines.reduce((n, l) => n + l.lineTotalMinor, 0),
        lines: lines.map((l) => ({ productId: l.productId, variantId: l.variantId, name: l.variantName ? `${l.name} (${l.variantName})` : l.name, unitPriceMinor: l.unitPriceMinor, quantity: l.quantity, lineTotalMinor: l.lineTotalMinor })),
      };
      const now = nowIso();
      await unit.trx
        .updateTable('payments')
        .set({ status: 'failed', failure_reason: 'superseded', updated_at: now })
        .where('cart_id', '=', locked.id)
        .where('status', '=', 'pending')
        .execute();
      const id = newId('pay');
      const row: PaymentTable = {
        id,
        user_id: user.id,
        tenant_id: user.tenant,
        cart_id: locked.id,
        cart_version: locked.version,
        provider: provider.name,
        // The provider's own reference is filled in once it has started; until then the id keeps it unique.
        provider_ref: id,
        status: 'pending',
        failure_reason: null,
        amount_minor: snapshot.totalMinor,
        currency,
        snapshot: JSON.stringify(snapshot),
        order_id: null,
        refund_requested_at: null,
        created_at: now,
        updated_at: now,
      };
      await unit.trx.insertInto('payments').values(row).execute();
      unit.emit({ channel: userChannel(user.id), event: 'payment_pending', data: { payment: view(row) } });
      return { row, created: true };
    }));
    // Outside the transaction: a real provider's start is a network call, and must be idempotent
    // per payment id (it is called again when a second tab checks out the same cart).
    // The payment's own provider: one found for this cart version may have been started with another
    // than this request names, and its reference must stay that provider's.
    const started = await this.provider(row.provider).start({ id: row.id, amountMinor: row.amount_minor, currency: row.currency, userId: user.id });
    if (row.status === 'pending' && started.providerRef !== row.provider_ref) {
      await this.domain.db.updateTable('payments').set({ provider_ref: started.providerRef }).where('id', '=', row.id).execute();
      row.provider_ref = started.providerRef;
    }
    // The Api stores this answer under the request's Idempotency-Key, with the status the route
    // answers (201 created, 200 found): the claim was left untouched above.
    return { payment: view(row), next: started.next, created };
  }

  async providerRef(id: string): Promise<string> {
    return (await this.domain.db.selectFrom('payments').select('provider_ref').where('id', '=', id).executeTakeFirstOrThrow()).provider_ref;
  }

  async get(user: ApiUser, id: string): Promise<PaymentView> {
    return view(await this.#readable(user, id));
  }

  /** The provider reference of a payment `user` is about to approve or decline as its customer
   * would: their own (staff may read a customer's payment, not approve it) and with `provider`. */
  async refToApprove(user: ApiUser, id: string, provider: string): Promise<string> {
    const row = await this.#readable(user, id);
    if (row.user_id !== user.id) throw new HttpError(403, 'forbidden', `only the customer paying ${row.id} may approve or decline it`);
    if (row.provider !== provider) throw new HttpError(409, 'not_sandbox', `payment ${row.id} is with ${row.provider}, not the ${provider}`);
    return row.provider_ref;
  }

  /** The payment if `user` may read it: their own, or (staff) any of their tenant; else a 404. */
  async #readable(user: ApiUser, id: string): Promise<PaymentTable> {
    const row = await this.domain.db.selectFrom('payments').selectAll().where('id', '=', id).executeTakeFirst();
    const staff = user.role === 'manager' || user.role === 'admin';
    if (!row || row.tenant_id !== user.tenant || (!staff && row.user_id !== user.id)) throw new HttpError(404, 'not_found', `no payment ${id}`);
    return row;
  }

  /**
   * A provider's callback. Verified first (401 otherwise); then idempotent: a payment that is no
   * longer pending answers its current state and changes nothing, so a provider retrying its
   * callback (they all do) cannot make a second order.
   */
  async callback(providerName: string, rawBody: string, headers: Record<string, string | string[] | undefined>): Promise<{ payment: PaymentView; order: OrderView | null }> {
    const provider = this.#providers.get(providerName);
    if (!provider) throw new HttpError(404, 'unknown_provider', `no payment provider '${providerName}'`);
    const outcome = provider.verify(rawBody, headers);
    if (!outcome) throw new HttpError(401, 'invalid_signature', `the callback is not signed by ${providerName}`);
    try {
      return await transact(this.domain, (unit) => this.#settle(unit, provider, outcome));
    } catch (err) {
      if (!(err instanceof OutOfStock)) throw err;
      // Paid, but the stock went to someone else meanwhile: record it and tell the admins to refund.
      return transact(this.domain, async (unit) => {
        // Read again under the lock: a concurrent retry of this callback may have settled the payment
        // since the rollback (stock came back), and a confirmed payment with its order must stay so.
        const current = await forUpdate(this.domain, unit.trx.selectFrom('payments').selectAll().where('id', '=', err.payment.id)).executeTakeFirstOrThrow();
        if (current.status !== 'pending') return { payment: view(current), order: current.order_id ? ((await orderView(unit.trx, current.order_id)) ?? null) : null };
        const failed = await this.#fail(unit, current, `out_of_stock: ${err.item}`);
        return { payment: view(await this.#askRefund(unit, failed, `out of stock: ${err.item}`)), order: null };
      });
    }
  }

  async #settle(unit: Unit, provider: PaymentProvider, outcome: ProviderOutcome): Promise<{ payment: PaymentView; order: OrderView | null }> {
    const { trx } = unit;
    const found = await trx.selectFrom('payments').select(['id', 'cart_id']).where('provider', '=', provider.name).where('provider_ref', '=', outcome.providerRef).executeTakeFirst();
    if (!found) throw new HttpError(404, 'unknown_payment', `no ${provider.name} payment with reference ${outcome.providerRef}`);
    // Locks in checkout's order, the cart before its payments; then stock, the tenant's order number
    // and the outbox. Payment first, a checkout superseding this payment while it settled deadlocked
    // with it (each holding what the other took next: the payment, the cart).
    await forUpdate(this.domain, trx.selectFrom('carts').select('id').where('id', '=', found.cart_id)).execute();
    const row = await forUpdate(this.domain, trx.selectFrom('payments').selectAll().where('id', '=', found.id)).executeTakeFirstOrThrow();
    if (row.status !== 'pending') {
      if (row.status === 'failed' && outcome.status === 'succeeded') {
        this.domain.log.error({ paymentId: row.id, reason: row.failure_reason }, 'money arrived for a payment that is no longer payable; refund needed');
        return { payment: view(await this.#askRefund(unit, row, row.failure_reason ?? 'failed')), order: null };
      }
      // Settled before (a provider's retry, a customer approving twice after a lost answer): the
      // same answer as the first time, order included, so a retrying client learns its order.
      return { payment: view(row), order: row.order_id ? ((await orderView(trx, row.order_id)) ?? null) : null };
    }
    if (outcome.status === 'failed') return { payment: view(await this.#fail(unit, row, outcome.reason ?? 'declined')), order: null };
    const snapshot = JSON.parse(row.snapshot) as PaymentSnapshot;
    await takeStock(trx, row, snapshot);
    const order = await createOrder(unit, {
      tenantId: row.tenant_id,
      customerId: row.user_id,
      title: snapshot.lines.map((l) => `${l.quantity} × ${l.name}`).join(', ').slice(0, 200),
      currency: row.currency,
      paymentId: row.id,
      status: 'paid',
      lines: snapshot.lines,
      actorId: null,
    });
    const now = nowIso();
    await trx.updateTable('payments').set({ status: 'confirmed', order_id: order.id, updated_at: now }).where('id', '=', row.id).execute();
    const confirmed = { ...row, status: 'confirmed' as const, order_id: order.id, updated_at: now };
    await this.#takeFromCart(unit, row, snapshot);
    unit.emit(
      { channel: userChannel(row.user_id), event: 'payment_confirmed', data: { payment: view(confirmed), order } },
      { channel: alertsChannel(row.tenant_id), event: 'order_paid', data: { order, payment: view(confirmed) } },
    );
    return { payment: view(confirmed), order };
  }

  /** Alerts the tenant's admins to refund a payment, once per payment however often the provider
   * calls back (the row is locked by the caller). */
  async #askRefund(unit: Unit, row: PaymentTable, reason: string): Promise<PaymentTable> {
    if (row.refund_requested_at !== null) return row;
    const asked = { ...row, refund_requested_at: nowIso() };
    await unit.trx.updateTable('payments').set({ refund_requested_at: asked.refund_requested_at }).where('id', '=', row.id).execute();
    unit.emit({ channel: alertsChannel(row.tenant_id), event: 'refund_needed', data: { payment: view(asked), reason } });
    return asked;
  }

  async #fail(unit: Unit, row: PaymentTable, reason: string): Promise<PaymentTable> {
    const now = nowIso();
    await unit.trx.updateTable('payments').set({ status: 'failed', failure_reason: reason, updated_at: now }).where('id', '=', row.id).execute();
    const failed = { ...row, status: 'failed' as const, failure_reason: reason, updated_at: now };
    unit.emit({ channel: userChannel(row.user_id), event: 'payment_failed', data: { payment: view(failed) } });
    return failed;
  }

  /** Removes what was paid for from the cart (items added since checkout started stay) and
   * pushes the new cart to every tab. */
  async #takeFromCart(unit: Unit, payment: PaymentTable, snapshot: PaymentSnapshot): Promise<void> {
    const { trx } = unit;
    const cart = await trx
      .updateTable('carts')
      .set((eb) => ({ version: eb('version', '+', 1), updated_at: nowIso() }))
      .where('id', '=', payment.cart_id)
      .returningAll()
      .executeTakeFirstOrThrow();
    for (const l of snapshot.lines) {
      const item = await trx.selectFrom('cart_items').select(['id', 'quantity']).where('cart_id', '=', cart.id).where('product_id', '=', l.productId).where('variant_id', '=', l.variantId ?? '').executeTakeFirst();
      if (!item) continue;
      if (item.quantity <= l.quantity) await trx.deleteFrom('cart_items').where('id', '=', item.id).execute();
      else await trx.updateTable('cart_items').set({ quantity: item.quantity - l.quantity }).where('id', '=', item.id).execute();
    }
    unit.emit({ channel: cartChannel(cart.user_id), event: 'cart_update', data: await cartView(trx, cart) });
  }
}

class OutOfStock extends Error {
  constructor(
    readonly payment: PaymentTable,
    readonly item: string,
  ) {
    super(`out of stock: ${item}`);
  }
}

/** Decrements stock for every line, only where enough is left; rolls the whole settlement back otherwise. */
async function takeStock(trx: Trx, payment: PaymentTable, snapshot: PaymentSnapshot): Promise<void> {
  // Stock rows are locked in one order (variants, then products, each by id), not the cart's: two
  // settlements of carts holding the same items in opposite orders deadlocked otherwise.
  const key = (l: OrderLineView) => (l.variantId ? `v ${l.variantId}` : `p ${l.productId}`);
  const ordered = [...snapshot.lines].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  for (const l of ordered) {
    const result = l.variantId
      ? await trx.updateTable('product_variants').set((eb) => ({ stock: eb('stock', '-', l.quantity) })).where('id', '=', l.variantId).where('stock', '>=', l.quantity).executeTakeFirst()
      : await trx.updateTable('products').set((eb) => ({ stock: eb('stock', '-', l.quantity) })).where('id', '=', l.productId).where('stock', '>=', l.quantity).executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) throw new OutOfStock(payment, l.name);
  }
}

