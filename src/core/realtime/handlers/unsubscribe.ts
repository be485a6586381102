import type { UnsubscribeRequest } from '@switchboard/client/protocol';
import { RequestError } from '../reply-error.js';
import type { Handler } from './index.js';

export const unsubscribe: Handler<UnsubscribeRequest> = async (gateway, session, req) => {
  const sub = session.subs.get(req.channel);
  if (!sub) throw new RequestError('not_subscribed', `not subscribed to ${req.channel.slice(0, 64)}`, 'channel');
  session.subs.delete(req.channel);
  gateway.hub.unsubscribe(session, sub);
  return { result: {} };
};
