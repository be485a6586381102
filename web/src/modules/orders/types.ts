/** An order as the API answers and pushes it (docs/api.md); only the fields these pages read. */
export interface Order {
  id: string;
  number: number;
  status: 'pending' | 'paid' | 'assigned' | 'in_progress' | 'completed' | 'cancelled';
  progress: number;
  priceMinor: number;
  currency: string;
  title: string;
  customer: { id: string; name: string };
  worker: { id: string; name: string } | null;
  version: number;
  updatedAt: string;
}

/** Events on my-orders:, worker-orders: and staff-orders: channels. */
export interface OrderEvents {
  order_created: { order: Order; changes: Record<string, [unknown, unknown]> };
  order_updated: { order: Order; changes: Record<string, [unknown, unknown]> };
}

export const STATUS_LABELS: Record<Order['status'], string> = {
  pending: 'Waiting for payment',
  paid: 'Paid',
  assigned: 'Assigned',
  in_progress: 'In progress',
  completed: 'Completed',
  cancelled: 'Cancelled',
};
