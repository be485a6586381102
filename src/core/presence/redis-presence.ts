import type { PresenceEvent } from '../layer/channel-layer.js';
import { presenceField } from '../layer/redis-keys.js';
import type { NodeMember, RedisNodes } from '../layer/redis-nodes.js';
import type { PresenceChange, PresenceMember, PresenceStore } from './presence-store.js';

interface Entry {
  channel: string;
  user: string;
}

/**
 * Presence across nodes. Per channel, a Redis hash of users (connection count and since); each
 * connection's entry is filed under its node (RedisNodes), so a user is listed once however many
 * tabs on however many nodes, and a node that dies stops counting when its heartbeat runs out: one
 * live node removes its entries and publishes the leaves of users who were only there.
 *
 * The node also keeps its own entries in memory. When a write fails (Redis down) or the node was
 * declared dead meanwhile, the next heartbeat puts Redis back in line with them and publishes the
 * joins and leaves that makes (`publish`, normally the layer's publishPresence).
 */
export class RedisPresence implements PresenceStore, NodeMember {
  readonly #nodes: RedisNodes;
  readonly #publish: (event: PresenceEvent) => Promise<void>;
  readonly #entries = new Map<string, Entry>();
  #dirty = false;

  constructor(nodes: RedisNodes, publish: (event: PresenceEvent) => Promise<void>) {
    this.#nodes = nodes;
    this.#publish = publish;
    nodes.add(this);
  }

  async join(channel: string, user: string, client: string): Promise<PresenceChange> {
    const field = presenceField(channel, client);
    this.#entries.set(field, { channel, user });
    return { changed: (await this.#run('sbPresenceJoin', channel, [field, user])) === 1 };
  }

  async leave(channel: string, _user: string, client: string): Promise<PresenceChange> {
    const field = presenceField(channel, client);
    if (!this.#entries.delete(field)) return { changed: false };
    return { changed: (await this.#run('sbPresenceLeave', channel, [field])) === 1 };
  }

  async list(channel: string): Promise<PresenceMember[]> {
    const users = await this.#nodes.connection.call(({ command, keys }) => command.hgetall(keys.presenceUsers(channel)));
    const members = Object.entries(users).map(([user, value]) => ({ user, since: Number(value.slice(value.indexOf('|') + 1)) }));
    return members.sort((a, b) => a.since - b.since || (a.user < b.user ? -1 : a.user > b.user ? 1 : 0));
  }

  async resync(force: boolean): Promise<void> {
    if (!force && !this.#dirty) return;
    this.#dirty = false;
    const { connection } = this.#nodes;
    try {
      const stored = await connection.command.hgetall(connection.keys.nodePresence(this.#nodes.id));
      for (const [field, user] of Object.entries(stored)) {
        if (this.#entries.has(field)) continue;
        const channel = channelOfField(field);
        if ((await this.#run('sbPresenceLeave', channel, [field])) === 1) await this.#publish({ channel, kind: 'leave', user });
      }
      for (const [field, { channel, user }] of this.#entries) {
        if (Object.hasOwn(stored, field)) continue;
        if ((await this.#run('sbPresenceJoin', channel, [field, user])) === 1) await this.#publish({ channel, kind: 'join', user });
      }
    } catch (err) {
      this.#dirty = true;
      throw err;
    }
  }

  async close(): Promise<void> {
    // RedisNodes.close removes whatever this node still has, publishing the leaves.
    this.#entries.clear();
  }

  async #run(script: 'sbPresenceJoin' | 'sbPresenceLeave', channel: string, args: string[]): Promise<unknown> {
    const { connection, id } = this.#nodes;
    try {
      return await connection.call(({ scripts, keys }) => scripts.run(script, [keys.presenceUsers(channel), keys.nodePresence(id)], args));
    } catch (err) {
      // Redis may or may not have applied it: the next heartbeat compares and repairs.
      this.#dirty = true;
      throw err;
    }
  }
}

/** The channel in a `<byte length>:<channel><client>` field. */
function channelOfField(field: string): string {
  const colon = field.indexOf(':');
  const bytes = Number(field.slice(0, colon));
  return Buffer.from(field.slice(colon + 1), 'utf8').subarray(0, bytes).toString('utf8');
}
