import { CloseCodes, type ConnectRequest } from '@switchboard/client/protocol';
import { replyError } from '../frames.js';
import { RequestError } from '../reply-error.js';
import type { Handler } from './index.js';

/** First-frame authentication, for clients that keep tokens out of URLs. On failure the error reply
 * goes out and the connection closes; anything sent after that is dropped by the closed session. */
export const connect: Handler<ConnectRequest> = async (gateway, session, req) => {
  if (session.authenticated) {
    // A client that always sends connect (the SDK) on a connection the cookie already authenticated:
    // nothing to do, and nothing wrong. A second token is another matter.
    if (req.token === undefined) return { result: { session: session.id, user: session.user } };
    throw new RequestError('already_connected');
  }
  const refuse = (code: number, error: RequestError) => {
    session.send(replyError(req.id, error));
    gateway.close(session, code, error.message);
    return { result: {} };
  };
  if (req.token === undefined) {
    if (!gateway.options.allowAnonymous) return refuse(CloseCodes.unauthorized, new RequestError('invalid_token', 'a token is required', 'token'));
    if (!(await gateway.authenticate(session, null, null))) return { result: {} };
    return { result: { session: session.id, user: null } };
  }
  const verified = await gateway.tokens.verify(req.token);
  if (!verified.ok) {
    const code = verified.reason === 'expired' ? CloseCodes.tokenExpired : CloseCodes.unauthorized;
    return refuse(code, new RequestError('invalid_token', verified.detail, 'token'));
  }
  if (session.closed || !(await gateway.authenticate(session, verified.user, verified.expiresAt, req.id))) return { result: {} };
  return { result: { session: session.id, user: verified.user } };
};
