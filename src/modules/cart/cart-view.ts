import { z } from 'zod';
import type { Db } from '../../core/domain/context.js';
import type { CartTable } from './schema.js';

/** Money is integer minor units; totals are computed from the catalogue's current prices. */
export interface CartLine {
  id: string;
  productId: string;
  variantId: string | null;
  sku: string;
  name: string;
  variantName: string | null;
  unitPriceMinor: number;
  quantity: number;
  lineTotalMinor: number;
  /** In stock for this quantity and still sold. */
  available: boolean;
  stock: number;
}

export interface CartView {
  id: string;
  userId: string;
  /** Rises with every change: a client keeps the snapshot with the highest version. */
  version: number;
  currency: string;
  items: CartLine[];
  /** Sum of quantities. */
  count: number;
  totalMinor: number;
  hasUnavailableItems: boolean;
  updatedAt: string;
}

const cartLineSchema = z.object({
  id: z.string(),
  productId: z.string(),
  variantId: z.string().nullable(),
  sku: z.string(),
  name: z.string(),
  variantName: z.string().nullable(),
  unitPriceMinor: z.number().int(),
  quantity: z.number().int(),
  lineTotalMinor: z.number().int(),
  available: z.boolean(),
  stock: z.number().int(),
});

export const cartSchema = z.object({
  id: z.string(),
  userId: z.string(),
  version: z.number().int(),
  currency: z.string(),
  items: z.array(cartLineSchema),
  count: z.number().int(),
  totalMinor: z.number().int(),
  hasUnavailableItems: z.boolean(),
  updatedAt: z.string(),
});

export const DEFAULT_CURRENCY = 'USD';

/** The cart's lines priced from the catalogue, and their currency: items share one (the first
 * item's); an empty cart shows the tenant default. */
export async function cartContents(db: Db, cartId: string): Promise<{ items: CartLine[]; currency: string }> {
  const rows = await db
    .selectFrom('cart_items as i')
    .innerJoin('products as p', 'p.id', 'i.product_id')
    .leftJoin('product_variants as v', (j) => j.onRef('v.id', '=', 'i.variant_id'))
    .select(['i.id', 'i.product_id', 'i.variant_id', 'i.quantity', 'p.sku', 'p.name', 'p.price_minor', 'p.currency', 'p.stock', 'p.active', 'v.sku as v_sku', 'v.name as v_name', 'v.price_delta_minor', 'v.stock as v_stock', 'v.active as v_active'])
    .where('i.cart_id', '=', cartId)
    .orderBy('i.created_at')
    .orderBy('i.id')
    .execute();
  const items = rows.map((r): CartLine => {
    const hasVariant = r.variant_id !== '';
    const unit = r.price_minor + (hasVariant ? (r.price_delta_minor ?? 0) : 0);
    const stock = hasVariant ? (r.v_stock ?? 0) : r.stock;
    const active = r.active === 1 && (!hasVariant || r.v_active === 1);
    return {
      id: r.id,
      productId: r.product_id,
      variantId: hasVariant ? r.variant_id : null,
      sku: hasVariant ? (r.v_sku ?? r.sku) : r.sku,
      name: r.name,
      variantName: hasVariant ? (r.v_name ?? null) : null,
      unitPriceMinor: unit,
      quantity: r.quantity,
      lineTotalMinor: unit * r.quantity,
      available: active && r.quantity <= stock,
      stock,
    };
  });
  return { items, currency: rows[0]?.currency ?? DEFAULT_CURRENCY };
}

export async function cartView(db: Db, cart: Pick<CartTable, 'id' | 'user_id' | 'version' | 'updated_at'>): Promise<CartView> {
  const { items, currency } = await cartContents(db, cart.id);
  return {
    id: cart.id,
    userId: cart.user_id,
    version: cart.version,
    currency,
    items,
    count: items.reduce((n, i) => n + i.quantity, 0),
    totalMinor: items.reduce((n, i) => n + i.lineTotalMinor, 0),
    hasUnavailableItems: items.some((i) => !i.available),
    updatedAt: cart.updated_at,
  };
}
