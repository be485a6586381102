import type { Migration } from 'kysely';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import type { Engine } from './db/database.js';
import type { Domain, Unit } from './domain/context.js';
import type { Api } from './http/api.js';
import type { Switchboard } from './switchboard.js';

/** What a module gets to install itself with. */
export interface ModuleContext {
  /** The real-time core: `defineNamespace`, `addRoute` (path aliases), `publish`, `metrics`, `onClose`. */
  sb: Switchboard;
  /** The REST API: `api.route({...})` with zod schemas (400 naming the field), roles, Idempotency-Key. */
  api: Api;
  /** The database, `transact` (a change, its outbox events and its idempotent answer in one commit), tokens, log. */
  domain: Domain;
  config: Config;
  log: Logger;
  /** What modules installed before this one returned from `install`, by module name. */
  services: ReadonlyMap<string, unknown>;
}

/** What a module's demo data is loaded with (`npm start` in development, `switchboard seed`). */
export interface SeedContext {
  domain: Domain;
  config: Config;
  log: Logger;
}

/**
 * A module: one folder with its service, routes, channels, schema and migrations, seed data, and
 * tests' fixtures, installed into a node by `createApp({ modules })`. The core never imports a
 * module; modules meet the core through this interface, and each other through the modules they
 * name in `requires` (they may import those) and the outbox's events.
 */
export interface SwitchboardModule {
  /** Unique, lower case: in logs, errors and `services`. */
  readonly name: string;
  /** Modules that must be installed before this one. */
  readonly requires?: readonly string[];
  /**
   * This module's migrations, named `NNNN_<module>_<what>`: the number orders them across every
   * module (a module's tables may refer to another's), so take the next free one. Never edit one
   * that has shipped: add another.
   */
  migrations?(engine: Engine): Record<string, Migration>;
  /** Declares its REST routes, namespaces (with their policies), path aliases and hooks. What it
   * returns is its service for later modules (`ctx.services`) and the app (`app.services`). */
  install(ctx: ModuleContext): unknown;
  /** Loads its demo rows unless they are there already (so it may run on every development start). */
  seed?(ctx: SeedContext): Promise<void>;
  /** Deletes its rows for `switchboard seed`, inside one transaction, in reverse module order. */
  reset?(unit: Unit): Promise<void>;
}

/** Checks a module list: unique names, and every module after those it requires. */
export function checkModules(modules: readonly SwitchboardModule[]): void {
  const seen = new Set<string>();
  for (const m of modules) {
    if (seen.has(m.name)) throw new Error(`module '${m.name}' is listed twice`);
    for (const r of m.requires ?? []) {
      if (!seen.has(r)) throw new Error(`module '${m.name}' requires '${r}', which must come before it in the list`);
    }
    seen.add(m.name);
  }
}
