import type { UserInfo } from '@switchboard/client/protocol';
import { isAllowed, type AccessKind } from '../../core/channels/namespaces.js';
import type { Db } from '../../core/domain/context.js';
import type { Switchboard } from '../../core/switchboard.js';
import type { ApiUser } from '../../core/http/api.js';

/**
 * What an admin sees and may touch from the console. The rules, in docs/security.md:
 *
 * - **Connections**: those whose account token carries the admin's tenant, on every node that
 *   answers (cluster.ts). Other tenants' connections are never listed or counted.
 * - **Channels**: a channel is listed only while at least one of those connections follows it, and
 *   its counts are those connections only. A name therefore appears only when a user of the tenant
 *   was allowed into the channel by its namespace's rules (so that user knows the name already),
 *   and nothing says whether anyone of another tenant is there. Shared channels (`chat:lobby`,
 *   `public:news`) show up when the tenant's users are in them, marked as not the tenant's own.
 * - **Using a channel** (test publish, history): the channel's key must name the tenant (`tenant:<id>`,
 *   `staff-orders:<id>`, `alerts:<id>`) or one of its users (`user:<id>`, `cart:<id>` ...), and the
 *   admin must pass the namespace's own rule for it (`subscribe` to publish: "may read"; `history`
 *   to read history), as if subscribing from a socket. The console's own channels and `sys` are never
 *   published to. Channels keyed by something else (`order:<id>`) are not the console's to use.
 */

/** Namespaces a test publish could forge: the node's own, and the console's feed and audit log. */
export const RESERVED_NAMESPACES: ReadonlySet<string> = new Set(['sys', 'ops', 'audit', 'console-rpc']);

export function namespaceOf(channel: string): string {
  const colon = channel.indexOf(':');
  return colon < 0 ? channel : channel.slice(0, colon);
}

function keyOf(channel: string): string {
  const colon = channel.indexOf(':');
  return colon < 0 ? '' : channel.slice(colon + 1);
}

/** The ids among `ids` of accounts acting in `tenant` (deleted ones included: their channels are still the tenant's). */
export async function tenantUserIds(db: Db, tenant: string, ids: readonly string[]): Promise<Set<string>> {
  const found = new Set<string>();
  const unique = [...new Set(ids)];
  for (let i = 0; i < unique.length; i += 500) {
    const rows = await db.selectFrom('users').select('id').where('tenant_id', '=', tenant).where('id', 'in', unique.slice(i, i + 500)).execute();
    for (const row of rows) found.add(row.id);
  }
  return found;
}

/** Whether the channel's key names the tenant or one of its users (`users`: those known to be). */
export function ownedBy(channel: string, tenant: string, users: ReadonlySet<string>): boolean {
  const key = keyOf(channel);
  return key !== '' && (key === tenant || users.has(key));
}

/** Whether `admin` may use `channel` from the console for `kind` (see the rules above). */
export async function mayUse(sb: Switchboard, db: Db, admin: ApiUser, channel: string, kind: Extract<AccessKind, 'subscribe' | 'history'>, knownUsers?: ReadonlySet<string>): Promise<boolean> {
  if (RESERVED_NAMESPACES.has(namespaceOf(channel))) return false;
  const users = knownUsers ?? (await tenantUserIds(db, admin.tenant, [keyOf(channel)]));
  if (!ownedBy(channel, admin.tenant, users)) return false;
  const principal: UserInfo = { id: admin.id, role: admin.role, tenant: admin.tenant };
  const resolved = sb.namespaces.resolve(channel, principal);
  if (!resolved.ok) return false;
  return isAllowed(resolved.namespace, kind, resolved.ctx);
}
