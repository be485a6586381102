import type { SwitchboardModule } from '../../core/module.js';
import { accountUser, isLive, principalCheck } from './access.js';
import { accountMigrations } from './migrations.js';
import { accountRoutes } from './routes.js';
import { resetAccounts, seedAccounts } from './seed.js';
import './schema.js';

/**
 * Accounts: tenants, users with a role (customer, worker, manager, admin), sign-in, and the
 * administration of a tenant's accounts. It tells the core who holds a token: the REST API's
 * account resolver and the WebSocket's check at connect and refresh.
 */
export const accountsModule: SwitchboardModule = {
  name: 'accounts',
  migrations: accountMigrations,
  install({ sb, api, domain, config }) {
    api.useAccounts({ fromToken: accountUser, isLive: (user) => isLive(domain.db, user) });
    // Every account token is checked at connect and refresh, whatever namespace it uses later.
    sb.checkPrincipals(principalCheck(domain.db));
    accountRoutes(api, domain, { demoAccounts: config.demoData && config.env !== 'production' });
  },
  seed: ({ domain }) => seedAccounts(domain),
  reset: resetAccounts,
};
