import type { Domain, Unit } from '../../core/domain/context.js';
import { transact } from '../../core/domain/context.js';
import { DEMO_ACCOUNTS, demoTenantId } from '../accounts/seed.js';
import { changeOrder, createOrder, type OrderLineView } from './orders.js';

async function line(domain: Domain, sku: string, quantity: number): Promise<OrderLineView> {
  const variant = await domain.db.selectFrom('product_variants as v').innerJoin('products as p', 'p.id', 'v.product_id').select(['p.id as pid', 'v.id as vid', 'p.name', 'v.name as vname', 'p.price_minor', 'v.price_delta_minor']).where('v.sku', '=', sku).executeTakeFirst();
  if (variant) {
    const unit = variant.price_minor + variant.price_delta_minor;
    return { productId: variant.pid, variantId: variant.vid, name: `${variant.name} (${variant.vname})`, unitPriceMinor: unit, quantity, lineTotalMinor: unit * quantity };
  }
  const p = await domain.db.selectFrom('products').select(['id', 'name', 'price_minor']).where('sku', '=', sku).executeTakeFirstOrThrow();
  return { productId: p.id, variantId: null, name: p.name, unitPriceMinor: p.price_minor, quantity, lineTotalMinor: p.price_minor * quantity };
}

/** A few orders at different points of their life, so every dashboard has something to show:
 * loaded when the demo tenant, its accounts and catalogue are there and it has no order yet. */
export async function seedDemoOrders(domain: Domain): Promise<void> {
  const tenantId = await demoTenantId(domain);
  if (!tenantId) return;
  if (await domain.db.selectFrom('orders').select('id').where('tenant_id', '=', tenantId).limit(1).executeTakeFirst()) return;
  const users = await domain.db.selectFrom('users').select(['id', 'email']).where('tenant_id', '=', tenantId).execute();
  const idOf = (role: string) => users.find((u) => u.email === DEMO_ACCOUNTS.find((a) => a.role === role)?.email)?.id;
  const [customerId, workerId, managerId] = [idOf('customer'), idOf('worker'), idOf('manager')];
  if (!customerId || !workerId || !managerId) return;
  if (!(await domain.db.selectFrom('products').select('id').where('tenant_id', '=', tenantId).limit(1).executeTakeFirst())) return;
  const manager = { id: managerId, role: 'manager' as const, tenant: tenantId };
  const plans: { skus: [string, number][]; steps: Parameters<typeof changeOrder>[3][] }[] = [
    { skus: [['BOOST-1', 1]], steps: [{ workerId }, { status: 'in_progress' }, { progress: 40 }] },
    { skus: [['COF-250', 2], ['MUG-01', 1]], steps: [] },
    { skus: [['FLT-100', 1]], steps: [{ workerId }, { status: 'in_progress' }, { status: 'completed' }] },
  ];
  for (const plan of plans) {
    const lines = await Promise.all(plan.skus.map(([sku, q]) => line(domain, sku, q)));
    const order = await transact(domain, (unit) =>
      createOrder(unit, { tenantId, customerId, title: lines.map((l) => `${l.quantity} × ${l.name}`).join(', '), currency: 'USD', paymentId: null, status: 'paid', lines, actorId: null }),
    );
    for (const step of plan.steps) await changeOrder(domain, manager, order.id, step);
  }
}

export async function resetOrders({ trx }: Unit): Promise<void> {
  await trx.deleteFrom('order_events').execute();
  await trx.deleteFrom('order_lines').execute();
  await trx.deleteFrom('orders').execute();
}
