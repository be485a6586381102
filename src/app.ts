import { accountRoutes } from './accounts/routes.js';
import { TokenService } from './auth/tokens.js';
import { installCartChannels } from './cart/channels.js';
import { cartRoutes } from './cart/routes.js';
import { catalogRoutes } from './catalog/catalog.js';
import { openDatabase, type Database } from './db/database.js';
import { migrateToLatest } from './db/migrate.js';
import { installDefaultChannels } from './defaults.js';
import type { Domain } from './domain/context.js';
import { Api } from './http/api.js';
import { createLogger } from './logger.js';
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
  const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, ...(config.databaseSchema ? { schema: config.databaseSchema } : {}) });
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
  const demo = config.demoData ? await seedIfEmpty(domain) : null;
  sb.onClose(() => dispatcher.stop()).onClose(() => database.close());
  dispatcher.start();
  return { sb, database, domain, dispatcher, api, demo, migrations: applied };
}
