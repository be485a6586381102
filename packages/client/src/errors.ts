import { ErrorCodes, type ErrorCode, type ReplyError } from './protocol.js';

/**
 * Codes the SDK raises itself, next to the server's `ErrorCode`s (`not_connected` is shared: the
 * SDK uses it for requests made while it has no connection).
 */
export const ClientErrorCodes = {
  /** No reply within `requestTimeoutMs`. The request may still have been applied. */
  timeout: { temporary: true, message: 'The server did not reply in time' },
  /** The connection dropped before the reply came. The request may still have been applied. */
  connection_lost: { temporary: true, message: 'The connection closed before the reply arrived' },
  /** `close()` was called, or the subscription was unsubscribed, while the operation was pending. */
  client_closed: { temporary: false, message: 'The client or subscription was closed' },
  /** The server closed the connection with a code that says not to retry (4500-4999). */
  connection_refused: { temporary: false, message: 'The server refused the connection' },
  /** `getToken` threw or returned something that is not a string. */
  token_unavailable: { temporary: true, message: 'The token provider failed' },
  /** The token expired and there is no `getToken` to get a new one. */
  token_expired: { temporary: false, message: 'The token expired and no getToken was given' },
  /** The WebSocket could not be created (bad URL, no WebSocket implementation). */
  bad_config: { temporary: false, message: 'The client is misconfigured' },
} as const satisfies Record<string, { temporary: boolean; message: string }>;
export type ClientErrorCode = keyof typeof ClientErrorCodes;

export type SwitchboardErrorCode = ErrorCode | ClientErrorCode;

type Catalogue = Partial<Record<string, { temporary: boolean; message: string }>>;

export interface SwitchboardErrorInit {
  temporary?: boolean;
  field?: string;
  /** The WebSocket close code, for errors that come from a close. */
  closeCode?: number;
  cause?: unknown;
}

/** Every error the SDK rejects with or emits. `temporary`: the same thing may work later. */
export class SwitchboardError extends Error {
  override name = 'SwitchboardError';
  readonly code: SwitchboardErrorCode;
  readonly temporary: boolean;
  readonly field: string | undefined;
  readonly closeCode: number | undefined;

  constructor(code: SwitchboardErrorCode, message?: string, init: SwitchboardErrorInit = {}) {
    const known = (ClientErrorCodes as Catalogue)[code] ?? (ErrorCodes as Catalogue)[code];
    super(message ?? known?.message ?? code, init.cause === undefined ? undefined : { cause: init.cause });
    this.code = code;
    this.temporary = init.temporary ?? known?.temporary ?? false;
    this.field = init.field;
    this.closeCode = init.closeCode;
  }

  /** From a reply's `error` object; unknown codes from a newer server are passed through as they are. */
  static fromReply(error: ReplyError): SwitchboardError {
    const init: SwitchboardErrorInit = { temporary: error.temporary === true };
    if (typeof error.field === 'string') init.field = error.field;
    return new SwitchboardError(error.code, typeof error.message === 'string' ? error.message : undefined, init);
  }

  /** Anything thrown, as a SwitchboardError (for errors from user callbacks like getToken). */
  static wrap(err: unknown, code: SwitchboardErrorCode): SwitchboardError {
    if (err instanceof SwitchboardError) return err;
    const message = err instanceof Error ? err.message : String(err);
    return new SwitchboardError(code, message, { cause: err });
  }
}
