import type { Db } from '../../core/domain/context.js';
import type { ApiUser } from '../../core/http/api.js';
import { HttpError } from '../../core/http/errors.js';
import { RequestError } from '../../core/realtime/reply-error.js';
import type { Switchboard } from '../../core/switchboard.js';
import type { AuditEntry, AuditLog } from './audit.js';
import type { ClusterConnections, Gathered } from './cluster.js';
import { mayUse, namespaceOf, ownedBy, RESERVED_NAMESPACES, tenantUserIds } from './visibility.js';

/** The event a console test publish carries; pages that do not know it ignore it. */
export const TEST_EVENT = 'console_test';
/** What a signed-out user's socket is told (close 4504, which the SDK does not retry). */
export const SIGNED_OUT_REASON = 'signed out by an admin of your shop; sign in again';
/** The tables show at most this many rows (the busiest first) and say when there were more. */
const MAX_ROWS = 200;

export interface ChannelRow {
  channel: string;
  namespace: string;
  /** Connections of the tenant's users following it, on every node that answered. */
  connections: number;
  /** Distinct users of the tenant among them. */
  users: number;
  /** The key names the tenant or one of its users (not a channel shared with other shops). */
  own: boolean;
  /** The console may publish a test event to it / read its history (see visibility.ts). */
  canPublish: boolean;
  canReadHistory: boolean;
}

export interface ConnectedUser {
  id: string;
  name: string;
  email: string;
  role: string;
  connections: number;
  /** Distinct channels their connections follow. */
  channels: number;
  /** When the oldest of their connections opened (UTC ISO). */
  since: string;
  /** The nodes they are connected to. */
  nodes: string[];
}

/** Which nodes the numbers come from: every node that answered, and those believed alive that did
 * not in time (their connections are missing from the numbers). */
export interface Coverage {
  node: string;
  nodes: string[];
  missing: string[];
  /** Some node left users out of its answer (over 2,000 of the tenant on one node). */
  partial: boolean;
}

/** The layer's refusals in the API's shape: `unavailable` is a 503 to retry, not an internal error. */
function asHttp(err: unknown): unknown {
  if (!(err instanceof RequestError)) return err;
  return new HttpError(err.code === 'unavailable' ? 503 : 400, err.code, err.message, err.field ? { field: err.field } : {});
}

const notYours = (channel: string) => new HttpError(404, 'not_found', `no channel ${channel} of your shop that you may read`, { field: 'channel' });

/** The console's reads and actions, each scoped to the calling admin's tenant. */
export class ConsoleService {
  constructor(
    readonly sb: Switchboard,
    readonly db: Db,
    readonly audit: AuditLog,
    readonly cluster: ClusterConnections,
  ) {}

  /** Channels the tenant's connections follow, on every node, busiest first. */
  async channels(admin: ApiUser): Promise<{ at: string; coverage: Coverage; channels: ChannelRow[]; more: boolean }> {
    const gathered = await this.cluster.gather(admin.tenant);
    const counts = new Map<string, { connections: number; users: Set<string> }>();
    for (const answer of gathered.answers) {
      for (const user of answer.users) {
        for (const [channel, n] of Object.entries(user.channels)) {
          let entry = counts.get(channel);
          if (!entry) counts.set(channel, (entry = { connections: 0, users: new Set() }));
          entry.connections += n;
          entry.users.add(user.id);
        }
      }
    }
    const busiest = [...counts].sort(([a, x], [b, y]) => y.connections - x.connections || a.localeCompare(b)).slice(0, MAX_ROWS);
    const users = await tenantUserIds(this.db, admin.tenant, busiest.map(([channel]) => channel.slice(channel.indexOf(':') + 1)));
    const channels: ChannelRow[] = [];
    for (const [channel, { connections, users: who }] of busiest) {
      const own = ownedBy(channel, admin.tenant, users);
      const usable = own && !RESERVED_NAMESPACES.has(namespaceOf(channel));
      channels.push({
        channel,
        namespace: namespaceOf(channel),
        connections,
        users: who.size,
        own,
        canPublish: usable && (await mayUse(this.sb, this.db, admin, channel, 'subscribe', users)),
        canReadHistory: usable && (await mayUse(this.sb, this.db, admin, channel, 'history', users)),
      });
    }
    return { at: new Date().toISOString(), coverage: this.#coverage(gathered), channels, more: counts.size > busiest.length };
  }

  #coverage(gathered: Gathered): Coverage {
    return { node: this.sb.nodeId, nodes: gathered.answers.map((a) => a.node), missing: gathered.missing, partial: gathered.answers.some((a) => a.more) };
  }

