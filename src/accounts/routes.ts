import { z } from 'zod';
import type { Api } from '../http/api.js';
import type { Domain } from '../domain/context.js';
import { HttpError } from '../http/errors.js';
import { ROLES } from '../db/schema.js';
import { createUser, login, register, sessionFor, userView } from './accounts.js';

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

export function accountRoutes(api: Api, domain: Domain): void {
  api.route({
    method: 'POST',
    url: '/api/auth/register',
    tag: 'accounts',
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
}
