import { z } from 'zod';
import type { Api } from '../../core/http/api.js';
import { rawBodyOf } from '../../core/http/app.js';
import { HttpError } from '../../core/http/errors.js';
import { orderSchema } from '../orders/orders.js';
import { paymentSchema, type Payments } from './payments.js';
import type { SandboxProvider } from './sandbox.js';

const idParams = z.object({ id: z.string().min(1).max(64) });

export function paymentRoutes(api: Api, payments: Payments, sandbox: SandboxProvider | null): void {
  api.route({
    method: 'POST',
    url: '/api/payments/create-from-cart',
    tag: 'payments',
    summary: 'Start paying for your cart as it is now: a pending payment with a snapshot of the lines and totals. The same cart version gives the same payment (201 first, 200 after).',
    auth: 'user',
    idempotent: true,
    status: 201,
    body: z.object({ provider: z.string().min(1).max(32).default('sandbox') }),
    response: z.object({ payment: paymentSchema, next: z.record(z.string(), z.unknown()) }),
    errors: { 422: 'cart_empty, cart_unavailable (details.items), unknown_provider' },
    handler: async ({ user, body, reply }) => {
      const { payment, next, created } = await payments.createFromCart(user, body.provider);
      if (!created) reply.status(200);
      return { payment, next };
    },
  });
  api.route({
    method: 'GET',
    url: '/api/payments/:id',
    tag: 'payments',
    summary: 'One of your payments (staff: any of the tenant).',
    auth: 'user',
    params: idParams,
    response: paymentSchema,
    errors: { 404: 'not_found' },
    handler: ({ user, params }) => payments.get(user, params.id),
  });
  api.route({
    method: 'POST',
    url: '/api/payments/callback/:provider',
    tag: 'payments',
    summary: 'Where a provider confirms or declines a payment. Verified by the provider\'s signature over the raw body; idempotent (a repeated callback changes nothing).',
    auth: 'none',
    rawBody: true,
    params: z.object({ provider: z.string().min(1).max(32) }),
    response: z.object({ payment: paymentSchema, order: orderSchema.nullable() }),
    errors: { 401: 'invalid_signature', 404: 'unknown_provider, unknown_payment' },
    handler: ({ params, req }) => {
      const raw = rawBodyOf(req);
      if (raw === undefined) throw new HttpError(400, 'invalid_body', 'body: a JSON body is required', { field: 'body' });
      return payments.callback(params.provider, raw, req.headers);
    },
  });
  if (!sandbox) return;
  api.route({
    method: 'POST',
    url: '/api/payments/:id/sandbox',
    tag: 'payments',
    summary: 'Sandbox only: approve (or decline) your pending payment, as the customer would on their phone. The sandbox then calls the callback route, signed, like a real provider.',
    auth: 'user',
    params: idParams,
    body: z.object({ outcome: z.enum(['succeeded', 'failed']).default('succeeded') }),
    response: z.object({ payment: paymentSchema, order: orderSchema.nullable() }),
    errors: { 403: 'forbidden: staff may read a customer\'s payment, not approve it', 404: 'not_found', 409: 'not_sandbox' },
    handler: async ({ user, params, body }) => {
      // The customer's step (approving on their phone): staff may read the payment, not approve it.
      const providerRef = await payments.refToApprove(user, params.id, sandbox.name);
      const call = sandbox.callback({ providerRef, status: body.outcome, ...(body.outcome === 'failed' ? { reason: 'declined in the sandbox' } : {}) });
      // Through the real route (signature check included), in-process: no network, same code path.
      const res = await api.app.inject({ method: 'POST', url: `/api/payments/callback/${sandbox.name}`, payload: call.body, headers: call.headers });
      const answer = res.json<{ payment?: unknown; order?: unknown; error?: { code: string; message: string } }>();
      if (res.statusCode !== 200) throw new HttpError(res.statusCode, answer.error?.code ?? 'callback_failed', answer.error?.message ?? 'the callback failed');
      return answer;
    },
  });
}
