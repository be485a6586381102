import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createUser } from '../../src/modules/accounts/accounts.js';
import { newId, nowIso } from '../../src/core/db/ids.js';
import type { TestApp } from '../helpers/app.js';
import { WsTestClient } from '../helpers/ws-client.js';

export const PASSWORD = 'password-123';

export interface Account {
  id: string;
  token: string;
  tenant: string;
}

/** The demo account of a role, with its id and tenant. */
export async function demo(t: TestApp, role: 'customer' | 'worker' | 'manager' | 'admin'): Promise<Account> {
  const token = await t.loginAs(role);
  const me = await t.request('GET', '/api/me', { token });
  assert.equal(me.status, 200, JSON.stringify(me.body));
  return { id: me.body.user.id, token, tenant: me.body.user.tenant.id };
}

/** A second shop with an admin and a customer. */
export async function otherShop(t: TestApp): Promise<{ tenant: string; admin: Account; customer: Account }> {
  const { domain } = t.app;
  const tenant = newId('ten');
  await domain.db.insertInto('tenants').values({ id: tenant, slug: `other-${randomBytes(3).toString('hex')}`, name: 'Other Shop', created_at: nowIso() }).execute();
  const make = async (role: 'admin' | 'customer'): Promise<Account> => {
    const email = `${role}-${randomBytes(4).toString('hex')}@other.test`;
    const id = await createUser(domain, { email, password: PASSWORD, name: `Other ${role}`, role, tenantId: tenant });
    return { id, token: await t.login(email, PASSWORD), tenant };
  };
  return { tenant, admin: await make('admin'), customer: await make('customer') };
}

/** A socket of `token`, welcomed and subscribed to `channels`. */
export async function connected(t: TestApp, token: string, channels: string[] = []): Promise<WsTestClient> {
  const client = await WsTestClient.open(t.wsUrl, { token });
  await client.expectOp('welcome');
  for (const channel of channels) await client.ok({ op: 'subscribe', channel });
  return client;
}
