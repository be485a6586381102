import { isValidChannel, type ErrorCode, type UserInfo } from '@switchboard/client/protocol';
import { withTimeout } from '../util/timeout.js';

export interface AccessContext {
  /** null for an anonymous connection (only when anonymous access is enabled). */
  user: UserInfo | null;
  channel: string;
  namespace: string;
  /** The part after `namespace:` (empty for a bare namespace), e.g. the user id in `user:42`. */
  key: string;
  /** For the `publish` rule only: what the client publishes, so a rule can allow some events and
   * check their data (the server's own events on the same channel cannot then be forged). */
  publication?: { event: string; data: unknown };
}

export type AccessRule = (ctx: AccessContext) => boolean | Promise<boolean>;
export type SnapshotProvider = (ctx: AccessContext) => unknown;

/** A channel namespace's policy. Every access kind not given a rule is denied. */
export interface NamespaceOptions {
  subscribe?: AccessRule;
  /** Publishing from clients; the server (in-process API, HTTP publish API) may always publish. */
  publish?: AccessRule;
  presence?: AccessRule;
  history?: AccessRule;
  /** Publications kept for recovery; 0 turns history (and so recovery) off. */
  historySize?: number;
  historyTtlMs?: number;
  /** Subscribers are listed in presence and join/leave events go to those allowed to see presence. */
  trackPresence?: boolean;
  /** The current state a subscriber starts from (e.g. the cart), returned with the subscribe reply. */
  snapshot?: SnapshotProvider;
  /**
   * Events after which access may have changed (an order's worker replaced): when one arrives, each
   * node asks the `subscribe` rule again for each of its subscribers of the channel, before it
   * delivers anything newer, and ends the subscriptions of those no longer allowed (an
   * `unsubscribed` frame, code forbidden). They still receive the event that removed them.
   */
  recheckOn?: readonly string[];
}

export interface Namespace extends Required<Pick<NamespaceOptions, 'historySize' | 'historyTtlMs' | 'trackPresence'>> {
  name: string;
  options: NamespaceOptions;
}

export type Resolved = { ok: true; namespace: Namespace; ctx: AccessContext } | { ok: false; code: ErrorCode };

export const allow = {
  anyone: (() => true) as AccessRule,
  authenticated: ((ctx) => ctx.user !== null) as AccessRule,
  roles:
    (...roles: string[]): AccessRule =>
    (ctx) =>
      ctx.user !== null && roles.includes(ctx.user.role),
  /** The channel key is the user's own id: `user:42` for user 42. */
  owner: ((ctx) => ctx.user !== null && ctx.key === ctx.user.id) as AccessRule,
  /** The channel key is the user's tenant: `tenant:acme` for members of acme. */
  tenantMember: ((ctx) => ctx.user?.tenant !== undefined && ctx.key === ctx.user.tenant) as AccessRule,
  any:
    (...rules: AccessRule[]): AccessRule =>
    async (ctx) => {
      for (const rule of rules) if (await rule(ctx)) return true;
      return false;
    },
};

export interface NamespaceDefaults {
  historySize: number;
  historyTtlMs: number;
}

/** Declared channel namespaces. A channel whose namespace is not declared cannot be used at all. */
export class NamespaceRegistry {
  #namespaces = new Map<string, Namespace>();
  #defaults: NamespaceDefaults;

  constructor(defaults: NamespaceDefaults) {
    this.#defaults = defaults;
  }

  define(name: string, options: NamespaceOptions): void {
    if (!isValidChannel(name) || name.includes(':')) throw new Error(`invalid namespace name '${name}'`);
    if (this.#namespaces.has(name)) throw new Error(`namespace '${name}' is already defined`);
    this.#namespaces.set(name, {
      name,
      options,
      historySize: options.historySize ?? this.#defaults.historySize,
      historyTtlMs: options.historyTtlMs ?? this.#defaults.historyTtlMs,
      trackPresence: options.trackPresence ?? false,
    });
  }

  resolve(channel: string, user: UserInfo | null): Resolved {
    if (typeof channel !== 'string' || !isValidChannel(channel)) return { ok: false, code: 'invalid_channel' };
    const colon = channel.indexOf(':');
    const name = colon < 0 ? channel : channel.slice(0, colon);
    const namespace = this.#namespaces.get(name);
    if (!namespace) return { ok: false, code: 'unknown_namespace' };
    const key = colon < 0 ? '' : channel.slice(colon + 1);
    return { ok: true, namespace, ctx: { user, channel, namespace: name, key } };
  }
}

export type AccessKind = 'subscribe' | 'publish' | 'presence' | 'history';

/** Deny by default: no rule for the kind means no access. A rule that throws is the caller's
 * failure to report (internal error), never a silent allow. */
export async function isAllowed(namespace: Namespace, kind: AccessKind, ctx: AccessContext): Promise<boolean> {
  const rule = namespace.options[kind];
  if (!rule) return false;
  return (await withTimeout(rule(ctx), `the ${kind} rule of namespace '${namespace.name}'`)) === true;
}
