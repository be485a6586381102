import { z } from 'zod';
import type { Db, Domain, Unit } from '../../core/domain/context.js';
import { transact } from '../../core/domain/context.js';
import { newId, nowIso } from '../../core/db/ids.js';
import type { OrderStatus, OrderTable } from './schema.js';
import { decodeCursor, encodeCursor } from '../../core/http/api.js';
import { HttpError } from '../../core/http/errors.js';
import { canMove, mayRead, nextStatuses, refusal, ORDER_STATUSES, type Actor, type Change } from './status.js';

export const orderChannel = (orderId: string) => `order:${orderId}`;
/** A customer's own orders. */
export const customerOrdersChannel = (userId: string) => `my-orders:${userId}`;
/** The orders assigned to a worker. */
export const workerOrdersChannel = (userId: string) => `worker-orders:${userId}`;
/** Every order of a tenant, for its managers and admins. */
export const staffOrdersChannel = (tenantId: string) => `staff-orders:${tenantId}`;

export interface OrderLineView {
  productId: string;
  variantId: string | null;
  name: string;
  unitPriceMinor: number;
  quantity: number;
  lineTotalMinor: number;
}

export interface OrderView {
  id: string;
  number: number;
  tenantId: string;
  customer: { id: string; name: string };
  worker: { id: string; name: string } | null;
  status: OrderStatus;
  /** Percent done, 0-100; reported while in_progress, 100 once completed. */
  progress: number;
  priceMinor: number;
  currency: string;
  title: string;
  paymentId: string | null;
  lines: OrderLineView[];
  /** Rises with every change: a dashboard keeps the highest version it saw of each order. */
  version: number;
  /** The statuses the viewer may move it to (REST answers, the subscribe snapshot); in pushed
   * events, which every viewer shares, a manager's. */
  next: OrderStatus[];
  /** The statuses each role may move it to: what a page shows as buttons (the assigned worker's
   * under `worker`). */
  nextByRole: Record<'customer' | 'worker' | 'manager' | 'admin', OrderStatus[]>;
  createdAt: string;
  updatedAt: string;
}

const person = z.object({ id: z.string(), name: z.string() });
export const orderSchema = z.object({
  id: z.string(),
  number: z.number().int(),
  tenantId: z.string(),
  customer: person,
  worker: person.nullable(),
  status: z.enum(ORDER_STATUSES as [OrderStatus, ...OrderStatus[]]),
  progress: z.number().int(),
  priceMinor: z.number().int(),
  currency: z.string(),
  title: z.string(),
  paymentId: z.string().nullable(),
  lines: z.array(z.object({ productId: z.string(), variantId: z.string().nullable(), name: z.string(), unitPriceMinor: z.number().int(), quantity: z.number().int(), lineTotalMinor: z.number().int() })),
  version: z.number().int(),
  next: z.array(z.string()),
  nextByRole: z.object({ customer: z.array(z.string()), worker: z.array(z.string()), manager: z.array(z.string()), admin: z.array(z.string()) }),
  createdAt: z.string(),
  updatedAt: z.string(),
});

type Row = OrderTable & { customer_name: string; worker_name: string | null };

function baseQuery(db: Db) {
  return db
    .selectFrom('orders as o')
    .innerJoin('users as c', 'c.id', 'o.customer_id')
    .leftJoin('users as w', 'w.id', 'o.worker_id')
    .selectAll('o')
    .select(['c.name as customer_name', 'w.name as worker_name']);
}

const ROLES_WITH_MOVES = ['customer', 'worker', 'manager', 'admin'] as const;

/** The moves `role` may make from `status` (a worker: as the order's assigned worker). */
function movesFor(role: string, status: OrderStatus): OrderStatus[] {
  return nextStatuses(status).filter((to) => refusal({ id: '', role, tenant: '' }, status, { status: to }) === null);
}

async function views(db: Db, rows: Row[], viewer?: Actor): Promise<OrderView[]> {
  if (rows.length === 0) return [];
  const lines = await db.selectFrom('order_lines').selectAll().where('order_id', 'in', rows.map((r) => r.id)).orderBy('id').execute();
  return rows.map((r) => ({
    id: r.id,
    number: r.number,
    tenantId: r.tenant_id,
    customer: { id: r.customer_id, name: r.customer_name },
    worker: r.worker_id ? { id: r.worker_id, name: r.worker_name ?? '' } : null,
    status: r.status,
    progress: r.progress,
    priceMinor: r.price_minor,
    currency: r.currency,
    title: r.title,
    paymentId: r.payment_id,
    lines: lines
      .filter((l) => l.order_id === r.id)
      .map((l) => ({ productId: l.product_id, variantId: l.variant_id === '' ? null : l.variant_id, name: l.name, unitPriceMinor: l.unit_price_minor, quantity: l.quantity, lineTotalMinor: l.line_total_minor })),
    version: r.version,
    next: movesFor(viewer?.role ?? 'manager', r.status),
    nextByRole: Object.fromEntries(ROLES_WITH_MOVES.map((role) => [role, movesFor(role, r.status)])) as OrderView['nextByRole'],
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  }));
}

