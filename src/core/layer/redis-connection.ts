import { randomBytes } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { LayerUnavailableError } from './channel-layer.js';
import { RedisKeys } from './redis-keys.js';
import { Scripts } from './redis-scripts.js';

export interface RedisConnectionOptions {
  url: string;
  /** Prefix of every key and topic (default `sb:`). */
  prefix?: string;
  /** Bound on connecting and on each command: past it the call fails (default 5000 ms). */
  timeoutMs?: number;
  log?: Logger;
}

/** Redis could not be reached at start-up; the message names the URL (without its password) and why. */
export class RedisUnreachableError extends Error {
  override name = 'RedisUnreachableError';
}

/**
 * One node's two Redis connections: `command` for scripts and reads, `subscriber` for pub/sub (a
 * subscribed connection cannot be trusted with ordinary traffic, and its outages mean something
 * else: lost deliveries rather than failed calls).
 *
 * Both are set so that nothing waits in memory for Redis to come back: a call made while a
 * connection is down fails at once (no offline queue), a call in flight when it drops fails at
 * once (no retry, no resend after reconnect: a publish must never be acknowledged late or run
 * twice), and a call Redis does not answer fails after `timeoutMs`. Reconnects go on in the
 * background with capped backoff.
 */
export class RedisConnection {
  readonly keys: RedisKeys;
  readonly command: Redis;
  readonly subscriber: Redis;
  readonly scripts: Scripts;
  readonly url: string;
  readonly log: Logger | undefined;
  /** Bumped whenever the command connection closes; the restart check is valid for one value. */
  #commandGeneration = 0;
  #checkedGeneration = -1;
  #closed = false;
  #reportedDown = false;

  private constructor(options: RedisConnectionOptions) {
    this.url = options.url;
    this.log = options.log;
    this.keys = new RedisKeys(options.prefix ?? 'sb:');
    const timeoutMs = options.timeoutMs ?? 5000;
    const common: RedisOptions = {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      connectTimeout: timeoutMs,
      retryStrategy: (attempt) => Math.min(50 * 2 ** Math.min(attempt, 6), 2000) + Math.floor(Math.random() * 100),
    };
    this.command = new Redis(options.url, { ...common, commandTimeout: timeoutMs, connectionName: 'switchboard' });
    // Resubscribing is the layer's job: it must know when it is done, to tell the hub.
    this.subscriber = new Redis(options.url, { ...common, commandTimeout: timeoutMs, autoResubscribe: false, connectionName: 'switchboard-sub' });
    this.scripts = new Scripts(this.command);
  }

  /** Connects both, or fails within about `timeoutMs` with a RedisUnreachableError naming the cause. */
  static async connect(options: RedisConnectionOptions): Promise<RedisConnection> {
    const conn = new RedisConnection(options);
    const lastErrors = new Map<Redis, Error>();
    for (const client of [conn.command, conn.subscriber]) client.on('error', (err: Error) => lastErrors.set(client, err));
    try {
      await Promise.all([conn.command.connect(), conn.subscriber.connect()]);
      await conn.#checkRun();
    } catch (err) {
      conn.command.disconnect();
      conn.subscriber.disconnect();
      const cause = lastErrors.get(conn.command) ?? lastErrors.get(conn.subscriber) ?? err;
      throw new RedisUnreachableError(`cannot reach Redis at ${redactUrl(options.url)}: ${describeError(cause)}`, { cause });
    }
    conn.#watch();
    return conn;
  }

  /** Both connections are up and this server's instance string has been checked. */
  get ready(): boolean {
    return !this.#closed && this.commandReady && this.subscriber.status === 'ready';
  }

