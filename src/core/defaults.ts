import { allow } from './channels/namespaces.js';
import type { Switchboard } from './switchboard.js';

/**
 * The namespaces and path aliases a node serves out of the box. Domain modules (carts, orders,
 * notifications) add their own next to these; each line here is a policy a reviewer can read.
 */
export function installDefaultChannels(sb: Switchboard): void {
  sb.defineNamespace('public', { subscribe: allow.anyone, history: allow.anyone })
    .defineNamespace('user', { subscribe: allow.owner, history: allow.owner })
    .defineNamespace('tenant', { subscribe: allow.tenantMember, history: allow.tenantMember, presence: allow.tenantMember, trackPresence: true })
    .defineNamespace('admin', { subscribe: allow.roles('admin'), history: allow.roles('admin') })
    .defineNamespace('chat', {
      subscribe: allow.authenticated,
      publish: allow.authenticated,
      history: allow.authenticated,
      presence: allow.authenticated,
      trackPresence: true,
    });
  // The paths Django frontends open speak their frames ({"type": ...}); ?frames=switchboard for native ones.
  sb.addRoute('/ws/chat/:room/', ({ room }) => [`chat:${room}`], { frames: 'channels' });
  sb.addRoute('/ws/notifications/', (_params, user) => (user ? [`user:${user.id}`] : null), { frames: 'channels' });
}
