import pg from 'pg';

/** The PostgreSQL server the suites use; override with TEST_DATABASE_URL. */
export const PG_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

let pgCheck: Promise<string | null> | null = null;

/** null when PostgreSQL answers; otherwise why not (printed as the skip reason). */
export function postgresUnavailable(): Promise<string | null> {
  pgCheck ??= (async () => {
    const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.query('select 1');
      return null;
    } catch (err) {
      return `PostgreSQL not reachable at ${PG_URL}: ${(err as Error).message || (err as NodeJS.ErrnoException).code}`;
    } finally {
      await client.end().catch(() => {});
    }
  })();
  return pgCheck;
}

/** Drops a test schema (and everything in it). */
export async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL });
  client.on('error', () => {});
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await client.end();
  }
}
