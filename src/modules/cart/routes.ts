import { z } from 'zod';
import type { Domain } from '../../core/domain/context.js';
import type { Api } from '../../core/http/api.js';
import { addItem, clearCart, getCart, removeItem, updateItem, MAX_LINE_QUANTITY } from './cart.js';
import { cartSchema } from './cart-view.js';

const itemParams = z.object({ id: z.string().min(1).max(64) });
const version = z.number().int().min(0).optional().describe('compare-and-set: refuse (409 version_conflict) unless the cart is at this version');
const cartErrors = {
  404: 'unknown_item',
  409: 'version_conflict (details.currentVersion), cart_busy',
  422: 'unknown_product, unknown_variant, variant_required, unavailable, quantity_out_of_range, over_stock (details.available), currency_mismatch, idempotency_key_reused',
};

export function cartRoutes(api: Api, domain: Domain): void {
  api.route({
    method: 'GET',
    url: '/api/cart',
    tag: 'cart',
    summary: 'Your active cart (created on first access), with totals in minor units.',
    auth: 'user',
    response: cartSchema,
    handler: ({ user }) => getCart(domain, user),
  });
  api.route({
    method: 'POST',
    url: '/api/cart/items',
    tag: 'cart',
    summary: 'Add a product (and variant); the same product and variant again adds to its line. Pushes cart_item_added and cart_update on cart:<you>.',
    auth: 'user',
    idempotent: true,
    status: 201,
    body: z.object({
      productId: z.string().min(1).max(64),
      variantId: z.string().min(1).max(64).nullable().optional(),
      quantity: z.number().int().min(1).max(MAX_LINE_QUANTITY).default(1),
      version,
    }),
    response: cartSchema,
    errors: cartErrors,
    handler: ({ user, body }) => addItem(domain, user, body),
  });
  api.route({
    method: 'PATCH',
    url: '/api/cart/items/:id',
    tag: 'cart',
    summary: 'Set a line\'s quantity (0 removes it). Pushes cart_update.',
    auth: 'user',
    idempotent: true,
    params: itemParams,
    body: z.object({ quantity: z.number().int().min(0).max(MAX_LINE_QUANTITY), version }),
    response: cartSchema,
    errors: cartErrors,
    handler: ({ user, params, body }) => updateItem(domain, user, params.id, body),
  });
  api.route({
    method: 'DELETE',
    url: '/api/cart/items/:id',
    tag: 'cart',
    summary: 'Remove a line. Pushes cart_item_removed and cart_update.',
    auth: 'user',
    idempotent: true,
    params: itemParams,
    query: z.object({ version: z.coerce.number().int().min(0).optional() }),
    response: cartSchema,
    errors: cartErrors,
    handler: ({ user, params, query }) => removeItem(domain, user, params.id, query.version),
  });
  api.route({
    method: 'DELETE',
    url: '/api/cart',
    tag: 'cart',
    summary: 'Empty the cart. Pushes cart_item_removed for each line and cart_update.',
    auth: 'user',
    idempotent: true,
    query: z.object({ version: z.coerce.number().int().min(0).optional() }),
    response: cartSchema,
    errors: cartErrors,
    handler: ({ user, query }) => clearCart(domain, user, query.version),
  });
}
