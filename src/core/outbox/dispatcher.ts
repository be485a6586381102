import { sql, type Kysely } from 'kysely';
import type { Logger } from 'pino';
import { LayerUnavailableError } from '../layer/channel-layer.js';
import type { Database } from '../db/database.js';
import { newId } from '../db/ids.js';
import type { DatabaseSchema } from '../db/schema.js';
import { RequestError } from '../realtime/reply-error.js';

export type Publish = (channel: string, event: string, data: unknown, eventId: string) => Promise<unknown>;

export interface DispatcherOptions {
  /** How often to look for events written by other processes or left by a crash. */
  pollMs?: number;
}

/** Events published per round. */
const BATCH_SIZE = 200;
/** SQLite: how long a dispatcher's lease lasts without renewal (a crashed holder blocks this long). */
const LEASE_MS = 5000;
/** Sent events (and idempotency keys) are deleted after this long. */
const RETAIN_MS = 24 * 3600_000;

/** Taken as (key, hash of the schema), like OUTBOX_ORDER_LOCK: one dispatcher per schema, not per database. */
const DISPATCH_LOCK = 0x5b0a_0002;

interface Row {
  id: number;
  event_id: string;
  channel: string;
  event: string;
  data: string;
}

/**
 * Publishes outbox events to the channel layer after their transaction committed, in id order
 * (commit order), and marks them sent. One dispatcher works at a time across every process that
 * shares the database, so events of a channel leave in order and each once: on PostgreSQL by a
 * transaction-scoped advisory lock (released by the server if the holder dies), on SQLite by a
 * lease row. A crash after publish and before "mark sent" re-sends the event; the layer drops
 * the repeat by its event id (idempotency key).
 */
export class OutboxDispatcher {
  readonly #db: Kysely<DatabaseSchema>;
  readonly #engine: Database['engine'];
  readonly #holder = newId('node');
  readonly #pollMs: number;
  #running: Promise<void> | null = null;
  #again = false;
  #timer: NodeJS.Timeout | null = null;
  #stopped = true;
  #lastPrune = 0;
  /** Consecutive failed rounds, for backoff while the layer is down. */
  #failures = 0;
  /** When the loop ends, how long until the next round (a busy lock retries sooner than a poll). */
  #nextDelay = 0;
  sent = 0;

  constructor(
    database: Database,
    private readonly publish: Publish,
    private readonly log: Logger,
    options: DispatcherOptions = {},
  ) {
    this.#db = database.db;
    this.#engine = database.engine;
    this.#pollMs = options.pollMs ?? 1000;
  }

  start(): void {
    this.#stopped = false;
    this.wake();
  }

