import { CloseCodes } from '@switchboard/client/protocol';
import type { RouteMatch } from '../channels/routes.js';
import { withTimeout } from '../util/timeout.js';
import { connectionEstablishedFrame } from './channels-frames.js';
import { isoOrNull, serverFrame } from './frames.js';
import type { Gateway } from './gateway.js';
import { subscribeChannel } from './handlers/subscribe.js';
import type { Outcome } from './handlers/index.js';
import { asRequestError, RequestError } from './reply-error.js';
import type { Session } from './session.js';

/**
 * Subscribes a path alias's channels once its connection is authenticated, and reports them: a
 * `subscribed` frame each (native), or one `connection_established` (Channels). Answers the channel
 * Channels frames publish to (the first), or null when the alias was refused and the connection
 * closed. Never rejects.
 */
export async function subscribeAlias(gateway: Gateway, session: Session, route: RouteMatch): Promise<string | null> {
  // Channels: the subscriptions go live only after connection_established, so that frame comes first.
  const goLive: (() => void)[] = [];
  try {
    const channels = await withTimeout(route.resolve(route.params, session.user), 'the path alias resolver');
    if (!channels) {
      gateway.close(session, CloseCodes.forbidden, 'this endpoint is not yours to use');
      return null;
    }
    let snapshot: unknown;
    for (const [index, channel] of channels.entries()) {
      // The client may have subscribed to the alias's channel itself while the route resolved:
      // it already has what the alias would give it.
      if (session.subs.has(channel)) continue;
      let outcome: Outcome;
      try {
        outcome = await subscribeChannel(gateway, session, channel, undefined);
      } catch (err) {
        // ...or while this subscribe was being authorized (slow resolver and rule): the same.
        if (err instanceof RequestError && err.code === 'already_subscribed') continue;
        throw err;
      }
      const result = outcome.result as Record<string, unknown>;
      if (session.frames === 'switchboard') {
        try {
          session.send(serverFrame({ op: 'subscribed', channel, ...result }));
        } finally {
          // Even when the frame could not be written (the connection is then closed below): left
          // pending, the subscription would buffer its channel for good.
          outcome.after?.();
        }
      } else {
        if (index === 0) snapshot = result.snapshot;
        if (outcome.after) goLive.push(outcome.after);
      }
    }
    if (session.frames === 'channels') {
      session.send(connectionEstablishedFrame({ session: session.id, user: session.user, channels, snapshot, expiresAt: isoOrNull(session.expiresAt) }));
    }
    return channels[0] ?? null;
  } catch (err) {
    const error = asRequestError(err, 'subscribe', gateway.log);
    const code = error.code === 'forbidden' || error.code === 'invalid_channel' || error.code === 'unknown_namespace' ? CloseCodes.forbidden : CloseCodes.internalError;
    gateway.close(session, code, error.message);
    return null;
  } finally {
    // After a failure too: a subscription set up and never made live would stay pending in the
    // hub; on a closed session going live only cleans it up.
    for (const live of goLive) live();
  }
}

