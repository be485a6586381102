import type { HistoryRequest } from '@switchboard/client/protocol';
import { publicationChars } from '../../layer/channel-layer.js';
import { publicationPayload } from '../frames.js';
import { backpressureError } from '../hub.js';
import type { Handler } from './index.js';
import { authorize } from './access.js';

const DEFAULT_LIMIT = 100;

/** A page of history, cut by count and by the connection's reply budget; `more` tells the client
 * to ask again from the last publication it got. */
export const history: Handler<HistoryRequest> = async (gateway, session, req) => {
  await authorize(gateway.hub.namespaces, req.channel, session.user, 'history');
  const { budget } = gateway;
  const grant = budget.reserve(session);
  if (grant === 0) throw backpressureError();
  let held = grant;
  try {
    const limit = req.limit ?? DEFAULT_LIMIT;
    const page = await gateway.hub.history(req.channel, req.since ? { since: req.since, limit, maxChars: grant } : { limit, maxChars: grant });
    let used = 0;
    for (const pub of page.publications) used += publicationChars(pub);
    // One publication larger than what is left while the connection is busy: not now.
    if (used > grant && grant < gateway.limits.maxReplyBytes) throw backpressureError();
    budget.adjust(session, held, used);
    held = used;
    const last = page.publications.at(-1)?.offset ?? req.since?.offset;
    const more = req.since !== undefined && page.complete && last !== undefined && last < page.position.offset;
    return {
      result: { ...page.position, publications: page.publications.map(publicationPayload), complete: page.complete, more },
      reserved: used,
    };
  } catch (err) {
    budget.release(session, held);
    throw err;
  }
};