/** The order, unchecked: for callers that already know it is theirs to see (a payment's own order). */
export async function orderView(db: Db, id: string, viewer?: Actor): Promise<OrderView | undefined> {
  const row = await baseQuery(db).where('o.id', '=', id).executeTakeFirst();
  return row ? (await views(db, [row], viewer))[0] : undefined;
}

/** The order if `actor` may read it. Someone who may not gets the same 404 as for a missing
 * order, so order ids cannot be probed. */
export async function readableOrder(db: Db, actor: Actor, id: string): Promise<OrderView> {
  const view = await orderIfReadable(db, actor, id);
  if (!view) throw new HttpError(404, 'not_found', `no order ${id}`);
  return view;
}

/** The order if `actor` may read it, else undefined (channel rules refuse rather than throw). */
export async function orderIfReadable(db: Db, actor: Actor, id: string): Promise<OrderView | undefined> {
  const view = await orderView(db, id, actor);
  return view && mayRead(actor, { tenant_id: view.tenantId, customer_id: view.customer.id, worker_id: view.worker?.id ?? null }) ? view : undefined;
}

export async function listOrders(db: Db, actor: Actor, query: { limit: number; cursor?: string | undefined; status?: OrderStatus | undefined }): Promise<{ items: OrderView[]; nextCursor: string | null }> {
  let q = baseQuery(db).where('o.tenant_id', '=', actor.tenant);
  if (actor.role === 'customer') q = q.where('o.customer_id', '=', actor.id);
  else if (actor.role === 'worker') q = q.where('o.worker_id', '=', actor.id);
  if (query.status) q = q.where('o.status', '=', query.status);
  if (query.cursor) {
    const [created, id] = decodeCursor(query.cursor, 2) as [string, string];
    q = q.where((eb) => eb.or([eb('o.created_at', '<', created), eb.and([eb('o.created_at', '=', created), eb('o.id', '<', id)])]));
  }
  const rows = await q.orderBy('o.created_at', 'desc').orderBy('o.id', 'desc').limit(query.limit + 1).execute();
  const page = rows.slice(0, query.limit);
  const last = page.at(-1);
  return { items: await views(db, page, actor), nextCursor: rows.length > query.limit && last ? encodeCursor([last.created_at, last.id]) : null };
}

/** Who made a change, as pages name them: the account's name and role (null: the system, e.g. a
 * payment confirming the order). Staff names are shown to the order's customer too, as a shop's
 * staff sign their work. */
export interface HistoryActor {
  id: string;
  name: string;
  role: string;
}

export interface HistoryEntry {
  id: number;
  actorId: string | null;
  actor: HistoryActor | null;
  changes: Record<string, [unknown, unknown]>;
  at: string;
}

export const historyEntrySchema = z.object({
  id: z.number().int(),
  actorId: z.string().nullable(),
  actor: z.object({ id: z.string(), name: z.string(), role: z.string() }).nullable(),
  changes: z.record(z.string(), z.tuple([z.unknown(), z.unknown()])),
  at: z.string(),
});

function historyQuery(db: Db) {
  return db
    .selectFrom('order_events as e')
    .leftJoin('users as u', 'u.id', 'e.actor_id')
    .select(['e.id', 'e.actor_id', 'e.changes', 'e.created_at', 'u.name as actor_name', 'u.role as actor_role']);
}

type HistoryRow = { id: number; actor_id: string | null; changes: string; created_at: string; actor_name: string | null; actor_role: string | null };

function historyEntry(r: HistoryRow): HistoryEntry {
  return {
    id: r.id,
    actorId: r.actor_id,
    actor: r.actor_id ? { id: r.actor_id, name: r.actor_name ?? '', role: r.actor_role ?? '' } : null,
    changes: JSON.parse(r.changes) as Record<string, [unknown, unknown]>,
    at: r.created_at,
  };
}

export async function orderHistory(db: Db, actor: Actor, id: string): Promise<HistoryEntry[]> {
  await readableOrder(db, actor, id);
  const rows = await historyQuery(db).where('e.order_id', '=', id).orderBy('e.id').execute();
  return rows.map(historyEntry);
}

