import type { Logger } from 'pino';
import { ErrorCodes, type ErrorCode, type ReplyError } from '@switchboard/client/protocol';
import { LayerUnavailableError } from '../layer/channel-layer.js';
import { CallbackTimeoutError } from '../util/timeout.js';

/** A request failed in a way the client should be told about; becomes an `ok:false` reply. */
export class RequestError extends Error {
  override name = 'RequestError';
  constructor(
    readonly code: ErrorCode,
    readonly detail?: string,
    readonly field?: string,
  ) {
    super(detail ?? ErrorCodes[code].message);
  }

  toReply(): ReplyError {
    const error: ReplyError = { code: this.code, message: this.message, temporary: ErrorCodes[this.code].temporary };
    if (this.field !== undefined) error.field = this.field;
    return error;
  }
}

/** What a request's failure tells the client: its own code, `unavailable` for a callback that
 * timed out or a layer that is down, else `internal` (logged, since nobody expected it). */
export function asRequestError(err: unknown, op: string, log: Logger): RequestError {
  if (err instanceof RequestError) return err;
  if (err instanceof CallbackTimeoutError) {
    log.warn({ err, op }, 'application callback timed out');
    return new RequestError('unavailable', err.message);
  }
  // The hub maps its own layer calls; this catches the rest (e.g. presence lists from Redis).
  if (err instanceof LayerUnavailableError) return new RequestError('unavailable', err.message);
  log.error({ err, op }, 'request failed');
  return new RequestError('internal');
}
