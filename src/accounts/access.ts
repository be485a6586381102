import type { UserInfo } from '@switchboard/client/protocol';
import type { Db } from '../domain/context.js';
import { ROLES, type Role } from '../db/schema.js';
import type { ApiUser } from '../http/api.js';

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

/** Whether the account still exists with the role and tenant its token claims. */
export async function isLive(db: Db, claimed: ApiUser): Promise<boolean> {
  const row = await db.selectFrom('users').select(['role', 'tenant_id']).where('id', '=', claimed.id).executeTakeFirst();
  return row !== undefined && row.role === claimed.role && row.tenant_id === claimed.tenant;
}