  /** Calls on the command connection can be made (the subscriber may be down). */
  get commandReady(): boolean {
    return !this.#closed && this.command.status === 'ready' && this.#checkedGeneration === this.#commandGeneration;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Throws LayerUnavailableError unless calls can be made now: fail fast rather than queue. */
  assertUsable(): void {
    if (this.#closed) throw new LayerUnavailableError('the Redis layer is closed');
    if (!this.commandReady) throw new LayerUnavailableError(`Redis at ${redactUrl(this.url)} is unreachable; reconnecting`);
  }

  /** Turns a failed Redis call into LayerUnavailableError, except a script or command error that only
   * a bug can cause: that one is rethrown as is and answered `internal`. */
  unavailable(err: unknown): Error {
    if (err instanceof LayerUnavailableError) return err;
    if (err instanceof Error && err.name === 'ReplyError' && !TEMPORARY_REPLY.test(err.message)) return err;
    return new LayerUnavailableError(`Redis is unavailable: ${describeError(err)}`, { cause: err });
  }

  /** A call on the command connection, failing fast: refused at once unless usable (assertUsable),
   * and a failure comes back through unavailable(). */
  async call<T>(call: (connection: this) => Promise<T>): Promise<T> {
    this.assertUsable();
    try {
      return await call(this);
    } catch (err) {
      throw this.unavailable(err);
    }
  }

  /** Runs each time the subscriber connection is back after an outage. (`connect` has already
   * seen the first connection through, so every later 'ready' is a reconnect.) */
  onSubscriberReconnected(listener: () => void): void {
    this.subscriber.on('ready', listener);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([quit(this.command), quit(this.subscriber)]);
  }

  #watch(): void {
    for (const client of [this.command, this.subscriber]) {
      // ioredis emits an error per failed reconnect attempt: the state changes below are what is
      // worth a log line; the errors themselves go to debug.
      client.on('error', (err: Error) => this.log?.debug({ err }, 'redis connection error'));
      client.on('close', () => this.#reportDown());
      client.on('ready', () => this.#reportUp());
    }
    this.command.on('close', () => {
      this.#commandGeneration += 1;
    });
    // The restart check runs on every new command connection before calls are let through.
    this.command.on('ready', () => this.#checkRunUntilDone(this.#commandGeneration));
  }

  /** Calls stay refused until the check has passed on this connection, so a failed check (a slow
   * INFO, say) is retried while the connection lasts; a new connection starts its own. */
  #checkRunUntilDone(generation: number): void {
    if (this.#closed || generation !== this.#commandGeneration) return;
    this.#checkRun().catch((err: unknown) => {
      this.log?.warn({ err }, 'redis restart check failed; retrying');
      setTimeout(() => this.#checkRunUntilDone(generation), 500).unref();
    });
  }

  /** See the CHECK_RUN script: a restarted Redis gets a new instance string, so epochs change. */
  async #checkRun(): Promise<void> {
    const generation = this.#commandGeneration;
    const info = await this.command.info('server');
    const runId = /^run_id:(\S+)/m.exec(info)?.[1];
    if (!runId) throw new Error('INFO server has no run_id');
    const replaced = await this.scripts.run('sbCheckRun', [this.keys.runId, this.keys.epoch], [runId, newInstance()]);
    if (replaced === 1) this.log?.info({ runId }, 'redis server is new to this deployment (first start, restart or flush): epochs change');
    if (generation === this.#commandGeneration) this.#checkedGeneration = generation;
    this.#reportUp();
  }

  #reportDown(): void {
    if (this.#closed || this.#reportedDown) return;
    this.#reportedDown = true;
    this.log?.warn({ url: redactUrl(this.url) }, 'redis connection lost: publishes fail until it is back');
  }

  #reportUp(): void {
    if (!this.#reportedDown || !this.ready) return;
    this.#reportedDown = false;
    this.log?.info({ url: redactUrl(this.url) }, 'redis connection restored');
  }
}

/** Redis errors that mean "not now" (loading a snapshot, a busy script, failover, memory limit). */
const TEMPORARY_REPLY = /^(LOADING|BUSY|MASTERDOWN|READONLY|TRYAGAIN|OOM|NOREPLICAS|CLUSTERDOWN)\b/;

/** A fresh random instance string. Fresh per call: a flushed Redis must never get an old one back. */
export function newInstance(): string {
  return randomBytes(9).toString('base64url');
}

export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return 'the configured URL';
  }
}

function describeError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' ? code : err.message;
  }
  return String(err);
}

/** QUIT politely, but never wait long for a Redis that does not answer. */
async function quit(client: Redis): Promise<void> {
  if (client.status === 'end') return;
  if (client.status !== 'ready') {
    client.disconnect();
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([client.quit(), new Promise((resolve) => (timer = setTimeout(resolve, 1000)))]);
  } catch {
    // dropped below either way
  } finally {
    clearTimeout(timer);
    client.disconnect();
  }
}
