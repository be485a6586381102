import { z } from 'zod';
import type { Domain } from '../../core/domain/context.js';
import type { OrderStatus } from './schema.js';
import type { Api } from '../../core/http/api.js';
import { pageQuery } from '../../core/http/api.js';
import { assignableWorkers, changeOrder, historyEntrySchema, listOrders, orderHistory, orderSchema, readableOrder } from './orders.js';
import { ORDER_STATUSES } from './status.js';

const statusEnum = z.enum(ORDER_STATUSES as [OrderStatus, ...OrderStatus[]]);
const idParams = z.object({ id: z.string().min(1).max(64) });

export function orderRoutes(api: Api, domain: Domain): void {
  api.route({
    method: 'GET',
    url: '/api/orders',
    tag: 'orders',
    summary: 'Orders you may see, newest first: a customer their own, a worker those assigned to them, managers and admins all of their tenant.',
    auth: 'user',
    query: pageQuery.extend({ status: statusEnum.optional() }),
    response: z.object({ items: z.array(orderSchema), nextCursor: z.string().nullable() }),
    handler: ({ user, query }) => listOrders(domain.db, user, query),
  });
  // Staff assign orders to workers, and only admins may list accounts (GET /api/users): this is
  // the part of that list a manager needs, ids and names of the active workers.
  api.route({
    method: 'GET',
    url: '/api/orders/workers',
    tag: 'orders',
    summary: 'The active workers of your tenant, who can be assigned an order (managers and admins).',
    auth: ['manager', 'admin'],
    response: z.object({ items: z.array(z.object({ id: z.string(), name: z.string() })) }),
    handler: async ({ user }) => ({ items: await assignableWorkers(domain.db, user) }),
  });
  api.route({
    method: 'GET',
    url: '/api/orders/:id',
    tag: 'orders',
    summary: 'One order (404 also when you may not see it).',
    auth: 'user',
    params: idParams,
    response: orderSchema,
    errors: { 404: 'not_found' },
    handler: ({ user, params }) => readableOrder(domain.db, user, params.id),
  });
  api.route({
    method: 'GET',
    url: '/api/orders/:id/history',
    tag: 'orders',
    summary: 'Every change of the order: who, when, and each field before and after.',
    auth: 'user',
    params: idParams,
    response: z.object({ items: z.array(historyEntrySchema) }),
    errors: { 404: 'not_found' },
    handler: async ({ user, params }) => ({ items: await orderHistory(domain.db, user, params.id) }),
  });
  api.route({
    method: 'PATCH',
    url: '/api/orders/:id',
    tag: 'orders',
    summary: 'Change status, progress, price or worker, as your role allows. Pushes order_updated to the order and every dashboard showing it.',
    auth: 'user',
    idempotent: true,
    params: idParams,
    body: z.object({
      status: statusEnum.optional(),
      progress: z.number().int().min(0).max(100).optional(),
      priceMinor: z.number().int().min(0).max(1_000_000_000_00).optional(),
      workerId: z.string().min(1).max(64).nullable().optional(),
      version: z.number().int().min(0).optional().describe('compare-and-set: refuse unless the order is at this version'),
    }),
    response: orderSchema,
    errors: { 403: 'forbidden: your role may not make this change', 404: 'not_found', 409: 'invalid_transition (details.allowed), version_conflict, no_change', 422: 'unknown_worker, worker_required' },
    handler: ({ user, params, body }) => changeOrder(domain, user, params.id, body),
  });
}
