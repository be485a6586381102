import type { NodeMember, RedisNodes } from '../layer/redis-nodes.js';
import type { ConnectionCounter } from './connection-counter.js';

/**
 * Connections per user counted across nodes: a Redis hash per user of connection -> node, each
 * entry also filed under its node (RedisNodes), so a dead node's connections stop counting once its
 * heartbeat runs out. Like RedisPresence, it keeps its own entries in memory and repairs Redis from
 * them after a failed write or after the node was declared dead.
 */
export class RedisConnectionCounter implements ConnectionCounter, NodeMember {
  readonly #nodes: RedisNodes;
  /** connection -> user */
  readonly #held = new Map<string, string>();
  #dirty = false;

  constructor(nodes: RedisNodes) {
    this.#nodes = nodes;
    nodes.add(this);
  }

  async acquire(user: string, connection: string, max: number): Promise<{ ok: boolean; count: number }> {
    const result = Number(await this.#run('sbConnectionAcquire', user, [connection, this.#nodes.id, max, user]));
    if (result <= 0) return { ok: false, count: -result };
    this.#held.set(connection, user);
    return { ok: true, count: result };
  }

  async release(user: string, connection: string): Promise<void> {
    if (!this.#held.delete(connection)) return;
    await this.#run('sbConnectionRelease', user, [connection]);
  }

  async resync(force: boolean): Promise<void> {
    if (!force && !this.#dirty) return;
    this.#dirty = false;
    const { connection: redis, id } = this.#nodes;
    try {
      const stored = await redis.command.hgetall(redis.keys.nodeConnections(id));
      for (const [connection, user] of Object.entries(stored)) {
        if (!this.#held.has(connection)) await this.#run('sbConnectionRelease', user, [connection]);
      }
      // Put back without the limit: these connections were admitted and are still open.
      for (const [connection, user] of this.#held) {
        if (!Object.hasOwn(stored, connection)) await this.#run('sbConnectionAcquire', user, [connection, id, Number.MAX_SAFE_INTEGER, user]);
      }
    } catch (err) {
      this.#dirty = true;
      throw err;
    }
  }

  async close(): Promise<void> {
    // RedisNodes.close removes whatever this node still has counted.
    this.#held.clear();
  }

  async #run(script: 'sbConnectionAcquire' | 'sbConnectionRelease', user: string, args: (string | number)[]): Promise<unknown> {
    const { connection, id } = this.#nodes;
    try {
      return await connection.call(({ scripts, keys }) => scripts.run(script, [keys.userConnections(user), keys.nodeConnections(id)], args));
    } catch (err) {
      this.#dirty = true;
      throw err;
    }
  }
}
