import type { UserInfo } from '@switchboard/client/protocol';
import type { AccessRule } from '../channels/namespaces.js';
import type { Domain } from '../domain/context.js';
import { ROLES, type Role } from '../db/schema.js';
import type { ApiUser } from '../http/api.js';
import type { Switchboard } from '../switchboard.js';
import { cartChannel, getCart } from './cart.js';

/** An account token's user (role and tenant known), or null for other tokens. */
export function accountUser(user: UserInfo | null): ApiUser | null {
  if (!user || !user.tenant || !ROLES.includes(user.role as Role)) return null;
  return { id: user.id, role: user.role as Role, tenant: user.tenant };
}

const ownCart: AccessRule = (ctx) => accountUser(ctx.user)?.id === ctx.key;

/**
 * `cart:<userId>`: only the owner subscribes; the subscribe reply carries the current cart as its
 * snapshot, then `cart_update` (full cart), `cart_item_added` and `cart_item_removed` follow.
 * Clients never publish here: the server owns the cart and pushes it after each commit.
 */
export function installCartChannels(sb: Switchboard, domain: Domain): void {
  sb.defineNamespace('cart', {
    subscribe: ownCart,
    history: ownCart,
    snapshot: (ctx) => getCart(domain, accountUser(ctx.user)!),
  });
  // The seeds' `ws/cart/<room>/` where the room was "user": here the room is you, by the word
  // `user` or by your own id; any other room is refused (4501), never someone else's cart.
  sb.addRoute('/ws/cart/', (_params, user) => (accountUser(user) ? [cartChannel(user!.id)] : null));
  sb.addRoute('/ws/cart/:room/', ({ room }, user) => {
    const me = accountUser(user);
    return me && (room === 'user' || room === me.id) ? [cartChannel(me.id)] : null;
  });
}
