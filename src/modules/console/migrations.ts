import type { Kysely, Migration } from 'kysely';
import type { Engine } from '../../core/db/database.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a migration sees the schema as it was then
type AnyDb = Kysely<any>;

/** The console's audit log. 0004 is taken by examples/rooms, which apps run beside the built-ins. */
export function consoleMigrations(_engine: Engine): Record<string, Migration> {
  return {
    '0005_console_audit_log': {
      async up(db: AnyDb) {
        await db.schema
          .createTable('console_audit_log')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
          .addColumn('actor_id', 'text', (c) => c.notNull().references('users.id'))
          .addColumn('action', 'text', (c) => c.notNull())
          .addColumn('target', 'text', (c) => c.notNull())
          .addColumn('details', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
        // The log is read per tenant, newest first, a page at a time.
        await db.schema.createIndex('console_audit_log_tenant').on('console_audit_log').columns(['tenant_id', 'created_at', 'id']).execute();
      },
    },
  };
}
