import { sql, type Kysely } from 'kysely';
import type { Engine } from '../db/database.js';
import { newId, nowIso } from '../db/ids.js';
import type { DatabaseSchema } from '../db/schema.js';

export interface OutboxEvent {
  channel: string;
  event: string;
  data: unknown;
}

/** Any key on PostgreSQL's advisory lock space; this one orders outbox writers. Advisory locks are
 * database-wide, so the lock is taken as (key, hash of the schema): installs in other schemas of
 * the same database (side by side, or parallel test suites) neither queue behind nor block us. */
export const OUTBOX_ORDER_LOCK = 0x5b0a_0001;

/**
 * Writes events into the outbox inside the caller's transaction: they commit or roll back with
 * the change that caused them, and the dispatcher publishes them after commit.
 *
 * Call it last in the transaction. On PostgreSQL it takes a transaction-scoped advisory lock so
 * outbox ids are handed out in commit order: without it, a transaction that took id 10 could
 * commit after one that took id 11, and the dispatcher would publish 11 first.
 * (SQLite has one writer at a time, so its ids are in commit order already.)
 */
export async function enqueue(trx: Kysely<DatabaseSchema>, engine: Engine, events: OutboxEvent[]): Promise<void> {
  if (events.length === 0) return;
  if (engine === 'postgres') await sql`select pg_advisory_xact_lock(${OUTBOX_ORDER_LOCK}::int, hashtext(current_schema()))`.execute(trx);
  const created_at = nowIso();
  await trx
    .insertInto('outbox')
    .values(events.map((e) => ({ event_id: newId('evt'), channel: e.channel, event: e.event, data: JSON.stringify(e.data), created_at, sent_at: null })))
    .execute();
}
