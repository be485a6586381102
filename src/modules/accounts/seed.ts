import { createUser } from './accounts.js';
import type { Domain, Unit } from '../../core/domain/context.js';
import { accountRevokedEvent } from '../../core/switchboard.js';
import { newId, nowIso } from '../../core/db/ids.js';
import type { Role } from './schema.js';

export interface DemoAccount {
  email: string;
  password: string;
  role: Role;
  name: string;
}

/** The demo tenant: the shop the demo accounts, catalogue and orders belong to. */
export const DEMO_TENANT = { slug: 'demo', name: 'Demo Shop' };

/** Known on purpose: printed at every development start so a first-time user can sign in as every role. */
export const DEMO_ACCOUNTS: DemoAccount[] = [
  { email: 'customer@demo.test', password: 'customer-demo', role: 'customer', name: 'Cora Customer' },
  { email: 'worker@demo.test', password: 'worker-demo', role: 'worker', name: 'Wes Worker' },
  { email: 'manager@demo.test', password: 'manager-demo', role: 'manager', name: 'Mona Manager' },
  { email: 'admin@demo.test', password: 'admin-demo', role: 'admin', name: 'Ada Admin' },
];

/** The demo tenant's id, or undefined before the accounts module's seed ran. */
export async function demoTenantId(domain: Domain): Promise<string | undefined> {
  return (await domain.db.selectFrom('tenants').select('id').where('slug', '=', DEMO_TENANT.slug).executeTakeFirst())?.id;
}

/** The demo tenant and its four accounts, unless the database has accounts already. */
export async function seedAccounts(domain: Domain): Promise<void> {
  const any = await domain.db.selectFrom('users').select('id').limit(1).executeTakeFirst();
  if (any) return;
  const tenantId = (await demoTenantId(domain)) ?? newId('ten');
  await domain.db.insertInto('tenants').values({ id: tenantId, slug: DEMO_TENANT.slug, name: DEMO_TENANT.name, created_at: nowIso() }).onConflict((oc) => oc.doNothing()).execute();
  for (const account of DEMO_ACCOUNTS) await createUser(domain, { ...account, tenantId });
}

/** Which demo accounts exist as listed (for printing them: a database that has other accounts,
 * or demo accounts whose passwords were changed, does not get them printed). */
export async function presentDemoAccounts(domain: Domain): Promise<DemoAccount[]> {
  const rows = await domain.db.selectFrom('users').select('email').where('email', 'in', DEMO_ACCOUNTS.map((a) => a.email)).where('deleted_at', 'is', null).execute();
  const present = new Set(rows.map((r) => r.email));
  return DEMO_ACCOUNTS.filter((a) => present.has(a.email));
}

/** Deletes every account and tenant; a running node ends their connections when its outbox
 * dispatcher publishes the revocations, within a poll (about a second). */
export async function resetAccounts({ trx, emit }: Unit): Promise<void> {
  for (const { id } of await trx.selectFrom('users').select('id').execute()) emit(accountRevokedEvent(id));
  await trx.deleteFrom('idempotency_keys').execute();
  await trx.deleteFrom('tenant_members').execute();
  await trx.deleteFrom('users').execute();
  await trx.deleteFrom('tenants').execute();
}
