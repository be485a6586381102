/** The cart's tables: one active cart per user and its lines. */
declare module '../../core/db/schema.js' {
  interface DatabaseSchema {
    carts: CartTable;
    cart_items: CartItemTable;
  }
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
