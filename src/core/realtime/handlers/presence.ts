import type { PresenceRequest } from '@switchboard/client/protocol';
import { presenceEntries } from '../frames.js';
import type { Handler } from './index.js';
import { authorize } from './access.js';

export const presence: Handler<PresenceRequest> = async (gateway, session, req) => {
  await authorize(gateway.hub.namespaces, req.channel, session.user, 'presence');
  const members = await gateway.hub.presence.list(req.channel);
  return { result: { users: presenceEntries(members) } };
};
