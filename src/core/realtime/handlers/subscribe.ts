import type { StreamPosition, SubscribeRequest } from '@switchboard/client/protocol';
import type { Gateway } from '../gateway.js';
import { backpressureError } from '../hub.js';
import { RequestError } from '../reply-error.js';
import type { Session, Subscription } from '../session.js';
import { authorize } from './access.js';
import type { Handler, Outcome } from './index.js';

export const subscribe: Handler<SubscribeRequest> = (gateway, session, req) => subscribeChannel(gateway, session, req.channel, req.since);

/** Shared by the subscribe op and path-alias subscriptions made on connect. */
export async function subscribeChannel(gateway: Gateway, session: Session, channel: string, since: StreamPosition | undefined): Promise<Outcome> {
  const { hub } = gateway;
  const { namespace, ctx } = await authorize(hub.namespaces, channel, session.user, 'subscribe');
  // Checked and reserved with no await in between, so two concurrent subscribes cannot both pass.
  if (session.subs.has(channel)) throw new RequestError('already_subscribed', `already subscribed to ${channel}`, 'channel');
  if (session.subs.size >= gateway.limits.maxSubscriptions) {
    throw new RequestError('too_many_subscriptions', `at most ${gateway.limits.maxSubscriptions} subscriptions per connection`);
  }
  if (session.closed) throw new RequestError('not_subscribed', 'the connection closed while subscribing');
  // Recovery carries history: its size is promised from the send budget first, like a history page.
  const grant = since === undefined ? 0 : gateway.budget.reserve(session);
  if (since !== undefined && grant === 0) throw backpressureError();
  const sub: Subscription = { channel, namespace, buffer: [], seesPresence: false, tracked: false, cancelled: false };
  session.subs.set(channel, sub);
  try {
    const budget = since === undefined ? undefined : { maxChars: grant, busy: grant < gateway.limits.maxReplyBytes };
    const { result, goLive, chars } = await hub.subscribe(session, sub, ctx, since, budget);
    gateway.budget.adjust(session, grant, chars);
    return { result, after: goLive, reserved: chars };
  } catch (err) {
    gateway.budget.release(session, grant);
    if (session.subs.get(channel) === sub) session.subs.delete(channel);
    throw err;
  }
}
