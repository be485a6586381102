import { principalCheck } from './accounts/access.js';
import { accountRoutes } from './accounts/routes.js';
import { keptSecret, TokenService } from './auth/tokens.js';
import { installCartChannels } from './cart/channels.js';
import { cartRoutes } from './cart/routes.js';
import { catalogRoutes } from './catalog/catalog.js';
import { openConfiguredDatabase, type Database } from './db/database.js';
import { migrateToLatest } from './db/migrate.js';
import { installDefaultChannels } from './defaults.js';
import type { Domain } from './domain/context.js';
import { Api } from './http/api.js';
import { createLogger } from './logger.js';
import { installOrderChannels } from './orders/channels.js';
import { orderRoutes } from './orders/routes.js';
import { installPaymentChannels } from './payments/channels.js';
import { Payments } from './payments/payments.js';
import { paymentRoutes } from './payments/routes.js';
import { SandboxProvider } from './payments/sandbox.js';
import { OutboxDispatcher, type DispatcherOptions } from './outbox/dispatcher.js';
import { seedIfEmpty, type DemoAccount } from './seed/demo.js';
import { Switchboard, type SwitchboardOptions } from './switchboard.js';

export interface AppOptions extends SwitchboardOptions {
  dispatcher?: DispatcherOptions;
  /** Test fault injection: SIGKILL right after a commit that wrote events, before publishing. */
  crashAfterCommit?: boolean;
}

export interface App {
  sb: Switchboard;
  database: Database;
  domain: Domain;
  dispatcher: OutboxDispatcher;
  api: Api;
  payments: Payments;
  /** The demo accounts, when this start loaded the demo data. */
  demo: DemoAccount[] | null;
  migrations: string[];
}

/**
 * A full Switchboard node: the real-time core plus the database, the domain modules (accounts,
 * catalogue, cart, payments, orders), their REST routes and channels, and the outbox dispatcher
 * that publishes what they commit. Fails before listening if the database cannot be reached.
 */
export async function createApp(options: AppOptions): Promise<App> {
  const { config } = options;
  const log = options.logger ?? createLogger(config.logLevel);
  const database = await openConfiguredDatabase(config);
  let sb: Switchboard;
  let applied: string[];
  try {
    applied = (await migrateToLatest(database)).applied;
    sb = await Switchboard.create({ ...options, logger: log });
  } catch (err) {
    await database.close();
    throw err;
  }
  installDefaultChannels(sb);
  // Every account token is checked at connect and refresh, whatever namespace it uses later.
  sb.checkPrincipals(principalCheck(database.db));
  const dispatcher = new OutboxDispatcher(database, (channel, event, data, eventId) => sb.hub.publish(channel, event, data, { idempotencyKey: eventId }), log, options.dispatcher);
  const domain: Domain = {
    database,
    db: database.db,
    tokens: sb.tokens as TokenService,
    log,
    wakeOutbox: () => dispatcher.wake(),
    crashAfterCommit: options.crashAfterCommit ?? false,
  };
  const api = new Api(sb.http, sb.tokens, database.db);
  accountRoutes(api, domain);
  catalogRoutes(api, database.db);
  cartRoutes(api, domain);
  installCartChannels(sb, domain);
  const payments = new Payments(domain);
  const sandbox = config.sandboxPayments ? new SandboxProvider((await keptSecret(config.sandboxSecret, config.dataDir, 'sandbox-secret')).value) : null;
  if (sandbox) payments.register(sandbox);
  paymentRoutes(api, payments, sandbox);
  installPaymentChannels(sb, database.db);
  orderRoutes(api, domain);
  installOrderChannels(sb, domain);
  const demo = config.demoData ? await seedIfEmpty(domain) : null;
  sb.metrics.addGauge('switchboard_outbox_pending', 'Outbox events committed and not yet published (all nodes sharing the database)', () => dispatcher.pending().catch(() => -1));
  sb.metrics.addGauge('switchboard_outbox_sent', 'Outbox events this node has published since it started', () => dispatcher.sent);
  sb.onClose(() => dispatcher.stop()).onClose(() => database.close());
  dispatcher.start();
  return { sb, database, domain, dispatcher, api, payments, demo, migrations: applied };
}
