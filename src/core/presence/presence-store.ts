/** One user in a channel's presence, however many connections (tabs, devices) they have. */
export interface PresenceMember {
  user: string;
  /** Milliseconds since the Unix epoch when the user's first current connection joined. */
  since: number;
}

export interface PresenceChange {
  /** True when this call made the user appear (first connection) or disappear (last one). */
  changed: boolean;
}

/**
 * Who is in a channel. Entries are per connection (`client`), answers are per user, so a user with
 * three tabs is listed once and "leaves" only when the last tab goes. join/leave report whether the
 * user-level membership changed, which is when the hub publishes a join/leave event.
 * Implementations: memory (one node) and, across nodes, one that expires a dead node's entries.
 */
export interface PresenceStore {
  join(channel: string, user: string, client: string): Promise<PresenceChange>;
  leave(channel: string, user: string, client: string): Promise<PresenceChange>;
  list(channel: string): Promise<PresenceMember[]>;
  close(): Promise<void>;
}
