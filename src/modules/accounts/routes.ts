import { z } from 'zod';
import type { Api } from '../../core/http/api.js';
import type { Domain } from '../../core/domain/context.js';
import { HttpError } from '../../core/http/errors.js';
import { ROLES, type Role } from './schema.js';
import { changeAccount, deleteAccount, listAccounts } from './administration.js';
import { createUser, login, register, sessionFor, userView } from './accounts.js';
import { presentDemoAccounts } from './seed.js';

const email = z.string().trim().email().max(200);
const password = z.string().min(8, 'must be at least 8 characters').max(200);
const name = z.string().trim().min(1).max(100);

const userSchema = z.object({
  id: z.string(),
  email: z.string(),
  name: z.string(),
  role: z.enum(ROLES as [string, ...string[]]),
  tenant: z.object({ id: z.string(), slug: z.string(), name: z.string() }),
  createdAt: z.string(),
});
const sessionSchema = z.object({ user: userSchema, token: z.string(), expiresAt: z.string() });
const accountSchema = userSchema.extend({ disabled: z.boolean() });
const idParams = z.object({ id: z.string().min(1).max(64) });
const role = z.enum(ROLES as [string, ...string[]]);

export function accountRoutes(api: Api, domain: Domain, options: { demoAccounts: boolean }): void {
  if (options.demoAccounts) demoAccountsRoute(api, domain);
  api.route({
    method: 'POST',
    url: '/api/auth/register',
    tag: 'accounts',
    throttled: true,
    summary: 'Create a customer account and sign in. Staff accounts are created by an admin.',
    auth: 'none',
    status: 201,
    body: z.object({ email, password, name, tenant: z.string().min(1).max(64).optional() }),
    response: sessionSchema,
    errors: { 409: 'email_taken' },
    handler: ({ body }) => register(domain, body),
  });
  api.route({
    method: 'POST',
    url: '/api/auth/login',
    tag: 'accounts',
    throttled: true,
    summary: 'Sign in: answers a JWT for the REST API (Authorization: Bearer) and the WebSocket (connect frame, ?token= or cookie).',
    auth: 'none',
    body: z.object({ email, password: z.string().min(1).max(200) }),
    response: sessionSchema,
    errors: { 401: 'invalid_credentials' },
    handler: ({ body }) => login(domain, body.email, body.password),
  });
  api.route({
    method: 'GET',
    url: '/api/me',
    tag: 'accounts',
    summary: 'The signed-in user, with role and tenant.',
    auth: 'user',
    response: z.object({ user: userSchema }),
    handler: async ({ user }) => {
      const me = await userView(domain.db, user.id);
      if (!me) throw new HttpError(401, 'invalid_token', 'the account of this token no longer exists');
      return { user: me };
    },
  });
  api.route({
    method: 'POST',
    url: '/api/users',
    tag: 'accounts',
    summary: 'Create a staff or customer account in your tenant (admin only).',
    auth: ['admin'],
    status: 201,
    body: z.object({ email, password, name, role: z.enum(ROLES as [string, ...string[]]) }),
    response: z.object({ user: userSchema }),
    errors: { 409: 'email_taken' },
    handler: async ({ user, body }) => {
      const id = await createUser(domain, { ...body, role: body.role as (typeof ROLES)[number], tenantId: user.tenant });
      return { user: (await sessionFor(domain, id)).user };
    },
  });
  api.route({
    method: 'GET',
    url: '/api/users',
    tag: 'accounts',
    summary: 'The accounts of your tenant, with whether each is disabled (admin only).',
    auth: ['admin'],
    response: z.object({ items: z.array(accountSchema) }),
    handler: async ({ user }) => ({ items: await listAccounts(domain, user) }),
  });
  api.route({
    method: 'PATCH',
    url: '/api/users/:id',
    tag: 'accounts',
    summary: 'Change an account of your tenant: its role, its tenant (one you are an admin of too), or disable or enable it (admin only). A change of role or tenant, or disabling, ends its connections on every node (close 4504) and its tokens stop working.',
    auth: ['admin'],
    params: idParams,
    body: z
      .object({ role: role.optional(), tenant: z.string().min(1).max(64).optional(), disabled: z.boolean().optional() })
      .refine((b) => b.role !== undefined || b.tenant !== undefined || b.disabled !== undefined, { message: 'give at least one of role, tenant, disabled' }),
    response: z.object({ user: accountSchema }),
    errors: { 404: 'not_found: no such account in your tenant', 409: 'last_admin: the tenant would have no active admin', 422: 'unknown_tenant' },
    handler: async ({ user, params, body }) => ({ user: await changeAccount(domain, user, params.id, { role: body.role as Role | undefined, tenant: body.tenant, disabled: body.disabled }) }),
  });
  api.route({
    method: 'DELETE',
    url: '/api/users/:id',
    tag: 'accounts',
    summary: 'Delete an account of your tenant (admin only): it cannot sign in again, its connections end on every node (close 4504); its orders and payments stay.',
    auth: ['admin'],
    params: idParams,
    status: 204,
    errors: { 404: 'not_found: no such account in your tenant', 409: 'last_admin: the tenant would have no active admin' },
    handler: async ({ user, params }) => {
      await deleteAccount(domain, user, params.id);
      return undefined;
    },
  });
}

/**
 * The demo accounts with their passwords, for the sign-in page to offer one click per role. Only
 * while demo data is on outside production: the same accounts `npm start` prints, whose passwords
 * are in the source; a node without demo data has no such route (404).
 */
function demoAccountsRoute(api: Api, domain: Domain): void {
  api.route({
    method: 'GET',
    url: '/api/dev/demo-accounts',
    tag: 'accounts',
    summary: 'Development only (demo data on, not production): the demo accounts that exist as seeded, with their passwords, one per role.',
    auth: 'none',
    response: z.object({ items: z.array(z.object({ email: z.string(), password: z.string(), role, name: z.string() })) }),
    handler: async () => ({ items: await presentDemoAccounts(domain) }),
  });
}
