import type { PresenceChange, PresenceMember, PresenceStore } from './presence-store.js';

interface UserEntry {
  clients: Set<string>;
  since: number;
}

/** Presence for a single node, kept in this process. */
export class MemoryPresence implements PresenceStore {
  #channels = new Map<string, Map<string, UserEntry>>();
  #now: () => number;

  constructor(options: { now?: () => number } = {}) {
    this.#now = options.now ?? Date.now;
  }

  async join(channel: string, user: string, client: string): Promise<PresenceChange> {
    let users = this.#channels.get(channel);
    if (!users) {
      users = new Map();
      this.#channels.set(channel, users);
    }
    const entry = users.get(user);
    if (entry) {
      entry.clients.add(client);
      return { changed: false };
    }
    users.set(user, { clients: new Set([client]), since: this.#now() });
    return { changed: true };
  }

  async leave(channel: string, user: string, client: string): Promise<PresenceChange> {
    const users = this.#channels.get(channel);
    const entry = users?.get(user);
    if (!users || !entry || !entry.clients.delete(client)) return { changed: false };
    if (entry.clients.size > 0) return { changed: false };
    users.delete(user);
    if (users.size === 0) this.#channels.delete(channel);
    return { changed: true };
  }

  async list(channel: string): Promise<PresenceMember[]> {
    const users = this.#channels.get(channel);
    if (!users) return [];
    return [...users].map(([user, entry]) => ({ user, since: entry.since }));
  }

  async close(): Promise<void> {
    this.#channels.clear();
  }
}
