import { Migrator, type MigrationResult } from 'kysely';
import type { Database } from './database.js';
import { migrations } from './migrations.js';

export interface MigrateOutcome {
  applied: string[];
}

/** Brings the schema up to date. Safe to run from several nodes at once: Kysely's migrator takes
 * a lock (an advisory lock on PostgreSQL, the write lock on SQLite) around the whole run. */
export async function migrateToLatest(database: Database): Promise<MigrateOutcome> {
  // The migrator looks for its own tables across every schema it can see; naming ours stops it
  // from finding another schema's (another install, a test) and skipping the creation of its own.
  const migrator = new Migrator({
    db: database.db,
    provider: { getMigrations: async () => migrations(database.engine) },
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
