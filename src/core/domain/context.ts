import { AsyncLocalStorage } from 'node:async_hooks';
import type { Kysely, Transaction } from 'kysely';
import type { Logger } from 'pino';
import type { TokenService } from '../auth/tokens.js';
import type { Database } from '../db/database.js';
import { isUniqueViolation } from '../db/database.js';
import { nowIso } from '../db/ids.js';
import type { DatabaseSchema } from '../db/schema.js';
import { enqueue, type OutboxEvent } from '../outbox/outbox.js';

export type Trx = Transaction<DatabaseSchema>;
export type Db = Kysely<DatabaseSchema>;

/** What every domain module gets: the database, token minting, and the outbox's wake-up. */
export interface Domain {
  database: Database;
  db: Db;
  tokens: TokenService;
  log: Logger;
  /** Tell the dispatcher a commit wrote events. */
  wakeOutbox(): void;
  /** Test fault injection: SIGKILL this process right after a commit, before anything is published. */
  crashAfterCommit: boolean;
}

/** The Idempotency-Key of the request being served, if any: the first transaction of the request
 * records its answer under the key in the same commit (see `transact`). */
export interface IdempotencyClaim {
  userId: string;
  key: string;
  method: string;
  path: string;
  hash: string;
  status: number;
  claimed: boolean;
}
export const idempotencyScope = new AsyncLocalStorage<IdempotencyClaim>();

/** Raised inside `transact` when the request's idempotency key was committed by someone else
 * meanwhile (a concurrent retry): the work is rolled back and the caller replays their answer. */
export class IdempotencyRace extends Error {
  override name = 'IdempotencyRace';
}

export interface Unit {
  trx: Trx;
  /** Queue events to publish once this transaction commits. */
  emit(...events: OutboxEvent[]): void;
}

/**
 * Runs `work` in one transaction: the domain writes, the outbox rows for the events it emitted,
 * and (for a request with an Idempotency-Key) the answer under that key all commit together or
 * not at all. After commit the dispatcher is woken; nothing is published before commit.
 */
export async function transact<T>(domain: Domain, work: (unit: Unit) => Promise<T>): Promise<T> {
  const claim = idempotencyScope.getStore();
  const mine = claim !== undefined && !claim.claimed;
  if (mine) claim.claimed = true;
  let emitted = false;
  let result: T;
  try {
    result = await domain.db.transaction().execute(async (trx) => {
      // The key is claimed first, before any work: a concurrent retry with it then waits on the key
      // (PostgreSQL: on its unique index until this commits; SQLite: behind this transaction) and
      // replays this answer. Claimed last, the retry ran the work against the state this one left
      // and could fail where the first succeeded (a `version` compare-and-set answered 409).
      if (mine) {
        await trx
          .insertInto('idempotency_keys')
          .values({ user_id: claim.userId, key: claim.key, method: claim.method, path: claim.path, request_hash: claim.hash, status: claim.status, response: 'null', created_at: nowIso() })
          .execute();
      }
      const events: OutboxEvent[] = [];
      const value = await work({ trx, emit: (...e) => void events.push(...e) });
      if (mine) {
        await trx
          .updateTable('idempotency_keys')
          .set({ response: JSON.stringify(value ?? null) })
          .where('user_id', '=', claim.userId)
          .where('key', '=', claim.key)
          .execute();
      }
      await enqueue(trx, domain.database.engine, events);
      emitted = events.length > 0;
      return value;
    });
  } catch (err) {
    if (mine && isUniqueViolation(err) && String((err as Error).message).includes('idempotency')) throw new IdempotencyRace('idempotency key committed concurrently');
    if (mine) claim.claimed = false;
    throw err;
  }
  if (emitted) {
    if (domain.crashAfterCommit) process.kill(process.pid, 'SIGKILL');
    domain.wakeOutbox();
  }
  return result;
}

/** Row locks where the engine has them; SQLite's single writer already serializes the transaction. */
export function forUpdate<Q extends { forUpdate(): Q }>(domain: Domain, q: Q): Q {
  return domain.database.engine === 'postgres' ? q.forUpdate() : q;
}
