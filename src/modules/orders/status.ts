import type { OrderStatus } from './schema.js';

export const ORDER_STATUSES: readonly OrderStatus[] = ['pending', 'paid', 'assigned', 'in_progress', 'completed', 'cancelled'];

/** The lifecycle: any move not listed here is refused. */
const NEXT: Record<OrderStatus, readonly OrderStatus[]> = {
  pending: ['paid', 'cancelled'],
  paid: ['assigned', 'cancelled'],
  // Back to paid: the worker is taken off the order and it waits for another.
  assigned: ['in_progress', 'paid', 'cancelled'],
  in_progress: ['completed', 'cancelled'],
  completed: [],
  cancelled: [],
};

export function canMove(from: OrderStatus, to: OrderStatus): boolean {
  return NEXT[from].includes(to);
}

export function nextStatuses(from: OrderStatus): readonly OrderStatus[] {
  return NEXT[from];
}

/** Who acts on an order: an account (the API's caller), with one of the four account roles. */
export interface Actor {
  id: string;
  role: string;
  tenant: string;
}

export interface OrderFacts {
  tenant_id: string;
  customer_id: string;
  worker_id: string | null;
}

/** Who may read an order: its customer, its assigned worker, staff (manager, admin) of its tenant. */
export function mayRead(actor: Actor, order: OrderFacts): boolean {
  if (actor.tenant !== order.tenant_id) return false;
  if (actor.role === 'manager' || actor.role === 'admin') return true;
  if (actor.role === 'worker') return order.worker_id === actor.id;
  return order.customer_id === actor.id;
}

export interface Change {
  status?: OrderStatus | undefined;
  progress?: number | undefined;
  priceMinor?: number | undefined;
  workerId?: string | null | undefined;
}

/**
 * What each role may change, beyond being able to read the order:
 * - customer: cancel their own order while it is pending or paid;
 * - worker (assigned): start it, report progress, complete it;
 * - manager, admin: everything (assign, price, status, progress).
 * Returns the reason for a refusal, or null.
 */
export function refusal(actor: Actor, current: OrderStatus, change: Change): string | null {
  if (actor.role === 'manager' || actor.role === 'admin') return null;
  if (actor.role === 'customer') {
    const onlyCancel = change.status === 'cancelled' && change.progress === undefined && change.priceMinor === undefined && change.workerId === undefined;
    if (!onlyCancel) return 'a customer may only cancel their order';
    if (current !== 'pending' && current !== 'paid') return 'the order is already being worked on; ask the shop to cancel it';
    return null;
  }
  if (change.priceMinor !== undefined || change.workerId !== undefined) return 'only a manager or admin may change the price or the worker';
  if (change.status !== undefined && change.status !== 'in_progress' && change.status !== 'completed') return `a worker may set the status to in_progress or completed, not ${change.status}`;
  return null;
}
