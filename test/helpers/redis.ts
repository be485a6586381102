import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

/**
 * Redis for the suites that need it. Tests share one Redis and run two files at a time, so each
 * test works under its own random key prefix (which also separates pub/sub topics, which ignore the
 * database number) and deletes its keys afterwards. Only a dedicated suite may flush, and only its
 * own database index.
 */

export const REDIS_URL = process.env.SWITCHBOARD_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

const checks = new Map<string, Promise<string | false>>();

/** False when Redis answers PING at `url`; otherwise the reason, for `describe(name, { skip })`. */
export function redisUnavailable(url = REDIS_URL): Promise<string | false> {
  let check = checks.get(url);
  if (!check) {
    check = ping(url);
    checks.set(url, check);
  }
  return check;
}

async function ping(url: string): Promise<string | false> {
  let lastError: Error | null = null;
  const client = new Redis(url, { lazyConnect: true, retryStrategy: () => null, connectTimeout: 1500, maxRetriesPerRequest: 0, enableOfflineQueue: false });
  client.on('error', (err: Error) => (lastError = err));
  try {
    await client.connect();
    await client.ping();
    return false;
  } catch (err) {
    const cause = lastError ?? (err as Error);
    const code = (cause as { code?: unknown }).code;
    return `Redis not reachable at ${url}: ${typeof code === 'string' ? code : cause.message}`;
  } finally {
    client.disconnect();
  }
}

/** A key prefix no other test uses. */
export function uniquePrefix(what = 't'): string {
  return `sbtest:${what}:${randomBytes(5).toString('hex')}:`;
}

/** A plain client for looking at keys directly; close it with `quit()`. */
export function inspector(url = REDIS_URL): Redis {
  return new Redis(url, { maxRetriesPerRequest: 1 });
}

/** Keys under `prefix` (SCAN, not KEYS: the shared Redis may be large). */
export async function keysUnder(prefix: string, url = REDIS_URL): Promise<string[]> {
  const client = inspector(url);
  try {
    const found: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${escapeGlob(prefix)}*`, 'COUNT', 1000);
      found.push(...keys);
      cursor = next;
    } while (cursor !== '0');
    return found.sort();
  } finally {
    await client.quit();
  }
}

/** Deletes every key under `prefix`. */
export async function deleteKeys(prefix: string, url = REDIS_URL): Promise<void> {
  const keys = await keysUnder(prefix, url);
  if (keys.length === 0) return;
  const client = inspector(url);
  try {
    for (let i = 0; i < keys.length; i += 500) await client.unlink(...keys.slice(i, i + 500));
  } finally {
    await client.quit();
  }
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}