  /** Called after a commit that wrote events, and by the poll timer. */
  wake(): void {
    if (this.#stopped) return;
    this.#again = true;
    this.#running ??= this.#loop().finally(() => {
      this.#running = null;
      this.#schedule(this.#failures > 0 ? Math.min(this.#pollMs * 2 ** this.#failures, 30_000) : this.#nextDelay);
    });
  }

  /** Stops after the current batch; events not yet sent stay for the next start. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#running;
    if (this.#engine === 'sqlite') await this.#db.deleteFrom('leases').where('name', '=', 'outbox').where('holder', '=', this.#holder).execute().catch(() => {});
  }

  /** Unsent events (for metrics and tests). */
  async pending(): Promise<number> {
    const row = await this.#db.selectFrom('outbox').select((eb) => eb.fn.countAll<number>().as('n')).where('sent_at', 'is', null).executeTakeFirstOrThrow();
    return Number(row.n);
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.wake(), ms);
    this.#timer.unref();
  }

  async #loop(): Promise<void> {
    this.#nextDelay = this.#pollMs;
    while (this.#again && !this.#stopped) {
      this.#again = false;
      try {
        const outcome = this.#engine === 'postgres' ? await this.#roundPostgres() : await this.#roundSqlite();
        this.#failures = 0;
        // A full batch means more may be waiting; someone else holding the PostgreSQL lock will be
        // done soon. A SQLite lease is held as long as its holder runs (renewed every round): the
        // others try again at their poll, which also takes over once a dead holder's lease expires.
        if (outcome === 'full') this.#again = true;
        else if (outcome === 'busy') this.#nextDelay = this.#engine === 'postgres' ? 50 : this.#pollMs;
        await this.#pruneNow();
      } catch (err) {
        this.#failures = Math.min(this.#failures + 1, 6);
        this.log.warn({ err: (err as Error).message }, 'outbox dispatch failed; will retry');
        return;
      }
    }
  }

  async #roundPostgres(): Promise<'full' | 'done' | 'busy'> {
    const round = await this.#db.transaction().execute(async (trx) => {
      const { rows } = await sql<{ locked: boolean }>`select pg_try_advisory_xact_lock(${DISPATCH_LOCK}::int, hashtext(current_schema())) as locked`.execute(trx);
      if (!rows[0]?.locked) return null;
      const batch = await this.#unsent(trx);
      const sent = await this.#publishAll(batch);
      await this.#markSent(trx, sent);
      return { batch, sent };
    });
    if (!round) return 'busy';
    // After commit: thrown inside, the stall rolled back the marks of what did go out, and those
    // events went out again once the layer was back, when their idempotency keys may have expired.
    this.#throwIfStalled(round.sent, round.batch);
    return round.batch.length === BATCH_SIZE ? 'full' : 'done';
  }

  async #roundSqlite(): Promise<'full' | 'done' | 'busy'> {
    if (!(await this.#takeLease())) return 'busy';
    // Not in a transaction: SQLite has one connection, and holding it while publishing would
    // stall every request. The lease keeps other processes out instead.
    const batch = await this.#unsent(this.#db);
    const sent = await this.#publishAll(batch);
    await this.#markSent(this.#db, sent);
    this.#throwIfStalled(sent, batch);
    return batch.length === BATCH_SIZE ? 'full' : 'done';
  }

  async #takeLease(): Promise<boolean> {
    const now = new Date();
    const expires_at = new Date(now.getTime() + LEASE_MS).toISOString();
    const row = await this.#db
      .insertInto('leases')
      .values({ name: 'outbox', holder: this.#holder, expires_at })
      .onConflict((oc) =>
        oc
          .column('name')
          .doUpdateSet({ holder: this.#holder, expires_at })
          .where((eb) => eb.or([eb('leases.holder', '=', this.#holder), eb('leases.expires_at', '<', now.toISOString())])),
      )
      .returning('holder')
      .executeTakeFirst();
    return row?.holder === this.#holder;
  }

  #unsent(db: Kysely<DatabaseSchema>): Promise<Row[]> {
    return db.selectFrom('outbox').select(['id', 'event_id', 'channel', 'event', 'data']).where('sent_at', 'is', null).orderBy('id').limit(BATCH_SIZE).execute();
  }

  /** Publishes in order and stops at the first event that cannot go out now, so a later event of
   * the same channel never overtakes it. Returns the ids to mark sent. */
  async #publishAll(batch: Row[]): Promise<number[]> {
    const done: number[] = [];
    for (const row of batch) {
      try {
        await this.publish(row.channel, row.event, JSON.parse(row.data), row.event_id);
      } catch (err) {
        if (err instanceof LayerUnavailableError || (err instanceof RequestError && err.code === 'unavailable')) break;
        // An event that can never be published (its namespace is not declared) must not stall
        // every event behind it: log it loudly and move on.
        this.log.error({ err, eventId: row.event_id, channel: row.channel, event: row.event }, 'outbox event cannot be published; skipped');
      }
      done.push(row.id);
    }
    this.sent += done.length;
    return done;
  }

  #throwIfStalled(sent: number[], batch: Row[]): void {
    if (sent.length < batch.length) throw new LayerUnavailableError(`channel layer unavailable; ${batch.length - sent.length} events wait`);
  }

  async #markSent(db: Kysely<DatabaseSchema>, ids: number[]): Promise<void> {
    if (ids.length === 0) return;
    await db.updateTable('outbox').set({ sent_at: new Date().toISOString() }).where('id', 'in', ids).execute();
  }

  async #pruneNow(): Promise<void> {
    const now = Date.now();
    if (now - this.#lastPrune < 60_000) return;
    this.#lastPrune = now;
    const before = new Date(now - RETAIN_MS).toISOString();
    await this.#db.deleteFrom('outbox').where('sent_at', 'is not', null).where('sent_at', '<', before).execute();
    await this.#db.deleteFrom('idempotency_keys').where('created_at', '<', before).execute();
  }
}
