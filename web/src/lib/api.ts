import { getSession, signOut } from './session';

/**
 * The REST API (docs/api.md), with the signed-in user's bearer token. Every failure is an
 * `ApiError` whose `message` is a sentence a person can read: the API's own words
 * (`{"error":{"code","message","details"}}`), or ours when the server could not be reached.
 */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    /** HTTP status; 0 when no answer came. */
    readonly status: number,
    /** The API's code (`invalid_credentials`, `version_conflict` …), or `network` / `bad_answer`. */
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export interface RequestOptions {
  body?: unknown;
  /** Makes a write safe to retry (cart, checkout, order changes): the same key replays the first answer. */
  idempotencyKey?: string;
  signal?: AbortSignal;
}

/** Codes that mean the token is no good any more: the session ends and the user signs in again. */
const SESSION_OVER = new Set(['invalid_token', 'token_expired', 'unauthenticated']);

/** "the email or password is wrong" -> "The email or password is wrong." */
export function sentence(text: string): string {
  const trimmed = text.trim();
  if (trimmed === '') return trimmed;
  const first = trimmed.charAt(0).toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(first) ? first : `${first}.`;
}

function errorOf(status: number, body: unknown, retryAfter: string | null): ApiError {
  const error = (body as { error?: { code?: unknown; message?: unknown; details?: unknown } } | null)?.error;
  if (error && typeof error.code === 'string' && typeof error.message === 'string') {
    const details = typeof error.details === 'object' && error.details !== null ? (error.details as Record<string, unknown>) : {};
    let message = sentence(error.message);
    if (error.code === 'rate_limited' && retryAfter) message = `Too many attempts from this address. Try again in ${retryAfter} s.`;
    return new ApiError(status, error.code, message, details);
  }
  return new ApiError(status, 'bad_answer', `The server answered ${status} without saying why. Try again in a moment.`);
}

export async function request<T>(method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE', path: string, options: RequestOptions = {}): Promise<T> {
  const session = getSession();
  const headers: Record<string, string> = { accept: 'application/json' };
  if (session) headers.authorization = `Bearer ${session.token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (options.idempotencyKey) headers['idempotency-key'] = options.idempotencyKey;
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw err;
    throw new ApiError(0, 'network', 'The server could not be reached. Check your connection and try again.');
  }
  const text = await response.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!response.ok) {
    const error = errorOf(response.status, body, response.headers.get('retry-after'));
    // A token the server no longer takes (expired, account deleted or changed): sign in again.
    if (session && response.status === 401 && SESSION_OVER.has(error.code)) signOut('Your session has ended. Sign in again to carry on.');
    throw error;
  }
  return body as T;
}

export const api = {
  get: <T>(path: string, options?: RequestOptions) => request<T>('GET', path, options),
  post: <T>(path: string, body?: unknown, options?: RequestOptions) => request<T>('POST', path, { ...options, body }),
  patch: <T>(path: string, body?: unknown, options?: RequestOptions) => request<T>('PATCH', path, { ...options, body }),
  delete: <T>(path: string, options?: RequestOptions) => request<T>('DELETE', path, options),
};

/** Words for any error a page catches. */
export function errorMessage(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  if (err instanceof Error && err.message) return sentence(err.message);
  return 'Something went wrong. Try again in a moment.';
}

/** A fresh Idempotency-Key for one user action (reuse it when retrying that same action). */
export function idempotencyKey(): string {
  return crypto.randomUUID();
}
