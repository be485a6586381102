import type { SwitchboardModule } from '../../core/module.js';
import { installOrderChannels } from './channels.js';
import { orderRoutes } from './routes.js';
import { resetOrders, seedDemoOrders } from './seed.js';
import './schema.js';

/** Orders: the lifecycle by role, each change's history, and the live order pages and dashboards. */
export const ordersModule: SwitchboardModule = {
  name: 'orders',
  requires: ['accounts', 'catalog'],
  install({ sb, api, domain }) {
    orderRoutes(api, domain);
    installOrderChannels(sb, domain);
  },
  seed: ({ domain }) => seedDemoOrders(domain),
  reset: resetOrders,
};
