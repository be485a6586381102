import type { Domain, Unit } from '../../core/domain/context.js';
import { newId, nowIso } from '../../core/db/ids.js';
import { demoTenantId } from '../accounts/seed.js';

export interface DemoProduct {
  sku: string;
  name: string;
  description: string;
  priceMinor: number;
  stock: number;
  variants?: { sku: string; name: string; deltaMinor: number; stock: number }[];
}

export const CATALOGUE: DemoProduct[] = [
  { sku: 'COF-250', name: 'House coffee beans 250 g', description: 'Medium roast, whole beans.', priceMinor: 1250, stock: 120 },
  { sku: 'MUG-01', name: 'Enamel mug', description: 'Keeps its chips with pride.', priceMinor: 900, stock: 40 },
  {
    sku: 'TEE',
    name: 'Switchboard T-shirt',
    description: 'Soft cotton, printed wiring diagram.',
    priceMinor: 2000,
    stock: 0,
    variants: [
      { sku: 'TEE-S', name: 'Small', deltaMinor: 0, stock: 10 },
      { sku: 'TEE-M', name: 'Medium', deltaMinor: 0, stock: 25 },
      { sku: 'TEE-XL', name: 'Extra large', deltaMinor: 300, stock: 3 },
    ],
  },
  {
    sku: 'BOOST',
    name: 'Rank boost',
    description: 'A worker plays your account up a division (the seeds\' booster service).',
    priceMinor: 4500,
    stock: 0,
    variants: [
      { sku: 'BOOST-1', name: 'One division', deltaMinor: 0, stock: 1000 },
      { sku: 'BOOST-3', name: 'Three divisions', deltaMinor: 8000, stock: 1000 },
    ],
  },
  { sku: 'GRN-1K', name: 'Grinder', description: 'Hand grinder, ceramic burrs.', priceMinor: 3499, stock: 5 },
  { sku: 'FLT-100', name: 'Paper filters (100)', description: 'Unbleached.', priceMinor: 450, stock: 300 },
];

/** The demo catalogue in the demo tenant, unless that tenant has products already. */
export async function seedCatalog(domain: Domain): Promise<void> {
  const tenantId = await demoTenantId(domain);
  if (!tenantId) return;
  const any = await domain.db.selectFrom('products').select('id').where('tenant_id', '=', tenantId).limit(1).executeTakeFirst();
  if (any) return;
  const created_at = nowIso();
  for (const p of CATALOGUE) {
    const id = newId('prd');
    await domain.db.insertInto('products').values({ id, tenant_id: tenantId, sku: p.sku, name: p.name, description: p.description, price_minor: p.priceMinor, currency: 'USD', stock: p.stock, active: 1, created_at }).execute();
    for (const v of p.variants ?? []) {
      await domain.db.insertInto('product_variants').values({ id: newId('var'), product_id: id, sku: v.sku, name: v.name, price_delta_minor: v.deltaMinor, stock: v.stock, active: 1 }).execute();
    }
  }
}

export async function resetCatalog({ trx }: Unit): Promise<void> {
  await trx.deleteFrom('product_variants').execute();
  await trx.deleteFrom('products').execute();
}
