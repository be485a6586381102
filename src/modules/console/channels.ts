import type { AccessRule } from '../../core/channels/namespaces.js';
import type { Db } from '../../core/domain/context.js';
import type { Switchboard } from '../../core/switchboard.js';
import { liveAccount } from '../accounts/access.js';
import { RPC_NAMESPACE } from './cluster.js';
import { OPS_HISTORY_SIZE, WINDOW_MS, type OpsFeed } from './feed.js';

/**
 * `ops:node`: every node's figures, a sample a second (the snapshot: the last five minutes), for
 * the admins of every tenant: they are the node's, not a tenant's (counts, rates, memory; no names).
 * `audit:<tenantId>`: the tenant's console actions as they are taken, for its admins only.
 * `console-rpc:*`: nodes asking each other for their connections of a tenant (cluster.ts); no
 * rules, so no client may touch it, and no history.
 * Nobody publishes to any of them from a socket; the nodes do.
 */
export function installConsoleChannels(sb: Switchboard, db: Db, feed: OpsFeed): void {
  const anyAdmin: AccessRule = async (ctx) => ctx.key === 'node' && (await liveAccount(db, ctx.user))?.role === 'admin';
  const adminOf: AccessRule = async (ctx) => {
    const actor = await liveAccount(db, ctx.user);
    return actor !== null && actor.role === 'admin' && ctx.key === actor.tenant;
  };
  sb.defineNamespace('ops', { subscribe: anyAdmin, history: anyAdmin, historySize: OPS_HISTORY_SIZE, historyTtlMs: WINDOW_MS, snapshot: () => feed.snapshot() });
  sb.defineNamespace('audit', { subscribe: adminOf, history: adminOf });
  sb.defineNamespace(RPC_NAMESPACE, { historySize: 0 });
}
