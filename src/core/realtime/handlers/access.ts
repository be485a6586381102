import type { UserInfo } from '@switchboard/client/protocol';
import { isAllowed, type AccessContext, type AccessKind, type Namespace, type NamespaceRegistry } from '../../channels/namespaces.js';
import { RequestError } from '../reply-error.js';

/** Resolves a channel's namespace and checks the policy for `kind`; throws the coded error otherwise. */
export async function authorize(
  namespaces: NamespaceRegistry,
  channel: string,
  user: UserInfo | null,
  kind: AccessKind,
  publication?: AccessContext['publication'],
): Promise<{ namespace: Namespace; ctx: AccessContext }> {
  const resolved = namespaces.resolve(channel, user);
  if (!resolved.ok) throw new RequestError(resolved.code, `${channel.slice(0, 64)}: ${resolved.code.replace('_', ' ')}`, 'channel');
  const ctx = publication ? { ...resolved.ctx, publication } : resolved.ctx;
  if (!(await isAllowed(resolved.namespace, kind, ctx))) {
    throw new RequestError('forbidden', `${kind} is not allowed on ${channel}`, 'channel');
  }
  return { namespace: resolved.namespace, ctx };
}
