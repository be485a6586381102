import type { AccessRule } from '../../core/channels/namespaces.js';
import { accountUser, liveAccount } from '../accounts/access.js';
import type { Domain } from '../../core/domain/context.js';
import type { Switchboard } from '../../core/switchboard.js';
import { orderChannel, orderIfReadable, readableOrder } from './orders.js';

/**
 * Order channels. `order:<id>`: whoever may read the order (snapshot: the order, then
 * order_updated). Dashboards (order_created / order_updated, data {order, changes}):
 * `my-orders:<userId>` for a customer, `worker-orders:<userId>` for a worker, and
 * `staff-orders:<tenantId>` for the managers and admins of that tenant.
 */
export function installOrderChannels(sb: Switchboard, domain: Domain): void {
  const readsOrder: AccessRule = async (ctx) => {
    const actor = await liveAccount(domain.db, ctx.user);
    return actor !== null && (await orderIfReadable(domain.db, actor, ctx.key)) !== undefined;
  };
  const self = (role: string): AccessRule => async (ctx) => {
    const actor = await liveAccount(domain.db, ctx.user);
    return actor !== null && actor.role === role && ctx.key === actor.id;
  };
  const staffOf: AccessRule = async (ctx) => {
    const actor = await liveAccount(domain.db, ctx.user);
    return actor !== null && (actor.role === 'manager' || actor.role === 'admin') && ctx.key === actor.tenant;
  };
  // order_updated may take a worker off the order: every node asks readsOrder again for its
  // subscribers, and the worker's subscription ends (they get that last update, nothing after).
  sb.defineNamespace('order', { subscribe: readsOrder, history: readsOrder, recheckOn: ['order_updated'], snapshot: (ctx) => readableOrder(domain.db, accountUser(ctx.user)!, ctx.key) })
    .defineNamespace('my-orders', { subscribe: self('customer'), history: self('customer') })
    .defineNamespace('worker-orders', { subscribe: self('worker'), history: self('worker') })
    .defineNamespace('staff-orders', { subscribe: staffOf, history: staffOf });
  // The seeds' ws/orders/<id>/: refused (4501) unless the user may read that order. Channels
  // frames, as the seed's dashboards expect (?frames=switchboard: native).
  sb.addRoute(
    '/ws/orders/:id/',
    async ({ id }, user) => {
      const actor = accountUser(user);
      if (!actor || !id) return null;
      return (await orderIfReadable(domain.db, actor, id)) ? [orderChannel(id)] : null;
    },
    { frames: 'channels' },
  );
}
