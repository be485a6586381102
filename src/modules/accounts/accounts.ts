import type { Domain, Db } from '../../core/domain/context.js';
import { transact } from '../../core/domain/context.js';
import { isUniqueViolation } from '../../core/db/database.js';
import { newId, nowIso } from '../../core/db/ids.js';
import type { Role } from './schema.js';
import { HttpError } from '../../core/http/errors.js';
import { DUMMY_HASH, hashPassword, verifyPassword } from './passwords.js';

export interface UserView {
  id: string;
  email: string;
  name: string;
  role: Role;
  tenant: { id: string; slug: string; name: string };
  createdAt: string;
}

export interface Session {
  user: UserView;
  token: string;
  expiresAt: string;
}

/** Account tokens live this long; the WebSocket and the REST API both accept them. */
const TOKEN_TTL_SECONDS = 12 * 3600;

export async function createUser(domain: Domain, input: { email: string; password: string; name: string; role: Role; tenantId: string }): Promise<string> {
  const id = newId('usr');
  const password_hash = await hashPassword(input.password);
  const created_at = nowIso();
  try {
    await transact(domain, async ({ trx }) => {
      await trx.insertInto('users').values({ id, email: input.email.toLowerCase(), name: input.name, password_hash, role: input.role, tenant_id: input.tenantId, created_at, disabled_at: null, deleted_at: null }).execute();
      await trx.insertInto('tenant_members').values({ tenant_id: input.tenantId, user_id: id, role: input.role, created_at }).execute();
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw new HttpError(409, 'email_taken', `an account with the email ${input.email} already exists`, { field: 'email' });
    throw err;
  }
  return id;
}

export async function register(domain: Domain, input: { email: string; password: string; name: string; tenant?: string | undefined }): Promise<Session> {
  const tenant = input.tenant
    ? await domain.db.selectFrom('tenants').select('id').where('slug', '=', input.tenant).executeTakeFirst()
    : await domain.db.selectFrom('tenants').select('id').orderBy('created_at').orderBy('id').limit(1).executeTakeFirst();
  if (!tenant) throw input.tenant ? new HttpError(400, 'unknown_tenant', `no tenant '${input.tenant}'`, { field: 'tenant' }) : new HttpError(409, 'no_tenant', 'there is no tenant to join yet; run `switchboard seed` or create one');
  // Self-registration only ever makes customers; staff accounts are made by an admin or the seed.
  const id = await createUser(domain, { ...input, role: 'customer', tenantId: tenant.id });
  return sessionFor(domain, id);
}

export async function login(domain: Domain, email: string, password: string): Promise<Session> {
  const row = await domain.db.selectFrom('users').select(['id', 'password_hash', 'disabled_at']).where('email', '=', email.toLowerCase()).where('deleted_at', 'is', null).executeTakeFirst();
  const ok = await verifyPassword(password, row?.password_hash || DUMMY_HASH);
  if (!row || !ok) throw new HttpError(401, 'invalid_credentials', 'the email or password is wrong');
  // Said only to someone who knows the password: a stranger learns nothing about the account.
  if (row.disabled_at !== null) throw new HttpError(403, 'account_disabled', 'this account is disabled; ask an admin of your shop to enable it');
  return sessionFor(domain, row.id);
}

export async function sessionFor(domain: Domain, userId: string): Promise<Session> {
  const user = await userView(domain.db, userId);
  if (!user) throw new HttpError(404, 'not_found', 'no such user');
  const token = await domain.tokens.mint({ user: user.id, role: user.role, tenant: user.tenant.id, ttlSeconds: TOKEN_TTL_SECONDS });
  return { user, token, expiresAt: new Date(Date.now() + TOKEN_TTL_SECONDS * 1000).toISOString() };
}

export async function userView(db: Db, userId: string): Promise<UserView | undefined> {
  const row = await db
    .selectFrom('users')
    .innerJoin('tenants', 'tenants.id', 'users.tenant_id')
    .select(['users.id', 'users.email', 'users.name', 'users.role', 'users.created_at', 'tenants.id as tenant_id', 'tenants.slug as tenant_slug', 'tenants.name as tenant_name'])
    .where('users.id', '=', userId)
    .executeTakeFirst();
  if (!row) return undefined;
  return { id: row.id, email: row.email, name: row.name, role: row.role, tenant: { id: row.tenant_id, slug: row.tenant_slug, name: row.tenant_name }, createdAt: row.created_at };
}
