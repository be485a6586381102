import type { SwitchboardModule } from '../../core/module.js';
import { installCartChannels } from './channels.js';
import { cartRoutes } from './routes.js';
import './schema.js';

/** Live carts: one active cart per user, changed over REST and pushed to every tab on `cart:<user>`. */
export const cartModule: SwitchboardModule = {
  name: 'cart',
  requires: ['accounts', 'catalog'],
  install({ sb, api, domain }) {
    cartRoutes(api, domain);
    installCartChannels(sb, domain);
  },
  async reset({ trx }) {
    await trx.deleteFrom('cart_items').execute();
    await trx.deleteFrom('carts').execute();
  },
};
