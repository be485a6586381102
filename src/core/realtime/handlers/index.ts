import type { ClientRequest, RequestOp } from '@switchboard/client/protocol';
import type { Gateway } from '../gateway.js';
import type { Session } from '../session.js';
import { connect } from './connect.js';
import { history } from './history.js';
import { ping } from './ping.js';
import { presence } from './presence.js';
import { publish } from './publish.js';
import { refresh } from './refresh.js';
import { subscribe } from './subscribe.js';
import { unsubscribe } from './unsubscribe.js';

export interface Outcome {
  result: unknown;
  /** Runs right after the reply is written (e.g. flushing a new subscription's held publications). */
  after?: () => void;
  /** Reply bytes the handler reserved in the send budget; released once the reply is written. */
  reserved?: number;
}

export type Handler<R extends ClientRequest> = (gateway: Gateway, session: Session, req: R) => Promise<Outcome>;

/** One handler per request op, keyed by the protocol's tag so a new op fails to compile until handled. */
export const handlers: { [K in RequestOp]: Handler<Extract<ClientRequest, { op: K }>> } = {
  connect,
  subscribe,
  unsubscribe,
  publish,
  presence,
  history,
  refresh,
  ping,
};
