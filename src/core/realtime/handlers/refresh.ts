import { CloseCodes, type RefreshRequest } from '@switchboard/client/protocol';
import { isoOrNull, replyError } from '../frames.js';
import { RequestError } from '../reply-error.js';
import type { Handler } from './index.js';

/** A new token extends the connection's life; it must be the same user's. A bad token is refused
 * and the connection keeps its old expiry (and closes at it, after the grace, if nothing better comes). */
export const refresh: Handler<RefreshRequest> = async (gateway, session, req) => {
  const verified = await gateway.tokens.verify(req.token);
  if (!verified.ok) throw new RequestError('invalid_token', verified.detail, 'token');
  // An anonymous connection has no user to match: it must reconnect with the token rather than
  // become a user here, uncounted by the per-user connection limit.
  if (verified.user.id !== session.user?.id) throw new RequestError('token_user_mismatch', undefined, 'token');
  // Subscriptions were authorized for the old role and tenant; a change takes a new connection.
  if (verified.user.role !== session.user.role || verified.user.tenant !== session.user.tenant) {
    throw new RequestError('token_user_mismatch', 'a refreshed token must keep the role and tenant; reconnect to change them', 'token');
  }
  // The account may have been deleted or changed since the connection opened: a refresh is when a
  // token says so, and it ends the connection rather than extend it.
  if (!(await gateway.principalLive(verified.user))) {
    const error = new RequestError('account_revoked', undefined, 'token');
    session.send(replyError(req.id, error));
    gateway.close(session, CloseCodes.accountRevoked, error.message);
    return { result: {} };
  }
  session.user = verified.user;
  session.expiresAt = verified.expiresAt;
  return { result: { expiresAt: isoOrNull(verified.expiresAt) } };
};
