/** A user-supplied callback (access rule, snapshot provider, route resolver) did not answer in time. */
export class CallbackTimeoutError extends Error {
  override name = 'CallbackTimeoutError';
}

/** How long an application callback may take before the request it serves fails as temporary. A
 * hung callback must not pin a pending subscription (and its growing buffer) forever. */
export const CALLBACK_TIMEOUT_MS = 10_000;

export async function withTimeout<T>(value: T | Promise<T>, what: string, ms = CALLBACK_TIMEOUT_MS): Promise<T> {
  if (!(value instanceof Promise)) return value;
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new CallbackTimeoutError(`${what} did not answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([value, expired]);
  } finally {
    clearTimeout(timer);
  }
}
