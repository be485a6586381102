import type { Generated } from 'kysely';

/** The orders' tables: orders, their lines and the history of their changes. */
declare module '../../core/db/schema.js' {
  interface DatabaseSchema {
    orders: OrderTable;
    order_lines: OrderLineTable;
    order_events: OrderEventTable;
  }
}

export type OrderStatus = 'pending' | 'paid' | 'assigned' | 'in_progress' | 'completed' | 'cancelled';

export interface OrderTable {
  id: string;
  /** Human-facing number, unique per tenant. */
  number: number;
  tenant_id: string;
  customer_id: string;
  worker_id: string | null;
  status: OrderStatus;
  progress: number;
  price_minor: number;
  currency: string;
  title: string;
  payment_id: string | null;
  version: number;
  created_at: string;
  updated_at: string;
}

export interface OrderLineTable {
  id: string;
  order_id: string;
  product_id: string;
  variant_id: string;
  name: string;
  unit_price_minor: number;
  quantity: number;
  line_total_minor: number;
}

export interface OrderEventTable {
  id: Generated<number>;
  order_id: string;
  actor_id: string | null;
  /** JSON: { field: [before, after] } for each field that changed. */
  changes: string;
  created_at: string;
}
