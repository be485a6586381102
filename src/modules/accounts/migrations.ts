import type { Kysely, Migration } from 'kysely';
import type { Engine } from '../../core/db/database.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a migration sees the schema as it was then
type AnyDb = Kysely<any>;

/** The accounts module's migrations (its first tables are in the base schema, 0001). */
export function accountMigrations(_engine: Engine): Record<string, Migration> {
  return {
    '0003_accounts_disabled_and_deleted': {
      async up(db: AnyDb) {
        // A disabled account keeps its data and may be enabled again; a deleted one keeps its rows
        // (orders and payments refer to it) but loses its email, name and password. Either way
        // its tokens stop working on every route and channel.
        await db.schema.alterTable('users').addColumn('disabled_at', 'text').execute();
        await db.schema.alterTable('users').addColumn('deleted_at', 'text').execute();
      },
    },
  };
}
