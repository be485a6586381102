import { sql, type Kysely, type Migration } from 'kysely';
import type { Engine } from './database.js';

// The schema as it shipped before modules owned their migrations: the core's tables (outbox,
// idempotency keys, leases) and the built-in modules' first tables in one. Never edited; new tables
// and changes go in their module's `migrations.ts`, numbered after these (0003 on).
// Migrations take the engine so the few types the engines disagree on (auto-increment ids) can
// differ; everything else is written once.

/** Kysely<any>: a migration sees the schema as it was, not as src/db/schema.ts says it is now. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDb = Kysely<any>;

export function migrations(engine: Engine): Record<string, Migration> {
  const serial = (db: AnyDb, table: string) =>
    db.schema.createTable(table).addColumn('id', engine === 'postgres' ? 'bigserial' : 'integer', (c) => (engine === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()));
  return {
    '0001_initial': {
      async up(db: AnyDb) {
        await db.schema
          .createTable('tenants')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('slug', 'text', (c) => c.notNull().unique())
          .addColumn('name', 'text', (c) => c.notNull())
          // Order numbers are handed out from here under the tenant row's lock: no gaps from races.
          .addColumn('next_order_number', 'integer', (c) => c.notNull().defaultTo(1001))
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('users')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('email', 'text', (c) => c.notNull().unique())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('password_hash', 'text', (c) => c.notNull())
          .addColumn('role', 'text', (c) => c.notNull())
          .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('tenant_members')
          .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
          .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
          .addColumn('role', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('tenant_members_pk', ['tenant_id', 'user_id'])
          .execute();
        await db.schema
          .createTable('products')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
          .addColumn('sku', 'text', (c) => c.notNull().unique())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
          .addColumn('price_minor', 'bigint', (c) => c.notNull())
          .addColumn('currency', 'text', (c) => c.notNull())
          .addColumn('stock', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('active', 'integer', (c) => c.notNull().defaultTo(1))
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('product_variants')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('product_id', 'text', (c) => c.notNull().references('products.id'))
          .addColumn('sku', 'text', (c) => c.notNull().unique())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('price_delta_minor', 'bigint', (c) => c.notNull().defaultTo(0))
          .addColumn('stock', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('active', 'integer', (c) => c.notNull().defaultTo(1))
          .execute();
        await db.schema.createIndex('product_variants_product').on('product_variants').column('product_id').execute();
        await db.schema
          .createTable('carts')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
          .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('version', 'integer', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .execute();
        // One active cart per user, enforced by the database: two tabs creating "the" cart at once
        // cannot make two.
        await db.schema.createIndex('carts_one_active').on('carts').column('user_id').unique().where(sql.ref('status'), '=', 'active').execute();
        await db.schema
          .createTable('cart_items')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('cart_id', 'text', (c) => c.notNull().references('carts.id'))
          .addColumn('product_id', 'text', (c) => c.notNull().references('products.id'))
          .addColumn('variant_id', 'text', (c) => c.notNull())
          .addColumn('quantity', 'integer', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addUniqueConstraint('cart_items_line', ['cart_id', 'product_id', 'variant_id'])
          .execute();
        await db.schema
          .createTable('idempotency_keys')
          .addColumn('user_id', 'text', (c) => c.notNull())
          .addColumn('key', 'text', (c) => c.notNull())
          .addColumn('method', 'text', (c) => c.notNull())
          .addColumn('path', 'text', (c) => c.notNull())
          .addColumn('request_hash', 'text', (c) => c.notNull())
          .addColumn('status', 'integer', (c) => c.notNull())
          .addColumn('response', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('idempotency_keys_pk', ['user_id', 'key'])
          .execute();
        await db.schema
          .createTable('payments')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
          .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
          .addColumn('cart_id', 'text', (c) => c.notNull().references('carts.id'))
          .addColumn('cart_version', 'integer', (c) => c.notNull())
          .addColumn('provider', 'text', (c) => c.notNull())
          .addColumn('provider_ref', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('failure_reason', 'text')
          .addColumn('amount_minor', 'bigint', (c) => c.notNull())
          .addColumn('currency', 'text', (c) => c.notNull())
          .addColumn('snapshot', 'text', (c) => c.notNull())
          .addColumn('order_id', 'text')
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          // One payment per cart state: two tabs checking out the same cart get the same payment.
          .addUniqueConstraint('payments_cart_state', ['cart_id', 'cart_version'])
          .addUniqueConstraint('payments_provider_ref', ['provider', 'provider_ref'])
          .execute();
        await db.schema
          .createTable('orders')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('number', 'integer', (c) => c.notNull())
          .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
          .addColumn('customer_id', 'text', (c) => c.notNull().references('users.id'))
          .addColumn('worker_id', 'text', (c) => c.references('users.id'))
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('progress', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('price_minor', 'bigint', (c) => c.notNull())
          .addColumn('currency', 'text', (c) => c.notNull())
          .addColumn('title', 'text', (c) => c.notNull())
          // Unique: a payment confirmed twice (a provider retrying its callback) makes one order.
          .addColumn('payment_id', 'text', (c) => c.unique())
          .addColumn('version', 'integer', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .addUniqueConstraint('orders_number', ['tenant_id', 'number'])
          .execute();
        await db.schema.createIndex('orders_customer').on('orders').columns(['customer_id', 'created_at']).execute();
        await db.schema.createIndex('orders_worker').on('orders').columns(['worker_id', 'created_at']).execute();
        await db.schema.createIndex('orders_tenant').on('orders').columns(['tenant_id', 'created_at']).execute();
        await db.schema
          .createTable('order_lines')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('order_id', 'text', (c) => c.notNull().references('orders.id'))
          .addColumn('product_id', 'text', (c) => c.notNull())
          .addColumn('variant_id', 'text', (c) => c.notNull())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('unit_price_minor', 'bigint', (c) => c.notNull())
          .addColumn('quantity', 'integer', (c) => c.notNull())
          .addColumn('line_total_minor', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('order_lines_order').on('order_lines').column('order_id').execute();
        await serial(db, 'order_events')
          .addColumn('order_id', 'text', (c) => c.notNull().references('orders.id'))
          .addColumn('actor_id', 'text')
          .addColumn('changes', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('order_events_order').on('order_events').columns(['order_id', 'id']).execute();
        await serial(db, 'outbox')
          .addColumn('event_id', 'text', (c) => c.notNull().unique())
          .addColumn('channel', 'text', (c) => c.notNull())
          .addColumn('event', 'text', (c) => c.notNull())
          .addColumn('data', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('sent_at', 'text')
          .execute();
        // The dispatcher's scan: unsent events in id order.
        await db.schema.createIndex('outbox_unsent').on('outbox').column('id').where(sql.ref('sent_at'), 'is', null).execute();
        await db.schema
          .createTable('leases')
          .addColumn('name', 'text', (c) => c.primaryKey())
          .addColumn('holder', 'text', (c) => c.notNull())
          .addColumn('expires_at', 'text', (c) => c.notNull())
          .execute();
      },
    },
    '0002_refunds_and_pruning': {
      async up(db: AnyDb) {
        // Set when a refund_needed alert went out for the payment: a provider re-sending its
        // callback must not ask the admins to refund twice.
        await db.schema.alterTable('payments').addColumn('refund_requested_at', 'text').execute();
        // The dispatcher's hourly pruning deletes by these; without them it scans whole tables.
        await db.schema.createIndex('idempotency_keys_created').on('idempotency_keys').column('created_at').execute();
        await db.schema.createIndex('outbox_sent').on('outbox').column('sent_at').execute();
      },
    },
  };
}