/** Writes one history entry in the change's transaction and reads it back as the API shows it. */
async function recordChange(trx: Db, orderId: string, actorId: string | null, changes: Record<string, [unknown, unknown]>, at: string): Promise<HistoryEntry> {
  const { id } = await trx.insertInto('order_events').values({ order_id: orderId, actor_id: actorId, changes: JSON.stringify(changes), created_at: at }).returning('id').executeTakeFirstOrThrow();
  return historyEntry((await historyQuery(trx).where('e.id', '=', id).executeTakeFirstOrThrow()) as HistoryRow);
}

/** The workers of the actor's tenant who can be assigned an order (active accounts), by name. */
export async function assignableWorkers(db: Db, actor: Actor): Promise<{ id: string; name: string }[]> {
  return db.selectFrom('users').select(['id', 'name']).where('tenant_id', '=', actor.tenant).where('role', '=', 'worker').where('disabled_at', 'is', null).where('deleted_at', 'is', null).orderBy('name').orderBy('id').execute();
}

/** Publishes an order's new state to its own channel and every dashboard that shows it, with the
 * history entry the change wrote (who, when), so open pages add it to their timeline and say who
 * changed what without asking. */
function emitOrder(unit: Unit, view: OrderView, event: 'order_created' | 'order_updated', entry: HistoryEntry, formerWorker: string | null): void {
  const data = { order: view, changes: entry.changes, entry };
  const channels = new Set([orderChannel(view.id), customerOrdersChannel(view.customer.id), staffOrdersChannel(view.tenantId)]);
  if (view.worker) channels.add(workerOrdersChannel(view.worker.id));
  // The worker taken off the order hears it too, so their dashboard drops it.
  if (formerWorker && formerWorker !== view.worker?.id) channels.add(workerOrdersChannel(formerWorker));
  for (const channel of channels) unit.emit({ channel, event, data });
}

export interface NewOrder {
  tenantId: string;
  customerId: string;
  title: string;
  currency: string;
  paymentId: string | null;
  status: 'pending' | 'paid';
  lines: OrderLineView[];
  actorId: string | null;
}

/** Creates an order inside the caller's unit (checkout, seed) and emits order_created. */
export async function createOrder(unit: Unit, input: NewOrder): Promise<OrderView> {
  const { trx } = unit;
  const tenant = await trx
    .updateTable('tenants')
    .set((eb) => ({ next_order_number: eb('next_order_number', '+', 1) }))
    .where('id', '=', input.tenantId)
    .returning('next_order_number')
    .executeTakeFirstOrThrow();
  const id = newId('ord');
  const now = nowIso();
  const price = input.lines.reduce((n, l) => n + l.lineTotalMinor, 0);
  await trx
    .insertInto('orders')
    .values({ id, number: tenant.next_order_number - 1, tenant_id: input.tenantId, customer_id: input.customerId, worker_id: null, status: input.status, progress: 0, price_minor: price, currency: input.currency, title: input.title, payment_id: input.paymentId, version: 1, created_at: now, updated_at: now })
    .execute();
  if (input.lines.length > 0) {
    await trx
      .insertInto('order_lines')
      // Lines are read back in id order: ids that sort by position keep the order they were bought in
      // (random ids shuffled them). The order's own random part keeps them unique.
      .values(input.lines.map((l, i) => ({ id: `oli_${id.slice(id.indexOf('_') + 1)}_${String(i).padStart(6, '0')}`, order_id: id, product_id: l.productId, variant_id: l.variantId ?? '', name: l.name, unit_price_minor: l.unitPriceMinor, quantity: l.quantity, line_total_minor: l.lineTotalMinor })))
      .execute();
  }
  const entry = await recordChange(trx, id, input.actorId, { status: [null, input.status] }, now);
  const view = (await orderView(trx, id))!;
  emitOrder(unit, view, 'order_created', entry, null);
  return view;
}

export type OrderChange = Change & { version?: number | undefined };

/**
 * Applies a change by a role allowed to make it. The first UPDATE bumps the version and holds the
 * row lock until commit, so concurrent changes queue and each sees the last one's result.
 */
