import type { HistoryRequest } from '@switchboard/client/protocol';
import { publicationPayload } from '../frames.js';
import type { Handler } from './index.js';
import { authorize } from './access.js';

const DEFAULT_LIMIT = 100;

export const history: Handler<HistoryRequest> = async (gateway, session, req) => {
  await authorize(gateway.hub.namespaces, req.channel, session.user, 'history');
  const options = req.since ? { since: req.since, limit: req.limit ?? DEFAULT_LIMIT } : { limit: req.limit ?? DEFAULT_LIMIT };
  const page = await gateway.hub.history(req.channel, options);
  return {
    result: { ...page.position, publications: page.publications.map(publicationPayload), complete: page.complete },
  };
};
