import type { UserInfo } from '@switchboard/client/protocol';
import type { Db } from '../../core/domain/context.js';
import { ROLES, type Role } from './schema.js';
import type { ApiUser } from '../../core/http/api.js';

/** An account token's user (role and tenant known), or null for other tokens. */
export function accountUser(user: UserInfo | null): ApiUser | null {
  if (!user || !user.tenant || !ROLES.includes(user.role as Role)) return null;
  return { id: user.id, role: user.role as Role, tenant: user.tenant };
}

/**
 * The token's account if it still exists with the token's role and tenant. Tokens outlive
 * accounts (12 h; `switchboard seed` deletes them all), so channel rules ask the database, as the
 * REST API does, rather than trusting the claims alone.
 */
export async function liveAccount(db: Db, user: UserInfo | null): Promise<ApiUser | null> {
  const claimed = accountUser(user);
  return claimed && (await isLive(db, claimed)) ? claimed : null;
}

/** Whether the account still exists, is neither disabled nor deleted, and has the role and tenant
 * its token claims. */
export async function isLive(db: Db, claimed: ApiUser): Promise<boolean> {
  const row = await db.selectFrom('users').select(['role', 'tenant_id', 'disabled_at', 'deleted_at']).where('id', '=', claimed.id).executeTakeFirst();
  return row !== undefined && row.disabled_at === null && row.deleted_at === null && row.role === claimed.role && row.tenant_id === claimed.tenant;
}

/**
 * The check every connection passes at connect and refresh: an account token only while its
 * account is live. Other tokens (minted by `switchboard token` for users that are not accounts,
 * or by another backend) carry no tenant or no account role and pass; the namespaces decide what
 * they may do, and the account namespaces (cart, orders, alerts) refuse them.
 */
export function principalCheck(db: Db): (user: UserInfo) => Promise<boolean> {
  return async (user) => {
    const claimed = accountUser(user);
    return claimed === null || (await isLive(db, claimed));
  };
}
