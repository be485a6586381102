/** The payments table: one payment per cart version, with its provider's reference. */
declare module '../../core/db/schema.js' {
  interface DatabaseSchema {
    payments: PaymentTable;
  }
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
