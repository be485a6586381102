/**
 * Counts each user's open connections for `SWITCHBOARD_MAX_CONNECTIONS_PER_USER`. In memory for one
 * node; across nodes in Redis (redis-connection-counter.ts), where a dead node's connections stop
 * counting once its heartbeat runs out.
 */
export interface ConnectionCounter {
  /** Counts the connection unless the user already has `max`: then `ok` is false and nothing is
   * counted. `count` is the user's connections, this one included when it was counted. */
  acquire(user: string, connection: string, max: number): Promise<{ ok: boolean; count: number }>;
  release(user: string, connection: string): Promise<void>;
  close(): Promise<void>;
}

export class MemoryConnectionCounter implements ConnectionCounter {
  #counts = new Map<string, number>();

  async acquire(user: string, _connection: string, max: number): Promise<{ ok: boolean; count: number }> {
    const count = this.#counts.get(user) ?? 0;
    if (count >= max) return { ok: false, count };
    this.#counts.set(user, count + 1);
    return { ok: true, count: count + 1 };
  }

  async release(user: string): Promise<void> {
    const count = (this.#counts.get(user) ?? 1) - 1;
    if (count <= 0) this.#counts.delete(user);
    else this.#counts.set(user, count);
  }

  async close(): Promise<void> {
    this.#counts.clear();
  }
}
