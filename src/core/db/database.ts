import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import type { Config } from '../config.js';
import type { DatabaseSchema } from './schema.js';

export type Engine = 'sqlite' | 'postgres';

export interface DatabaseOptions {
  /** postgres://… switches to PostgreSQL; null keeps the embedded SQLite file. */
  databaseUrl: string | null;
  /** Where the SQLite file lives (`switchboard.db`). */
  dataDir: string;
  /** PostgreSQL schema to work in (search_path); tests and side-by-side installs use their own. */
  schema?: string;
  /** PostgreSQL pool size. */
  poolSize?: number;
}

export interface Database {
  db: Kysely<DatabaseSchema>;
  engine: Engine;
  /** PostgreSQL: the schema the tables live in. */
  schema: string | null;
  /** Where the data lives, without credentials, for logs and errors. */
  where: string;
  close(): Promise<void>;
}

/** Raised at start-up when the configured database cannot be reached: the node must not start. */
export class DatabaseUnavailableError extends Error {
  override name = 'DatabaseUnavailableError';
}

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  return options.databaseUrl ? openPostgres(options.databaseUrl, options) : openSqlite(options.dataDir);
}

/** The database a node's configuration names (serve, migrate, seed). */
export function openConfiguredDatabase(config: Pick<Config, 'databaseUrl' | 'dataDir' | 'databaseSchema'>): Promise<Database> {
  return openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, ...(config.databaseSchema ? { schema: config.databaseSchema } : {}) });
}

async function openSqlite(dataDir: string): Promise<Database> {
  await mkdir(dataDir, { recursive: true });
  const file = join(dataDir, 'switchboard.db');
  const sqlite = new BetterSqlite3(file);
  // WAL lets readers in other processes (the CLI, a second node) work while this one writes;
  // busy_timeout makes a writer wait for the file lock instead of failing at once.
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  const db = new Kysely<DatabaseSchema>({ dialect: new SqliteDialect({ database: sqlite }) });
  return { db, engine: 'sqlite', schema: null, where: file, close: () => db.destroy() };
}

async function openPostgres(url: string, options: DatabaseOptions): Promise<Database> {
  const where = redact(url);
  const schema = options.schema;
  if (schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new DatabaseUnavailableError(`invalid PostgreSQL schema name '${schema}'`);
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolSize ?? 10,
    connectionTimeoutMillis: 5000,
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
    // int8 (bigserial ids, bigint money, count(*)) as numbers: every value we store is far below 2^53.
    types: { getTypeParser: ((oid: number, format?: 'text' | 'binary') => (oid === 20 ? Number : pg.types.getTypeParser(oid, format))) as typeof pg.types.getTypeParser },
  });
  // An idle client losing its server must not crash the process; the next query reports it.
  pool.on('error', () => {});
  try {
    const client = await pool.connect();
    try {
      if (schema) await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    } finally {
      client.release();
    }
  } catch (err) {
    await pool.end().catch(() => {});
    throw new DatabaseUnavailableError(`cannot reach PostgreSQL at ${where}: ${(err as Error).message || (err as NodeJS.ErrnoException).code}`);
  }
  const db = new Kysely<DatabaseSchema>({ dialect: new PostgresDialect({ pool }) });
  return { db, engine: 'postgres', schema: schema ?? 'public', where: schema ? `${where} (schema ${schema})` : where, close: () => db.destroy() };
}

/** The URL without its password. */
function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'an unparsable URL';
  }
}

/** True for a unique or primary-key violation, on either engine. */
export function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}
