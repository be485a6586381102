import { ConfigError } from '../core/config.js';
import { CommandError } from './command-error.js';

/** How long one HTTP request to the node may take before the command gives up on it. */
export const REQUEST_TIMEOUT_MS = 10_000;

/** The node a client command talks to: `--url`, else SWITCHBOARD_URL, else the `npm start` default. */
export function nodeUrl(flag: string | undefined, env: NodeJS.ProcessEnv): URL {
  const raw = flag ?? env.SWITCHBOARD_URL ?? 'http://localhost:8000';
  const source = flag !== undefined ? '--url' : env.SWITCHBOARD_URL !== undefined ? 'SWITCHBOARD_URL' : 'the default';
  let url: URL;
  try {
    url = new URL(raw.includes('://') ? raw : `http://${raw}`);
  } catch {
    throw new ConfigError([`${source} ${JSON.stringify(raw)} is not a URL (e.g. http://localhost:8000)`]);
  }
  const http = { 'http:': 'http:', 'https:': 'https:', 'ws:': 'http:', 'wss:': 'https:' }[url.protocol];
  if (!http) throw new ConfigError([`${source} ${JSON.stringify(raw)} must be an http(s) or ws(s) URL (e.g. http://localhost:8000)`]);
  return new URL(`${http}//${url.host}`);
}

/** The node's WebSocket URL for a path (`/ws`, or an alias such as `/ws/cart/`). */
export function socketUrl(node: URL, path: string): string {
  return `${node.protocol === 'https:' ? 'wss:' : 'ws:'}//${node.host}${path}`;
}

/** Why a request to the node failed before any answer, said so the user knows what to do. */
export function unreachable(node: URL, err: unknown): CommandError {
  // fetch wraps the socket's error (ECONNREFUSED...) as its cause; ws hands it over as it is.
  const cause = (err as { cause?: unknown } | null)?.cause ?? err;
  const code = (cause as { code?: unknown } | null)?.code;
  const why =
    typeof code === 'string' ? code
    : (err as { name?: unknown } | null)?.name === 'TimeoutError' ? `no answer within ${REQUEST_TIMEOUT_MS / 1000} s`
    : cause instanceof Error ? cause.message
    : String(cause);
  return new CommandError(`no Switchboard node answers at ${node.origin} (${why}): start one with \`npm start\`, or point --url (or SWITCHBOARD_URL) at one`);
}

export interface Credentials {
  email: string;
  password: string;
}

/**
 * Signs in with POST /api/auth/login and returns the token (an account token: 12 h, REST and
 * channels). `demo`: the credentials are a demo account's, which changes what a 401 means.
 */
export async function login(node: URL, credentials: Credentials, demo: boolean): Promise<string> {
  let res: Response;
  try {
    res = await fetch(new URL('/api/auth/login', node), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(credentials),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (err) {
    throw unreachable(node, err);
  }
  const body = (await res.json().catch(() => null)) as { token?: unknown; error?: { code?: unknown; message?: unknown } } | null;
  if (res.ok && typeof body?.token === 'string') return body.token;
  const code = typeof body?.error?.code === 'string' ? body.error.code : null;
  const said = typeof body?.error?.message === 'string' ? body.error.message : null;
  if (res.status === 401 && demo) {
    throw new CommandError(
      `the demo account ${credentials.email} cannot sign in at ${node.origin} (401 ${code ?? ''}): this node's database does not hold it, or its password was changed. ` +
        '`switchboard demo-accounts` lists the demo accounts present; `switchboard seed` loads them again (it deletes every account and order)',
    );
  }
  if (res.status === 401) throw new CommandError(`${node.origin} refused the sign-in of ${credentials.email} (401 ${code ?? ''}): the email or password is wrong`);
  if (res.status === 429) throw new CommandError(`${node.origin} is throttling sign-ins from this address (429): try again in ${res.headers.get('retry-after') ?? 'a few'} s`);
  if (code === null) throw new CommandError(`${node.origin} answered ${res.status} to POST /api/auth/login, not a Switchboard sign-in: is a Switchboard node running there?`);
  throw new CommandError(`${node.origin} refused the sign-in of ${credentials.email} (${res.status} ${code}${said ? `: ${said}` : ''})`);
}
