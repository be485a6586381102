import type { TokenService } from './core/auth/tokens.js';
import { openConfiguredDatabase, type Database } from './core/db/database.js';
import { migrateToLatest } from './core/db/migrate.js';
import { installDefaultChannels } from './core/defaults.js';
import { transact, type Domain } from './core/domain/context.js';
import type { FastifyRequest } from 'fastify';
import { Api } from './core/http/api.js';
import { AddressThrottle } from './core/http/throttle.js';
import { createLogger } from './core/logger.js';
import { checkModules, type SwitchboardModule } from './core/module.js';
import { OutboxDispatcher, type DispatcherOptions } from './core/outbox/dispatcher.js';
import { Switchboard, type SwitchboardOptions } from './core/switchboard.js';
import { builtinModules } from './modules/index.js';

export interface AppOptions extends SwitchboardOptions {
  /** The modules to run, in install order; `builtinModules` (the shop) unless given. */
  modules?: readonly SwitchboardModule[];
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
  modules: readonly SwitchboardModule[];
  /** What each module's `install` returned, by module name (e.g. `payments`: the provider registry). */
  services: ReadonlyMap<string, unknown>;
  migrations: string[];
}

/**
 * A full Switchboard node: the real-time core, the database with every module's migrations, the
 * modules (their REST routes, channels and demo data), and the outbox dispatcher that publishes
 * what they commit. Fails before listening if the database cannot be reached.
 */
export async function createApp(options: AppOptions): Promise<App> {
  const { config } = options;
  const modules = options.modules ?? builtinModules;
  checkModules(modules);
  const log = options.logger ?? createLogger(config.logLevel);
  const database = await openConfiguredDatabase(config);
  let sb: Switchboard;
  let applied: string[];
  try {
    applied = (await migrateToLatest(database, migrationSources(modules))).applied;
    sb = await Switchboard.create({ ...options, logger: log });
  } catch (err) {
    await database.close();
    throw err;
  }
  installDefaultChannels(sb);
  const dispatcher = new OutboxDispatcher(database, (channel, event, data, eventId) => sb.hub.publish(channel, event, data, { idempotencyKey: eventId }), log, options.dispatcher);
  sb.onClose(() => dispatcher.stop()).onClose(() => database.close());
  const domain: Domain = {
    database,
    db: database.db,
    tokens: sb.tokens as TokenService,
    log,
    wakeOutbox: () => dispatcher.wake(),
    crashAfterCommit: options.crashAfterCommit ?? false,
  };
  const { publicRequestsPerSecond } = config.limits;
  const throttle = { limit: new AddressThrottle(publicRequestsPerSecond, Math.max(1, Math.round(publicRequestsPerSecond * 4))), clientAddress: (req: FastifyRequest) => sb.clientAddress(req) };
  const api = new Api(sb.http, sb.tokens, database.db, throttle);
  const services = new Map<string, unknown>();
  try {
    for (const module of modules) {
      services.set(module.name, await module.install({ sb, api, domain, config, log: log.child({ module: module.name }), services }));
    }
    if (config.demoData) await seedModules(modules, domain, config, log);
  } catch (err) {
    // Nothing else holds the core (its Redis connections and heartbeat) or the database now.
    await sb.close();
    throw err;
  }
  sb.metrics.addGauge('switchboard_outbox_pending', 'Outbox events committed and not yet published (all nodes sharing the database)', () => dispatcher.pending().catch(() => -1));
  sb.metrics.addGauge('switchboard_outbox_sent', 'Outbox events this node has published since it started', () => dispatcher.sent);
  dispatcher.start();
  return { sb, database, domain, dispatcher, api, modules, services, migrations: applied };
}

export function migrationSources(modules: readonly SwitchboardModule[]) {
  return modules.flatMap((m) => (m.migrations ? [m.migrations.bind(m)] : []));
}

/** Each module's demo rows, in install order; each module skips what is there already. */
export async function seedModules(modules: readonly SwitchboardModule[], domain: Domain, config: AppOptions['config'], log: Domain['log']): Promise<void> {
  for (const module of modules) await module.seed?.({ domain, config, log });
}

/** `switchboard seed`: every module's rows deleted in one transaction (reverse install order,
 * so rows go before what they refer to), then the demo data loaded again. Unsent outbox events
 * are kept: they describe changes that did happen. */
export async function reseedModules(modules: readonly SwitchboardModule[], domain: Domain, config: AppOptions['config'], log: Domain['log']): Promise<void> {
  await transact(domain, async (unit) => {
    for (const module of [...modules].reverse()) await module.reset?.(unit);
  });
  await seedModules(modules, domain, config, log);
}
