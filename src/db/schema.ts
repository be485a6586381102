import type { Generated } from 'kysely';

/**
 * The tables, as Kysely sees them. One schema for both engines: ids are text chosen by the app
 * (except the outbox and history sequences, which must be ordered), times are UTC ISO strings,
 * money is integer minor units, JSON is stored as text. Keeping to types both engines agree on
 * means one set of queries, not two.
 */
export interface DatabaseSchema {
  tenants: TenantTable;
  users: UserTable;
  tenant_members: TenantMemberTable;
  products: ProductTable;
  product_variants: VariantTable;
  carts: CartTable;
  cart_items: CartItemTable;
  idempotency_keys: IdempotencyKeyTable;
  payments: PaymentTable;
  orders: OrderTable;
  order_lines: OrderLineTable;
  order_events: OrderEventTable;
  outbox: OutboxTable;
  leases: LeaseTable;
}

export interface TenantTable {
  id: string;
  slug: string;
  name: string;
  next_order_number: Generated<number>;
  created_at: string;
}

export type Role = 'customer' | 'worker' | 'manager' | 'admin';
export const ROLES: readonly Role[] = ['customer', 'worker', 'manager', 'admin'];

export interface UserTable {
  id: string;
  email: string;
  name: string;
  password_hash: string;
  role: Role;
  /** The tenant the user acts in (a member of it); the token carries it. */
  tenant_id: string;
  created_at: string;
  /** Set while an admin has disabled the account: it cannot sign in, its tokens are refused. */
  disabled_at: string | null;
  /** Set when the account was deleted (its personal fields are blanked; its orders stay). */
  deleted_at: string | null;
}

export interface TenantMemberTable {
  tenant_id: string;
  user_id: string;
  role: Role;
  created_at: string;
}

export interface ProductTable {
  id: string;
  tenant_id: string;
  sku: string;
  name: string;
  description: string;
  price_minor: number;
  currency: string;
  /** Units on hand for a product without variants; ignored when the product has variants. */
  stock: number;
  active: number;
  created_at: string;
}

export interface VariantTable {
  id: string;
  product_id: string;
  sku: string;
  name: string;
  /** Added to the product's price (may be negative). */
  price_delta_minor: number;
  stock: number;
  active: number;
}

export interface CartTable {
  id: string;
  user_id: string;
  tenant_id: string;
  /** active: the user's cart; checked_out: turned into an order (kept for its payment). */
  status: 'active' | 'checked_out';
  /** Bumped by every change, in the same transaction: the compare-and-set token and the order of snapshots. */
  version: number;
  created_at: string;
  updated_at: string;
}

export interface CartItemTable {
  id: string;
  cart_id: string;
  product_id: string;
  /** '' for no variant: NULLs are distinct in unique indexes on both engines, '' is not. */
  variant_id: string;
  quantity: number;
  created_at: string;
}

export interface IdempotencyKeyTable {
  user_id: string;
  key: string;
  method: string;
  path: string;
  request_hash: string;
  status: number;
  response: string;
  created_at: string;
}

export type PaymentStatus = 'pending' | 'confirmed' | 'failed';

export interface PaymentTable {
  id: string;
  user_id: string;
  tenant_id: string;
  cart_id: string;
  /** The cart version the snapshot was taken at: one payment per cart state. */
  cart_version: number;
  provider: string;
  provider_ref: string;
  status: PaymentStatus;
  failure_reason: string | null;
  amount_minor: number;
  currency: string;
  /** JSON: the lines and totals as they were when the payment was created. */
  snapshot: string;
  order_id: string | null;
  /** When a refund_needed alert went out for it (once per payment). */
  refund_requested_at: string | null;
  created_at: string;
  updated_at: string;
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

export interface OutboxTable {
  /** The dispatch order: events leave in id order, so in commit order per channel. */
  id: Generated<number>;
  event_id: string;
  channel: string;
  event: string;
  data: string;
  created_at: string;
  sent_at: string | null;
}

/** Named leases (e.g. the outbox dispatcher on SQLite): one holder at a time, until it expires. */
export interface LeaseTable {
  name: string;
  holder: string;
  expires_at: string;
}
