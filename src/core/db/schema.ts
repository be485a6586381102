import type { Generated } from 'kysely';

/**
 * The tables, as Kysely sees them: the core's own here, and each module's added to this interface
 * by declaration merging in its `schema.ts` (`declare module '../../core/db/schema.js' { interface
 * DatabaseSchema { carts: CartTable } }`), so one typed `Kysely<DatabaseSchema>` knows every table
 * while the core imports no module. One schema for both engines: ids are text chosen by the app
 * (except ordered sequences), times are UTC ISO strings, money is integer minor units, JSON is text.
 * Keeping to types both engines agree on means one set of queries, not two.
 */
export interface DatabaseSchema {
  idempotency_keys: IdempotencyKeyTable;
  outbox: OutboxTable;
  leases: LeaseTable;
}

export interface IdempotencyKeyTable {
  user_id: string;
  key: string;
  method: string;
  path: string;
  request_hash: string;
  status: number;
  response: string;
  created_at: string;
}

export interface OutboxTable {
  /** The dispatch order: events leave in id order, so in commit order per channel. */
  id: Generated<number>;
  event_id: string;
  channel: string;
  event: string;
  data: string;
  created_at: string;
  sent_at: string | null;
}

/** Named leases (e.g. the outbox dispatcher on SQLite): one holder at a time, until it expires. */
export interface LeaseTable {
  name: string;
  holder: string;
  expires_at: string;
}
