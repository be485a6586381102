import { createUser } from '../accounts/accounts.js';
import { transact, type Domain } from '../domain/context.js';
import { accountRevokedEvent } from '../switchboard.js';
import { newId, nowIso } from '../db/ids.js';
import type { Role } from '../db/schema.js';
import { seedDemoOrders } from './demo-orders.js';

export interface DemoAccount {
  email: string;
  password: string;
  role: Role;
  name: string;
}

/** Known on purpose: printed at start-up so a first-time user can sign in as every role. */
export const DEMO_ACCOUNTS: DemoAccount[] = [
  { email: 'customer@demo.test', password: 'customer-demo', role: 'customer', name: 'Cora Customer' },
  { email: 'worker@demo.test', password: 'worker-demo', role: 'worker', name: 'Wes Worker' },
  { email: 'manager@demo.test', password: 'manager-demo', role: 'manager', name: 'Mona Manager' },
  { email: 'admin@demo.test', password: 'admin-demo', role: 'admin', name: 'Ada Admin' },
];

interface DemoProduct {
  sku: string;
  name: string;
  description: string;
  priceMinor: number;
  stock: number;
  variants?: { sku: string; name: string; deltaMinor: number; stock: number }[];
}

const CATALOGUE: DemoProduct[] = [
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

async function isEmpty(domain: Domain): Promise<boolean> {
  const row = await domain.db.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return Number(row.n) === 0;
}

/** Loads the demo data into an empty database; a database with any account is left alone. */
export async function seedIfEmpty(domain: Domain): Promise<DemoAccount[] | null> {
  if (!(await isEmpty(domain))) return null;
  await seedDemo(domain);
  return DEMO_ACCOUNTS;
}

/** Deletes every domain row (accounts, catalogue, carts, payments, orders) and loads the demo
 * again. Unsent outbox events are kept: they describe changes that did happen. */
export async function reseed(domain: Domain): Promise<DemoAccount[]> {
  await transact(domain, async ({ trx, emit }) => {
    // A running node (this process or another sharing the database) ends the deleted accounts'
    // connections when its outbox dispatcher publishes these, within a poll (about a second).
    for (const { id } of await trx.selectFrom('users').select('id').execute()) emit(accountRevokedEvent(id));
    for (const table of ['order_events', 'order_lines', 'orders', 'payments', 'idempotency_keys', 'cart_items', 'carts', 'product_variants', 'products', 'tenant_members', 'users', 'tenants'] as const) {
      await trx.deleteFrom(table).execute();
    }
  });
  await seedDemo(domain);
  return DEMO_ACCOUNTS;
}

async function seedDemo(domain: Domain): Promise<void> {
  const tenantId = newId('ten');
  const created_at = nowIso();
  await domain.db.insertInto('tenants').values({ id: tenantId, slug: 'demo', name: 'Demo Shop', created_at }).execute();
  const ids = new Map<Role, string>();
  for (const account of DEMO_ACCOUNTS) ids.set(account.role, await createUser(domain, { ...account, tenantId }));
  const productIds = new Map<string, string>();
  for (const p of CATALOGUE) {
    const id = newId('prd');
    productIds.set(p.sku, id);
    await domain.db.insertInto('products').values({ id, tenant_id: tenantId, sku: p.sku, name: p.name, description: p.description, price_minor: p.priceMinor, currency: 'USD', stock: p.stock, active: 1, created_at }).execute();
    for (const v of p.variants ?? []) {
      await domain.db.insertInto('product_variants').values({ id: newId('var'), product_id: id, sku: v.sku, name: v.name, price_delta_minor: v.deltaMinor, stock: v.stock, active: 1 }).execute();
    }
  }
  await seedDemoOrders(domain, { tenantId, customerId: ids.get('customer')!, workerId: ids.get('worker')!, managerId: ids.get('manager')! });
}
