import { keptSecret } from '../../core/auth/tokens.js';
import type { SwitchboardModule } from '../../core/module.js';
import { installPaymentChannels } from './channels.js';
import { Payments } from './payments.js';
import { paymentRoutes } from './routes.js';
import { SandboxProvider } from './sandbox.js';
import './schema.js';

/**
 * Checkout: a payment per cart version through a provider (the sandbox in development), signed
 * idempotent callbacks that make the order, and the admins' alerts. Its service is the `Payments`
 * registry, where an app registers its own providers (`app.services.get('payments')`).
 */
export const paymentsModule: SwitchboardModule = {
  name: 'payments',
  requires: ['accounts', 'catalog', 'cart', 'orders'],
  async install({ sb, api, domain, config }): Promise<Payments> {
    const payments = new Payments(domain);
    const sandbox = config.sandboxPayments ? new SandboxProvider((await keptSecret(config.sandboxSecret, config.dataDir, 'sandbox-secret')).value) : null;
    if (sandbox) payments.register(sandbox);
    paymentRoutes(api, payments, sandbox);
    installPaymentChannels(sb, domain.db);
    return payments;
  },
  async reset({ trx }) {
    await trx.deleteFrom('payments').execute();
  },
};
