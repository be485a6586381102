import { randomBytes } from 'node:crypto';
import type { RedisConnection } from './redis-connection.js';

/** Something that registers per-node entries in Redis (presence, connection counts). */
export interface NodeMember {
  /** Makes Redis hold exactly this node's entries: after failed writes (`force` false: only if
   * something failed), or after the node was declared dead and its entries removed (`force`). */
  resync(force: boolean): Promise<void>;
}

export interface RedisNodesOptions {
  /** A node that stops heartbeating (crash, SIGKILL, cut off) has its entries removed, and leaves
   * published, within this long, as long as one other node runs. Default 15000 ms. */
  timeoutMs?: number;
}

/**
 * This node's membership of the deployment: a heartbeat in a Redis sorted set, and the sweep that
 * removes nodes whose heartbeat ran out. Entries a node registers (presence, counted connections)
 * are filed under its id, so the sweep can take them all away and publish the resulting leaves;
 * the sweep is one Lua script per dead node, so exactly one live node does it.
 *
 * Timing, for a bound T (`timeoutMs`): a heartbeat lasts T/2 and is renewed every T/6 (two can be
 * late before a live node is taken for dead); every node sweeps every T/6. A node that dies is swept
 * at most T/2 + T/6 = 2T/3 after its last heartbeat, which leaves a third of T for timers running
 * late on busy nodes.
 */
export class RedisNodes {
  readonly id = randomBytes(8).toString('base64url');
  readonly #connection: RedisConnection;
  readonly #members: NodeMember[] = [];
  readonly #ttlMs: number;
  readonly #everyMs: number;
  #timer: NodeJS.Timeout | null = null;
  #ticking = false;
  #closed = false;

  constructor(connection: RedisConnection, options: RedisNodesOptions = {}) {
    this.#connection = connection;
    const timeoutMs = options.timeoutMs ?? 15_000;
    this.#ttlMs = Math.round(timeoutMs / 2);
    this.#everyMs = Math.max(50, Math.round(timeoutMs / 6));
  }

  get connection(): RedisConnection {
    return this.#connection;
  }

  add(member: NodeMember): void {
    this.#members.push(member);
  }

  /** Registers the node (failing if Redis is unreachable) and starts heartbeating and sweeping. */
  async start(): Promise<void> {
    const { keys, scripts } = this.#connection;
    try {
      await scripts.run('sbHeartbeat', [keys.nodes], [this.id, this.#ttlMs, '1']);
    } catch (err) {
      throw this.#connection.unavailable(err);
    }
    this.#timer = setInterval(() => void this.#tick(), this.#everyMs);
    this.#timer.unref();
  }

  /** One heartbeat and one sweep now (tests; the timer does this every T/6). */
  async tick(): Promise<void> {
    await this.#tick();
  }

  /** Leaves on purpose: this node's remaining entries go at once, with their leaves published. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    if (!this.#connection.commandReady) return; // the others sweep it when its heartbeat runs out
    const { keys, scripts } = this.#connection;
    await scripts
      .run('sbReapNode', [keys.nodes], [keys.prefix, this.id])
      .catch((err: unknown) => this.#connection.log?.warn({ err }, 'removing this node from redis failed; the others will once its heartbeat runs out'));
  }

  async #tick(): Promise<void> {
    if (this.#ticking || this.#closed || !this.#connection.commandReady) return;
    this.#ticking = true;
    const { keys, scripts } = this.#connection;
    try {
      const alive = await scripts.run('sbHeartbeat', [keys.nodes], [this.id, this.#ttlMs, '0']);
      if (alive === 0) this.#connection.log?.warn({ node: this.id }, 'this node had been declared dead (cut off from redis too long); registering its entries again');
      for (const member of this.#members) await member.resync(alive === 0);
      const reaped = (await scripts.run('sbReapExpired', [keys.nodes], [keys.prefix, 20])) as string[];
      if (reaped.length > 0) this.#connection.log?.info({ nodes: reaped }, 'removed nodes whose heartbeat ran out, with their presence and connections');
    } catch (err) {
      this.#connection.log?.debug({ err }, 'node heartbeat or sweep failed; next tick retries');
    } finally {
      this.#ticking = false;
    }
  }
}
