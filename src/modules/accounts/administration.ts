import { forUpdate, transact, type Domain, type Trx } from '../../core/domain/context.js';
import { nowIso } from '../../core/db/ids.js';
import type { Role } from './schema.js';
import type { ApiUser } from '../../core/http/api.js';
import { HttpError } from '../../core/http/errors.js';
import { accountRevokedEvent } from '../../core/switchboard.js';
import { userView, type UserView } from './accounts.js';

export interface AccountView extends UserView {
  disabled: boolean;
}

export interface AccountChange {
  role?: Role | undefined;
  /** Slug or id of the tenant to move the account to; the admin must be an admin there too. */
  tenant?: string | undefined;
  disabled?: boolean | undefined;
}

/** The accounts of the admin's tenant, oldest first; deleted ones are not listed. */
export async function listAccounts(domain: Domain, admin: ApiUser): Promise<AccountView[]> {
  const rows = await domain.db
    .selectFrom('users')
    .innerJoin('tenants', 'tenants.id', 'users.tenant_id')
    .select(['users.id', 'users.email', 'users.name', 'users.role', 'users.created_at', 'users.disabled_at', 'tenants.id as tenant_id', 'tenants.slug as tenant_slug', 'tenants.name as tenant_name'])
    .where('users.tenant_id', '=', admin.tenant)
    .where('users.deleted_at', 'is', null)
    .orderBy('users.created_at')
    .orderBy('users.id')
    .execute();
  return rows.map((r) => ({
    id: r.id,
    email: r.email,
    name: r.name,
    role: r.role,
    tenant: { id: r.tenant_id, slug: r.tenant_slug, name: r.tenant_name },
    createdAt: r.created_at,
    disabled: r.disabled_at !== null,
  }));
}

/**
 * Changes an account's role, tenant or disabled state. Any change that alters what its tokens
 * claim or whether it may act ends its live connections on every node (the revocation goes out
 * through the outbox, so only if this commits); its tokens are refused from then on.
 */
export async function changeAccount(domain: Domain, admin: ApiUser, id: string, change: AccountChange): Promise<AccountView> {
  await transact(domain, async (unit) => {
    const { trx } = unit;
    const row = await accountOf(domain, trx, admin, id);
    const now = nowIso();
    let tenantId = row.tenant_id;
    if (change.tenant !== undefined) {
      const tenant = await trx.selectFrom('tenants').select('id').where((eb) => eb.or([eb('id', '=', change.tenant!), eb('slug', '=', change.tenant!)])).executeTakeFirst();
      if (!tenant) throw new HttpError(422, 'unknown_tenant', `no tenant '${change.tenant}'`, { field: 'tenant' });
      const adminThere = await trx.selectFrom('tenant_members').select('role').where('tenant_id', '=', tenant.id).where('user_id', '=', admin.id).executeTakeFirst();
      if (adminThere?.role !== 'admin') throw new HttpError(403, 'forbidden', 'you can move an account only to a tenant you are an admin of', { field: 'tenant' });
      tenantId = tenant.id;
    }
    const role = change.role ?? row.role;
    const disabledAt = change.disabled === undefined ? row.disabled_at : change.disabled ? (row.disabled_at ?? now) : null;
    const losesAdmin = row.role === 'admin' && row.disabled_at === null && (role !== 'admin' || tenantId !== row.tenant_id || disabledAt !== null);
    if (losesAdmin) await keepAnAdmin(trx, row.tenant_id, row.id);
    await trx.updateTable('users').set({ role, tenant_id: tenantId, disabled_at: disabledAt }).where('id', '=', row.id).execute();
    if (tenantId !== row.tenant_id) {
      await trx.deleteFrom('tenant_members').where('tenant_id', '=', row.tenant_id).where('user_id', '=', row.id).execute();
      await trx.insertInto('tenant_members').values({ tenant_id: tenantId, user_id: row.id, role, created_at: now }).onConflict((oc) => oc.columns(['tenant_id', 'user_id']).doUpdateSet({ role })).execute();
    } else if (role !== row.role) {
      await trx.updateTable('tenant_members').set({ role }).where('tenant_id', '=', tenantId).where('user_id', '=', row.id).execute();
    }
    const revoked = role !== row.role || tenantId !== row.tenant_id || (disabledAt !== null && row.disabled_at === null);
    if (revoked) unit.emit(accountRevokedEvent(row.id));
  });
  const view = await userView(domain.db, id);
  const state = await domain.db.selectFrom('users').select('disabled_at').where('id', '=', id).executeTakeFirstOrThrow();
  return { ...view!, disabled: state.disabled_at !== null };
}

/**
 * Deletes an account: it can no longer sign in and its tokens stop working at once on every node.
 * Its orders and payments stay (they are the tenant's records); its email, name and password go.
 */
export async function deleteAccount(domain: Domain, admin: ApiUser, id: string): Promise<void> {
  await transact(domain, async (unit) => {
    const { trx } = unit;
    const row = await accountOf(domain, trx, admin, id);
    if (row.role === 'admin' && row.disabled_at === null) await keepAnAdmin(trx, row.tenant_id, row.id);
    await trx
      .updateTable('users')
      .set({ email: `deleted+${row.id}@deleted.invalid`, name: 'Deleted account', password_hash: '', deleted_at: nowIso() })
      .where('id', '=', row.id)
      .execute();
    await trx.deleteFrom('tenant_members').where('user_id', '=', row.id).execute();
    unit.emit(accountRevokedEvent(row.id));
  });
}

/** The account if it is in the admin's tenant and not deleted (404 otherwise, not 403: another
 * tenant's accounts are not the admin's to know about). The tenant's row is locked first: two
 * admins demoting each other at once must not both pass the last-admin check. */
async function accountOf(domain: Domain, trx: Trx, admin: ApiUser, id: string): Promise<{ id: string; role: Role; tenant_id: string; disabled_at: string | null }> {
  await forUpdate(domain, trx.selectFrom('tenants').select('id').where('id', '=', admin.tenant)).execute();
  const row = await trx.selectFrom('users').select(['id', 'role', 'tenant_id', 'disabled_at']).where('id', '=', id).where('deleted_at', 'is', null).executeTakeFirst();
  if (!row || row.tenant_id !== admin.tenant) throw new HttpError(404, 'not_found', `no account ${id} in your tenant`);
  return row;
}

/** Refuses a change that would leave the tenant without an active admin: nobody could undo it. */
async function keepAnAdmin(trx: Trx, tenantId: string, leaving: string): Promise<void> {
  const other = await trx
    .selectFrom('users')
    .select('id')
    .where('tenant_id', '=', tenantId)
    .where('role', '=', 'admin')
    .where('id', '!=', leaving)
    .where('disabled_at', 'is', null)
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
  if (!other) throw new HttpError(409, 'last_admin', 'this is the tenant\'s last active admin; make another admin first');
}
