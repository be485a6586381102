/**
 * Small HTTP helpers for the benches that drive the REST API (abuse, soak): one request with a
 * deadline over the whole exchange (queueing in the agent included), never rejecting; and the
 * account calls every such bench needs (register, the publish API).
 */
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';

export interface HttpResult {
  /** 0 when there was no answer (timeout, connection error); `error` says which. */
  status: number;
  body: string;
  ms: number;
  error?: string;
}

export interface HttpOptions {
  port: number;
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Deadline for the whole exchange, from the call to the last byte of the answer. */
  timeoutMs: number;
  /** A keep-alive agent, or false for a fresh connection (what a health checker does). */
  agent?: Agent | false;
  /** Keep at most this much of the answer's body (the rest is read and dropped). */
  maxBody?: number;
  /** The local address to connect from (any of 127.0.0.0/8 on Linux). */
  localAddress?: string;
}

/** One request; resolves with the status (0 if none came in time) and never rejects. */
export function httpRequest(options: HttpOptions): Promise<HttpResult> {
  const started = performance.now();
  const maxBody = options.maxBody ?? 64 * 1024;
  return new Promise((resolve) => {
    let done = false;
    const finish = (status: number, body: string, error?: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ status, body, ms: performance.now() - started, ...(error ? { error } : {}) });
    };
    const headers: Record<string, string | number> = { ...options.headers };
    if (options.body !== undefined) headers['content-length'] = Buffer.byteLength(options.body);
    const req = request(
      { host: '127.0.0.1', port: options.port, method: options.method, path: options.path, headers, agent: options.agent ?? undefined, ...(options.localAddress ? { localAddress: options.localAddress } : {}) },
      (res) => {
        const chunks: Buffer[] = [];
        let kept = 0;
        res.on('data', (chunk: Buffer) => {
          if (kept < maxBody) {
            chunks.push(chunk);
            kept += chunk.length;
          }
        });
        res.on('end', () => finish(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8').slice(0, maxBody)));
        res.on('error', (err) => finish(0, '', `response: ${err.message}`));
      },
    );
    const timer = setTimeout(() => {
      req.destroy(new Error('timeout'));
      finish(0, '', 'timeout');
    }, options.timeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) => finish(0, '', err.code ?? err.message));
    if (options.body !== undefined) req.end(options.body);
    else req.end();
  });
}

/** A JSON request: the body is serialized, the answer parsed (null when it is not JSON). */
export async function jsonRequest<T = unknown>(
  options: Omit<HttpOptions, 'body'> & { json?: unknown },
): Promise<HttpResult & { data: T | null }> {
  const { json, ...rest } = options;
  const headers = { ...rest.headers, ...(json !== undefined ? { 'content-type': 'application/json' } : {}) };
  const result = await httpRequest({ ...rest, headers, ...(json !== undefined ? { body: JSON.stringify(json) } : {}) });
  let data: T | null = null;
  try {
    data = result.body ? (JSON.parse(result.body) as T) : null;
  } catch {
    data = null;
  }
  return { ...result, data };
}

/** A short code for an answer, for tallies: `200`, `400 invalid_body`, `timeout`, `ECONNRESET`. */
export function outcomeOf(r: HttpResult): string {
  if (r.status === 0) return r.error ?? 'no answer';
  if (r.status < 300) return String(r.status);
  let code = '';
  try {
    code = (JSON.parse(r.body) as { error?: { code?: string } }).error?.code ?? '';
  } catch {
    /* not our error shape */
  }
  return code ? `${r.status} ${code}` : String(r.status);
}

export interface Account {
  id: string;
  email: string;
  token: string;
}

/** `POST /api/auth/register`: a new customer account (throws with the answer if refused). */
export async function register(port: number, email: string, name: string, password = 'bench-password-1'): Promise<Account> {
  const r = await jsonRequest<{ token: string; user: { id: string } }>({
    port,
    method: 'POST',
    path: '/api/auth/register',
    json: { email, password, name },
    timeoutMs: 30_000,
  });
  if (r.status !== 201 || !r.data?.token || !r.data.user?.id) throw new Error(`register ${email}: ${outcomeOf(r)} ${r.body.slice(0, 300)}`);
  return { id: r.data.user.id, email, token: r.data.token };
}