  /** The newest publications of a channel of the tenant the admin may read (404 for any other). */
  async history(admin: ApiUser, channel: string, limit: number) {
    if (!(await mayUse(this.sb, this.db, admin, channel, 'history'))) throw notYours(channel);
    const page = await this.sb.history(channel, { limit }).catch((err: unknown) => {
      throw asHttp(err);
    });
    return { channel, epoch: page.position.epoch, offset: page.position.offset, publications: page.publications };
  }

  /** Publishes `console_test` to a channel of the tenant the admin may read, logged first. */
  async publishTest(admin: ApiUser, channel: string, message: string) {
    if (!(await mayUse(this.sb, this.db, admin, channel, 'subscribe'))) throw notYours(channel);
    const entry = await this.audit.begin(admin, 'publish', channel, { event: TEST_EVENT, message });
    const data = { message, from: { id: admin.id, name: entry.actor.name }, sentAt: entry.at };
    try {
      const position = await this.sb.publish(channel, TEST_EVENT, data);
      const audit = await this.audit.finish(entry, admin.tenant, { outcome: 'published', epoch: position.epoch, offset: position.offset });
      return { channel, event: TEST_EVENT, data, epoch: position.epoch, offset: position.offset, audit };
    } catch (err) {
      await this.audit.finish(entry, admin.tenant, { outcome: 'failed', error: err instanceof RequestError ? err.code : 'internal' });
      throw asHttp(err);
    }
  }

  /** The tenant's users connected to any node, with their connections grouped. */
  async connections(admin: ApiUser): Promise<{ at: string; coverage: Coverage; users: ConnectedUser[]; more: boolean }> {
    const gathered = await this.cluster.gather(admin.tenant);
    const grouped = new Map<string, { connections: number; channels: Set<string>; since: string; nodes: string[] }>();
    for (const answer of gathered.answers) {
      for (const user of answer.users) {
        let entry = grouped.get(user.id);
        if (!entry) grouped.set(user.id, (entry = { connections: 0, channels: new Set(), since: user.since, nodes: [] }));
        entry.connections += user.connections;
        for (const channel of Object.keys(user.channels)) entry.channels.add(channel);
        if (user.since < entry.since) entry.since = user.since;
        entry.nodes.push(answer.node);
      }
    }
    const ids = [...grouped.keys()];
    const accounts = new Map<string, { name: string; email: string; role: string }>();
    for (let i = 0; i < ids.length; i += 500) {
      const rows = await this.db.selectFrom('users').select(['id', 'name', 'email', 'role']).where('tenant_id', '=', admin.tenant).where('id', 'in', ids.slice(i, i + 500)).execute();
      for (const row of rows) accounts.set(row.id, row);
    }
    const users: ConnectedUser[] = [];
    for (const [id, entry] of grouped) {
      // A token claiming the tenant whose account is not (or no longer) the tenant's: not shown.
      const account = accounts.get(id);
      if (!account) continue;
      users.push({ id, ...account, connections: entry.connections, channels: entry.channels.size, since: entry.since, nodes: entry.nodes });
    }
    users.sort((a, b) => b.connections - a.connections || a.name.localeCompare(b.name));
    return { at: new Date().toISOString(), coverage: this.#coverage(gathered), users: users.slice(0, MAX_ROWS), more: users.length > MAX_ROWS };
  }

  /** Signs a user of the tenant out everywhere: every node closes their connections with 4504. */
  async endSessions(admin: ApiUser, userId: string): Promise<{ user: { id: string; name: string; email: string }; connections: number; audit: AuditEntry }> {
    if (userId === admin.id) throw new HttpError(409, 'own_sessions', 'you cannot end your own sessions from the console: sign out instead');
    const target = await this.db.selectFrom('users').select(['id', 'name', 'email', 'role']).where('id', '=', userId).where('tenant_id', '=', admin.tenant).where('deleted_at', 'is', null).executeTakeFirst();
    if (!target) throw new HttpError(404, 'not_found', `no account ${userId} in your shop`);
    // How many connections it ends, as far as the nodes that answer know (every node closes its own).
    const gathered = await this.cluster.gather(admin.tenant);
    let connections = 0;
    for (const answer of gathered.answers) connections += answer.users.find((u) => u.id === userId)?.connections ?? 0;
    const user = { id: target.id, name: target.name, email: target.email };
    const entry = await this.audit.begin(admin, 'end_sessions', userId, { user: { ...user, role: target.role }, connections, nodes: gathered.answers.length });
    try {
      await this.sb.revokeUser(userId, SIGNED_OUT_REASON);
    } catch (err) {
      await this.audit.finish(entry, admin.tenant, { outcome: 'failed', error: err instanceof RequestError ? err.code : 'internal' });
      throw asHttp(err);
    }
    const audit = await this.audit.finish(entry, admin.tenant, { outcome: 'signed_out' });
    return { user, connections, audit };
  }
}
