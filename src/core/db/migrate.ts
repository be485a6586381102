import { Migrator, type Migration, type MigrationResult } from 'kysely';
import type { Database, Engine } from './database.js';
import { migrations as baseMigrations } from './base-migrations.js';

/** A module's migrations for an engine (see SwitchboardModule.migrations). */
export type MigrationSource = (engine: Engine) => Record<string, Migration>;

/** The base schema and every module's migrations in one list; a name used twice is an error. */
export function allMigrations(engine: Engine, sources: readonly MigrationSource[]): Record<string, Migration> {
  const all: Record<string, Migration> = { ...baseMigrations(engine) };
  for (const source of sources) {
    for (const [name, migration] of Object.entries(source(engine))) {
      if (Object.hasOwn(all, name)) throw new Error(`migration '${name}' is defined twice; give it the next free number`);
      all[name] = migration;
    }
  }
  return all;
}

export interface MigrateOutcome {
  applied: string[];
}

/** Brings the schema up to date. Safe to run from several nodes at once: Kysely's migrator takes
 * a lock (an advisory lock on PostgreSQL, the write lock on SQLite) around the whole run. */
export async function migrateToLatest(database: Database, sources: readonly MigrationSource[] = []): Promise<MigrateOutcome> {
  // The migrator looks for its own tables across every schema it can see; naming ours stops it
  // from finding another schema's (another install, a test) and skipping the creation of its own.
  const migrator = new Migrator({
    db: database.db,
    provider: { getMigrations: async () => allMigrations(database.engine, sources) },
    // A module added later may bring a number below ones already applied: it still runs.
    allowUnorderedMigrations: true,
    ...(database.schema ? { migrationTableSchema: database.schema } : {}),
  });
  const { error, results } = await migrator.migrateToLatest();
  const applied = (results ?? []).filter((r: MigrationResult) => r.status === 'Success').map((r) => r.migrationName);
  if (error) {
    const failed = (results ?? []).find((r) => r.status === 'Error');
    throw new Error(`migration ${failed?.migrationName ?? '(unknown)'} failed on ${database.where}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  return { applied };
}
