/**
 * A command could not do what was asked, for a reason the user can act on (the node is not
 * running, the credentials are wrong, the account does not exist). The CLI prints the message
 * alone, without a stack trace or the usage, and exits with `exitCode`.
 */
export class CommandError extends Error {
  override name = 'CommandError';

  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}
