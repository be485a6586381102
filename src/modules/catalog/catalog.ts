import { z } from 'zod';
import type { Db } from '../../core/domain/context.js';
import type { Api } from '../../core/http/api.js';
import { decodeCursor, encodeCursor, pageQuery } from '../../core/http/api.js';
import { HttpError } from '../../core/http/errors.js';

export interface VariantView {
  id: string;
  sku: string;
  name: string;
  priceMinor: number;
  stock: number;
  active: boolean;
}

export interface ProductView {
  id: string;
  sku: string;
  name: string;
  description: string;
  priceMinor: number;
  currency: string;
  /** For a product without variants; with variants, each variant has its own. */
  stock: number;
  active: boolean;
  variants: VariantView[];
}

const variantSchema = z.object({ id: z.string(), sku: z.string(), name: z.string(), priceMinor: z.number().int(), stock: z.number().int(), active: z.boolean() });
const productSchema = z.object({
  id: z.string(),
  sku: z.string(),
  name: z.string(),
  description: z.string(),
  priceMinor: z.number().int(),
  currency: z.string(),
  stock: z.number().int(),
  active: z.boolean(),
  variants: z.array(variantSchema),
});

async function views(db: Db, rows: { id: string; sku: string; name: string; description: string; price_minor: number; currency: string; stock: number; active: number }[]): Promise<ProductView[]> {
  if (rows.length === 0) return [];
  const variants = await db.selectFrom('product_variants').selectAll().where('product_id', 'in', rows.map((r) => r.id)).orderBy('sku').execute();
  return rows.map((r) => ({
    id: r.id,
    sku: r.sku,
    name: r.name,
    description: r.description,
    priceMinor: r.price_minor,
    currency: r.currency,
    stock: r.stock,
    active: r.active === 1,
    variants: variants
      .filter((v) => v.product_id === r.id)
      .map((v) => ({ id: v.id, sku: v.sku, name: v.name, priceMinor: r.price_minor + v.price_delta_minor, stock: v.stock, active: v.active === 1 })),
  }));
}

export function catalogRoutes(api: Api, db: Db): void {
  api.route({
    method: 'GET',
    url: '/api/products',
    tag: 'catalog',
    summary: 'The catalogue of your tenant, by SKU, paginated.',
    auth: 'user',
    query: pageQuery,
    response: z.object({ items: z.array(productSchema), nextCursor: z.string().nullable() }),
    handler: async ({ user, query }) => {
      let q = db.selectFrom('products').selectAll().where('tenant_id', '=', user.tenant).orderBy('sku').limit(query.limit + 1);
      if (query.cursor) q = q.where('sku', '>', decodeCursor(query.cursor, 1)[0]!);
      const rows = await q.execute();
      const page = rows.slice(0, query.limit);
      const last = page.at(-1);
      return { items: await views(db, page), nextCursor: rows.length > query.limit && last ? encodeCursor([last.sku]) : null };
    },
  });
  api.route({
    method: 'GET',
    url: '/api/products/:id',
    tag: 'catalog',
    summary: 'One product with its variants and stock.',
    auth: 'user',
    params: z.object({ id: z.string().min(1).max(64) }),
    response: productSchema,
    errors: { 404: 'not_found' },
    handler: async ({ user, params }) => {
      const row = await db.selectFrom('products').selectAll().where('id', '=', params.id).where('tenant_id', '=', user.tenant).executeTakeFirst();
      if (!row) throw new HttpError(404, 'not_found', `no product ${params.id}`);
      return (await views(db, [row]))[0];
    },
  });
}
