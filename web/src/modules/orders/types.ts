import type { Role } from '@/lib/session';

export type OrderStatus = 'pending' | 'paid' | 'assigned' | 'in_progress' | 'completed' | 'cancelled';

export interface OrderLine {
  productId: string;
  variantId: string | null;
  name: string;
  unitPriceMinor: number;
  quantity: number;
  lineTotalMinor: number;
}

/** An order as the API answers and pushes it (docs/api.md). */
export interface Order {
  id: string;
  number: number;
  tenantId: string;
  status: OrderStatus;
  /** Percent done, 0-100. */
  progress: number;
  priceMinor: number;
  currency: string;
  title: string;
  customer: { id: string; name: string };
  worker: { id: string; name: string } | null;
  lines: OrderLine[];
  /** Rises with every change: of two copies of an order, the higher version is the newer. */
  version: number;
  /** The caller's moves in REST answers; a manager's in pushed events: read `nextByRole` instead. */
  next: OrderStatus[];
  /** The statuses each role may move the order to (`worker`: its assigned worker). */
  nextByRole: Record<Role, OrderStatus[]>;
  createdAt: string;
  updatedAt: string;
}

export type Changes = Partial<Record<string, [unknown, unknown]>>;

/** One change of an order: who (null: no account, e.g. the payment that created it), what, when. */
export interface HistoryEntry {
  id: number;
  actorId: string | null;
  actor: { id: string; name: string; role: string } | null;
  changes: Changes;
  at: string;
}

export interface OrderChange {
  order: Order;
  changes: Changes;
  /** The history entry the change wrote. */
  entry: HistoryEntry;
}

/** Events on order:, my-orders:, worker-orders: and staff-orders: channels. */
export interface OrderEvents {
  order_created: OrderChange;
  order_updated: OrderChange;
}

/** What PATCH /api/orders/:id takes (besides `version`). */
export interface OrderPatch {
  status?: OrderStatus;
  progress?: number;
  priceMinor?: number;
  workerId?: string | null;
}

export interface Worker {
  id: string;
  name: string;
}

export const STATUS_LABELS: Record<OrderStatus, string> = {
  pending: 'Waiting for payment',
  paid: 'Paid',
  assigned: 'Assigned',
  in_progress: 'In progress',
  completed: 'Completed',
  cancelled: 'Cancelled',
};

/** The newer of two copies of an order (either may be missing). */
export function newer(a: Order | undefined, b: Order | undefined): Order | undefined {
  if (!a) return b;
  if (!b) return a;
  return b.version > a.version ? b : a;
}
