import type { Kysely, Migration } from 'kysely';
import type { Engine } from 'switchboard';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a migration sees the schema as it was then, not as schema.ts says it is now
type AnyDb = Kysely<any>;

/** The built-in modules' migrations are numbered 0001-0003: the rooms take the next number. */
export function roomMigrations(engine: Engine): Record<string, Migration> {
  return {
    '0004_rooms_tables': {
      async up(db: AnyDb) {
        await db.schema
          .createTable('rooms')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('created_by', 'text', (c) => c.notNull().references('users.id'))
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('room_members')
          .addColumn('room_id', 'text', (c) => c.notNull().references('rooms.id'))
          .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
          .addColumn('role', 'text', (c) => c.notNull())
          .addColumn('added_at', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('room_members_pk', ['room_id', 'user_id'])
          .execute();
        await db.schema
          .createTable('room_messages')
          // The one column the engines spell differently: an auto-increment id.
          .addColumn('id', engine === 'postgres' ? 'bigserial' : 'integer', (c) => (engine === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
          .addColumn('room_id', 'text', (c) => c.notNull().references('rooms.id'))
          .addColumn('author_id', 'text', (c) => c.notNull().references('users.id'))
          .addColumn('text', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('room_members_user').on('room_members').column('user_id').execute();
        await db.schema.createIndex('room_messages_room').on('room_messages').columns(['room_id', 'id']).execute();
      },
    },
  };
}