export function changeOrder(domain: Domain, actor: Actor, id: string, change: OrderChange): Promise<OrderView> {
  if (change.status === undefined && change.progress === undefined && change.priceMinor === undefined && change.workerId === undefined) {
    throw new HttpError(400, 'invalid_body', 'nothing to change: give status, progress, priceMinor or workerId', { field: 'status' });
  }
  return transact(domain, async (unit) => {
    const { trx } = unit;
    const locked = await trx
      .updateTable('orders')
      .set((eb) => ({ version: eb('version', '+', 1), updated_at: nowIso() }))
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
    if (!locked || !mayRead(actor, locked)) throw new HttpError(404, 'not_found', `no order ${id}`);
    if (change.version !== undefined && change.version !== locked.version - 1) {
      throw new HttpError(409, 'version_conflict', `the order is at version ${locked.version - 1}, not ${change.version}; refetch it`, { field: 'version', currentVersion: locked.version - 1 });
    }
    const refused = refusal(actor, locked.status, change);
    if (refused) throw new HttpError(403, 'forbidden', refused);
    const next = await planChange(unit, locked, change);
    const changes: Record<string, [unknown, unknown]> = {};
    for (const key of Object.keys(next) as (keyof typeof next)[]) {
      if (next[key] !== locked[key]) changes[key] = [locked[key], next[key]];
    }
    if (Object.keys(changes).length === 0) throw new HttpError(409, 'no_change', 'the order already has these values', { field: Object.keys(change)[0] ?? 'status' });
    await trx.updateTable('orders').set(next).where('id', '=', id).execute();
    const entry = await recordChange(trx, id, actor.id, renameFields(changes), nowIso());
    const view = (await orderView(trx, id))!;
    emitOrder(unit, view, 'order_updated', entry, locked.worker_id);
    // The answer is the caller's: its `next` lists the moves they may make.
    return { ...view, next: movesFor(actor.role, view.status) };
  });
}

type Planned = Pick<OrderTable, 'status' | 'progress' | 'price_minor' | 'worker_id'>;

async function planChange(unit: Unit, current: OrderTable, change: Change): Promise<Planned> {
  const next: Planned = { status: current.status, progress: current.progress, price_minor: current.price_minor, worker_id: current.worker_id };
  if (change.workerId !== undefined) {
    if (change.workerId !== null) {
      const worker = await unit.trx.selectFrom('users').select(['id', 'role', 'tenant_id']).where('id', '=', change.workerId).where('disabled_at', 'is', null).where('deleted_at', 'is', null).executeTakeFirst();
      if (!worker || worker.role !== 'worker' || worker.tenant_id !== current.tenant_id) throw new HttpError(422, 'unknown_worker', `no worker ${change.workerId} in this tenant`, { field: 'workerId' });
    }
    next.worker_id = change.workerId;
    // Assigning a paid order moves it to assigned; taking the worker off an assigned one moves it back.
    if (change.status === undefined && change.workerId !== null && current.status === 'paid') next.status = 'assigned';
    if (change.status === undefined && change.workerId === null && current.status === 'assigned') next.status = 'paid';
  }
  if (change.status !== undefined) next.status = change.status;
  if (next.status !== current.status && !canMove(current.status, next.status)) {
    throw new HttpError(409, 'invalid_transition', `an order that is ${current.status} cannot become ${next.status}; it may become ${nextStatuses(current.status).join(', ') || 'nothing (final)'}`, {
      field: 'status',
      from: current.status,
      to: next.status,
      allowed: nextStatuses(current.status),
    });
  }
  // Back to paid is the worker taken off (docs/api.md): a paid order waits for one, and its former
  // worker no longer reads it. Naming a worker in the same change contradicts that.
  if (next.status === 'paid' && next.worker_id !== null) {
    if (change.workerId) throw new HttpError(409, 'invalid_transition', 'a paid order has no worker: give workerId alone to assign it (it becomes assigned)', { field: 'workerId', from: current.status, to: next.status, allowed: nextStatuses(current.status) });
    next.worker_id = null;
  }
  if ((next.status === 'assigned' || next.status === 'in_progress') && next.worker_id === null) throw new HttpError(422, 'worker_required', `an order that is ${next.status} needs a worker: give workerId`, { field: 'workerId' });
  if (change.progress !== undefined) {
    if (next.status !== 'in_progress') throw new HttpError(409, 'invalid_transition', `progress is reported while in_progress; the order is ${next.status}`, { field: 'progress' });
    next.progress = change.progress;
  }
  if (next.status === 'completed') next.progress = 100;
  if (change.priceMinor !== undefined) {
    if (current.status === 'completed' || current.status === 'cancelled') throw new HttpError(409, 'invalid_transition', `the price of a ${current.status} order is final`, { field: 'priceMinor' });
    next.price_minor = change.priceMinor;
  }
  return next;
}

/** The wire names of changed fields (camelCase, as in OrderView). */
function renameFields(changes: Record<string, [unknown, unknown]>): Record<string, [unknown, unknown]> {
  const names: Record<string, string> = { price_minor: 'priceMinor', worker_id: 'workerId' };
  return Object.fromEntries(Object.entries(changes).map(([k, v]) => [names[k] ?? k, v]));
}
