import type { PublishRequest } from '@switchboard/client/protocol';
import type { Handler } from './index.js';
import { authorize } from './access.js';

export const publish: Handler<PublishRequest> = async (gateway, session, req) => {
  await authorize(gateway.hub.namespaces, req.channel, session.user, 'publish', { event: req.event, data: req.data });
  return { result: await gateway.hub.publish(req.channel, req.event, req.data) };
};
