import type { AccessRule } from '../../core/channels/namespaces.js';
import type { Domain } from '../../core/domain/context.js';
import { accountUser, liveAccount } from '../accounts/access.js';
import type { Switchboard } from '../../core/switchboard.js';
import { cartChannel, getCart } from './cart.js';



/**
 * `cart:<userId>`: only the owner subscribes; the subscribe reply carries the current cart as its
 * snapshot, then `cart_update` (full cart), `cart_item_added` and `cart_item_removed` follow.
 * Clients never publish here: the server owns the cart and pushes it after each commit.
 */
export function installCartChannels(sb: Switchboard, domain: Domain): void {
  const ownCart: AccessRule = async (ctx) => (await liveAccount(domain.db, ctx.user))?.id === ctx.key;
  sb.defineNamespace('cart', {
    subscribe: ownCart,
    history: ownCart,
    snapshot: (ctx) => getCart(domain, accountUser(ctx.user)!),
  });
  // The seeds' `ws/cart/<room>/` where the room was "user": here the room is you, by the word
  // `user` or by your own id; any other room is refused (4501), never someone else's cart. Their
  // frontends switch on `data.type`, so these speak Channels frames (?frames=switchboard: native).
  sb.addRoute('/ws/cart/', (_params, user) => (accountUser(user) ? [cartChannel(user!.id)] : null), { frames: 'channels' });
  sb.addRoute(
    '/ws/cart/:room/',
    ({ room }, user) => {
      const me = accountUser(user);
      return me && (room === 'user' || room === me.id) ? [cartChannel(me.id)] : null;
    },
    { frames: 'channels' },
  );
}
