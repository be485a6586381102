import type { PingRequest } from '@switchboard/client/protocol';
import type { Handler } from './index.js';

export const ping: Handler<PingRequest> = async () => ({ result: {} });
