import type { AccessRule } from '../../core/channels/namespaces.js';
import { liveAccount } from '../accounts/access.js';
import type { Db } from '../../core/domain/context.js';
import type { Switchboard } from '../../core/switchboard.js';

/** `alerts:<tenantId>`: admin-only alerts of one tenant (order_paid, refund_needed). Admins of
 * another tenant are refused, unlike the core `admin` namespace which has no tenant. */
export function installPaymentChannels(sb: Switchboard, db: Db): void {
  const adminOf: AccessRule = async (ctx) => {
    const actor = await liveAccount(db, ctx.user);
    return actor !== null && actor.role === 'admin' && ctx.key === actor.tenant;
  };
  sb.defineNamespace('alerts', { subscribe: adminOf, history: adminOf });
}
