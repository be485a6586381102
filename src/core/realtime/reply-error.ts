import { ErrorCodes, type ErrorCode, type ReplyError } from '@switchboard/client/protocol';

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
