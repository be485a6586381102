import { z } from 'zod';
import { isValidChannel } from '@switchboard/client/protocol';
import { pageQuery, type Api } from '../../core/http/api.js';
import type { AuditLog } from './audit.js';
import { AUDIT_ACTIONS } from './schema.js';
import type { ConsoleService } from './service.js';

const channel = z.string().min(1).max(233).refine(isValidChannel, 'not a channel name (namespace:key, letters, digits and _-.@=#/,)');
const auditEntry = z.object({
  id: z.string(),
  at: z.string(),
  actor: z.object({ id: z.string(), name: z.string(), email: z.string() }),
  action: z.enum(AUDIT_ACTIONS as [string, ...string[]]),
  target: z.string(),
  details: z.record(z.string(), z.unknown()),
});
const position = { epoch: z.string(), offset: z.number() };
const coverage = z.object({ node: z.string(), nodes: z.array(z.string()), missing: z.array(z.string()), partial: z.boolean() });
const ADMIN = ['admin'] as const;

/** The operator's console: the channels and connections of the admin's tenant on every node, a test
 * publish and history, ending a user's sessions, and the audit log of all of it. */
export function consoleRoutes(api: Api, service: ConsoleService, audit: AuditLog): void {
  api.route({
    method: 'GET',
    url: '/api/console/channels',
    tag: 'console',
    summary: "Channels your shop's connections follow, on every node, with their counts (only your users are counted).",
    auth: ADMIN,
    response: z.object({
      at: z.string(),
      coverage,
      more: z.boolean(),
      channels: z.array(z.object({ channel: z.string(), namespace: z.string(), connections: z.number(), users: z.number(), own: z.boolean(), canPublish: z.boolean(), canReadHistory: z.boolean() })),
    }),
    handler: ({ user }) => service.channels(user),
  });
  api.route({
    method: 'GET',
    url: '/api/console/channels/history',
    tag: 'console',
    summary: "The newest publications of a channel of your shop that you may read (404 for any other).",
    auth: ADMIN,
    query: z.object({ channel, limit: z.coerce.number().int().min(1).max(100).default(20) }),
    response: z.object({ channel: z.string(), ...position, publications: z.array(z.object({ event: z.string(), data: z.unknown(), offset: z.number(), time: z.string() })) }),
    handler: ({ user, query }) => service.history(user, query.channel, query.limit),
  });
  api.route({
    method: 'POST',
    url: '/api/console/publish',
    tag: 'console',
    summary: 'Publish a console_test event to a channel of your shop that you may read; written to the audit log first.',
    auth: ADMIN,
    body: z.object({ channel, message: z.string().trim().min(1).max(500) }),
    response: z.object({ channel: z.string(), event: z.string(), data: z.unknown(), ...position, audit: auditEntry }),
    errors: { 404: 'not_found: not a channel of your shop that you may read', 503: 'unavailable: the channel layer cannot serve; retry' },
    handler: ({ user, body }) => service.publishTest(user, body.channel, body.message),
  });
  api.route({
    method: 'GET',
    url: '/api/console/connections',
    tag: 'console',
    summary: "Your shop's users connected to any node, their connections grouped.",
    auth: ADMIN,
    response: z.object({
      at: z.string(),
      coverage,
      more: z.boolean(),
      users: z.array(z.object({ id: z.string(), name: z.string(), email: z.string(), role: z.string(), connections: z.number(), channels: z.number(), since: z.string(), nodes: z.array(z.string()) })),
    }),
    handler: ({ user }) => service.connections(user),
  });
  api.route({
    method: 'POST',
    url: '/api/console/users/:id/end-sessions',
    tag: 'console',
    summary: 'Sign a user of your shop out: every node closes their connections (4504, not retried). Their token is not revoked: disable the account to lock them out.',
    auth: ADMIN,
    params: z.object({ id: z.string().min(1).max(64) }),
    response: z.object({ user: z.object({ id: z.string(), name: z.string(), email: z.string() }), connections: z.number(), audit: auditEntry }),
    errors: { 404: 'not_found: no such account in your shop', 409: 'own_sessions: sign yourself out instead', 503: 'unavailable: the channel layer cannot serve; retry' },
    handler: ({ user, params }) => service.endSessions(user, params.id),
  });
  api.route({
    method: 'GET',
    url: '/api/console/audit',
    tag: 'console',
    summary: "What your shop's admins did from the console, newest first.",
    auth: ADMIN,
    query: pageQuery,
    response: z.object({ items: z.array(auditEntry), nextCursor: z.string().nullable() }),
    handler: ({ user, query }) => audit.list(user.tenant, query.limit, query.cursor),
  });
}
