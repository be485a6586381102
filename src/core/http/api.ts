import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { TokenService } from '../auth/tokens.js';
import type { Db } from '../domain/context.js';
import { IdempotencyRace, idempotencyScope, type IdempotencyClaim } from '../domain/context.js';
import type { UserInfo } from '@switchboard/client/protocol';
import { nowIso } from '../db/ids.js';
import { HttpError } from './errors.js';
import type { AddressThrottle } from './throttle.js';
import { IDEMPOTENCY_KEY, parseBody, PUBLIC_BODY_LIMIT } from './app.js';

/** Who is calling, from the bearer token: an account with its role and tenant. */
export interface ApiUser {
  id: string;
  role: string;
  tenant: string;
}

/**
 * How the API knows who holds a token: the accounts module installs one (`api.useAccounts`).
 * Without one, every route that needs a signed-in user answers 401.
 */
export interface AccountResolver {
  /** The token's account (a known role and a tenant), or null for a token that is not an account's. */
  fromToken(user: UserInfo): ApiUser | null;
  /** Whether the account still exists, is enabled, and has the token's role and tenant. */
  isLive(user: ApiUser): Promise<boolean>;
}

/** 'none': public; 'user': any signed-in user; a list of roles: only those. */
export type Auth = 'none' | 'user' | readonly string[];

export interface HandlerContext<B, Q, P, A extends Auth> {
  user: A extends 'none' ? ApiUser | null : ApiUser;
  body: B;
  query: Q;
  params: P;
  req: FastifyRequest;
  reply: FastifyReply;
}

export interface RouteDef<B, Q, P, A extends Auth> {
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  url: string;
  summary: string;
  tag: string;
  auth: A;
  body?: z.ZodType<B>;
  query?: z.ZodType<Q>;
  params?: z.ZodType<P>;
  /** Documented response body. */
  response?: z.ZodType;
  /** Success status (200 unless given). */
  status?: number;
  /** Accepts `Idempotency-Key`: a retry with the same key and body replays the first answer. */
  idempotent?: boolean;
  /** Extra documented error answers, e.g. { 409: 'version_conflict: …' }. */
  errors?: Record<number, string>;
  /** The route reads its raw body itself (signature checks); `body` is not parsed by zod. */
  rawBody?: boolean;
  /** Limited per client address (`SWITCHBOARD_PUBLIC_REQUESTS_PER_SECOND`), before the body is
   * read: for routes anyone may call that a stranger could hammer (sign-in, registration). */
  throttled?: boolean;
  handler(ctx: HandlerContext<B, Q, P, A>): Promise<unknown>;
}

interface Documented {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  def: RouteDef<any, any, any, Auth>;
}

/**
 * The REST API's routes, declared once with the zod schemas that validate them; the same
 * declarations produce the OpenAPI document, so the document cannot drift from the checks.
 */
export class Api {
  readonly #routes: Documented[] = [];
  #accounts: AccountResolver | null = null;

  constructor(
    readonly app: FastifyInstance,
    private readonly tokens: TokenService,
    private readonly db: Db,
    private readonly throttle: { limit: AddressThrottle; clientAddress: (req: FastifyRequest) => string } | null = null,
  ) {
    app.get('/api/openapi.json', async () => this.openapi());
  }

  /** Refuses a client address over its rate (429) before the body is read; the socket is closed
   * rather than drained, so a flood of large bodies costs their headers only. */
  #throttled({ limit, clientAddress }: NonNullable<Api['throttle']>) {
    // Answered directly, not thrown: a flood is thousands of these a second, and an Error's stack
    // trace was a twentieth of the node's time under one.
    const refusal = JSON.stringify({ error: { code: 'rate_limited', message: `too many requests from your address (at most ${limit.perSecond} a second); try again in a moment`, details: {} } });
    return (req: FastifyRequest, reply: FastifyReply, done: () => void): void => {
      const address = clientAddress(req);
      if (limit.allow(address)) {
        done();
        return;
      }
      // Its body is not read: the socket goes as soon as the answer is out, not after draining it.
      reply.raw.once('finish', () => req.raw.socket.destroy());
      void reply.code(429).header('connection', 'close').header('retry-after', String(limit.retryAfterSeconds(address))).type('application/json').send(refusal);
    };
  }

  /** Installs how tokens map to accounts (the accounts module's). */
  useAccounts(resolver: AccountResolver): void {
    this.#accounts = resolver;
  }

  route<B = undefined, Q = undefined, P = undefined, A extends Auth = Auth>(def: RouteDef<B, Q, P, A>): void {
    this.#routes.push({ def });
    this.app.route({
      method: def.method,
      url: def.url,
      ...(def.auth === 'none' ? { bodyLimit: PUBLIC_BODY_LIMIT } : {}),
      ...(def.throttled && this.throttle ? { onRequest: this.#throttled(this.throttle) } : {}),
      handler: async (req, reply) => {
        const user = await this.#authenticate(req, def.auth);
        const params = def.params ? noNul(parse(def.params, req.params, 'path'), 'path') : (undefined as P);
        const query = def.query ? noNul(parse(def.query, req.query ?? {}, 'query'), 'query') : (undefined as Q);
        const body = def.body && !def.rawBody ? noNul(parseBody(def.body, req.body ?? {}), 'body') : (req.body as B);
        const ctx = { user, body, query, params, req, reply } as HandlerContext<B, Q, P, A>;
        const status = def.status ?? 200;
        // Set before the handler so a handler may still choose another (e.g. 200 for "already there").
        reply.status(status);
        const key = req.headers['idempotency-key'];
        if (def.idempotent && user && typeof key === 'string') {
          if (!IDEMPOTENCY_KEY.test(key)) throw new HttpError(400, 'invalid_idempotency_key', 'Idempotency-Key must be 1-200 characters of letters, digits and _-:.', { field: 'Idempotency-Key' });
          return this.#idempotent(user, key, req, reply, status, () => def.handler(ctx));
        }
        const result = await def.handler(ctx);
        return result ?? (status === 204 ? undefined : null);
      },
    });
  }

  async #authenticate(req: FastifyRequest, auth: Auth): Promise<ApiUser | null> {
    const header = req.headers.authorization;
    const token = header?.startsWith('Bearer ') ? header.slice(7).trim() : null;
    if (!token) {
      if (auth === 'none') return null;
      throw new HttpError(401, 'unauthenticated', 'sign in first: send Authorization: Bearer <token> (from POST /api/auth/login)');
    }
    const verified = await this.tokens.verify(token);
    if (!verified.ok) {
      if (auth === 'none') return null;
      throw new HttpError(401, verified.reason === 'expired' ? 'token_expired' : 'invalid_token', verified.detail);
    }
    const user = this.#accounts?.fromToken(verified.user) ?? null;
    if (auth === 'none') return user;
    if (!user) throw new HttpError(401, 'invalid_token', 'the token is not an account token (it lacks a known role or a tenant); sign in with POST /api/auth/login');
    // Tokens outlive accounts (12 h; `switchboard seed` deletes every account): the account must
    // still exist with the token's role and tenant, or a deleted admin kept acting and a deleted
    // customer's first cart write failed on its foreign key (500).
    if (!(await this.#accounts!.isLive(user))) {
      throw new HttpError(401, 'invalid_token', 'the account of this token no longer exists or no longer has its role or tenant; sign in again with POST /api/auth/login');
    }
    if (Array.isArray(auth) && !auth.includes(user.role)) throw new HttpError(403, 'forbidden', `this needs the role ${auth.join(' or ')}`);
    return user;
  }

  /** Replays a stored answer for a key already used; otherwise runs the handler with the key in
   * scope so its transaction commits the answer together with the change (see `transact`). */
  async #idempotent(user: ApiUser, key: string, req: FastifyRequest, reply: FastifyReply, status: number, run: () => Promise<unknown>): Promise<unknown> {
    const path = req.url.split('?')[0] ?? req.url;
    // The query is part of the request (e.g. DELETE /api/cart?version=N): hash the whole URL.
    const hash = createHash('sha256').update(`${req.method} ${req.url}\n${JSON.stringify(req.body ?? null)}`).digest('base64url');
    const replay = async (): Promise<unknown> => {
      const stored = await this.db.selectFrom('idempotency_keys').selectAll().where('user_id', '=', user.id).where('key', '=', key).executeTakeFirst();
      if (!stored) return undefined;
      if (stored.request_hash !== hash) {
        throw new HttpError(422, 'idempotency_key_reused', `the Idempotency-Key '${key}' was used for a different request (${stored.method} ${stored.path} with another body); use a new key`, { field: 'Idempotency-Key' });
      }
      reply.header('idempotent-replayed', 'true').status(stored.status);
      return JSON.parse(stored.response) as unknown;
    };
    const before = await replay();
    if (before !== undefined) return before;
    const claim: IdempotencyClaim = { userId: user.id, key, method: req.method, path, hash, status, claimed: false };
    try {
      const result = await idempotencyScope.run(claim, run);
      // A handler whose answer is only complete after its transaction (it calls a provider after
      // commit) leaves the claim untouched; its answer is stored now. Such handlers must be
      // idempotent by themselves, so a crash before this insert only costs a recomputed answer.
      if (!claim.claimed) {
        const stored = await this.db
          .insertInto('idempotency_keys')
          .values({ user_id: user.id, key, method: req.method, path, request_hash: hash, status: reply.statusCode, response: JSON.stringify(result ?? null), created_at: nowIso() })
          .onConflict((oc) => oc.doNothing())
          .executeTakeFirst();
        // A retry racing this one stored its answer first: answer that one, so every request with
        // the key gets the same answer (the first found the payment 201, a racing one 200).
        if (Number(stored.numInsertedOrUpdatedRows ?? 1n) === 0) return (await replay()) ?? result ?? null;
      }
      return result ?? null;
    } catch (err) {
      if (!(err instanceof IdempotencyRace)) throw err;
      return (await replay()) ?? null;
    }
  }

  openapi(): Record<string, unknown> {
    const paths: Record<string, Record<string, unknown>> = {};
    for (const { def } of this.#routes) {
      const path = def.url.replace(/:([A-Za-z_]+)/g, '{$1}');
      const parameters: unknown[] = [];
      for (const [where, schema] of [['path', def.params], ['query', def.query]] as const) {
        if (!schema) continue;
        const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as { properties?: Record<string, unknown>; required?: string[] };
        for (const [name, prop] of Object.entries(json.properties ?? {})) parameters.push({ name, in: where, required: where === 'path' || (json.required ?? []).includes(name), schema: prop });
      }
      if (def.idempotent) parameters.push({ name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string', maxLength: 200 }, description: 'A retry with the same key and body replays the first answer; the same key with another body answers 422.' });
      const responses: Record<string, unknown> = {
        [String(def.status ?? 200)]: { description: 'success', ...(def.response ? { content: { 'application/json': { schema: z.toJSONSchema(def.response, { io: 'output', unrepresentable: 'any' }) } } } : {}) },
        '400': { description: 'invalid_body / invalid_query / invalid_path: the failing field is in error.details.field', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
      };
      if (def.auth !== 'none') responses['401'] = { description: 'unauthenticated, invalid_token, token_expired' };
      if (Array.isArray(def.auth)) responses['403'] = { description: `forbidden: needs ${def.auth.join(' or ')}` };
      for (const [code, text] of Object.entries(def.errors ?? {})) responses[code] = { description: text };
      const operation: Record<string, unknown> = { summary: def.summary, tags: [def.tag], parameters, responses };
      if (def.body) operation.requestBody = { required: true, content: { 'application/json': { schema: z.toJSONSchema(def.body, { io: 'input', unrepresentable: 'any' }) } } };
      if (def.auth !== 'none') operation.security = [{ bearer: [] }];
      (paths[path] ??= {})[def.method.toLowerCase()] = operation;
    }
    return {
      openapi: '3.1.0',
      info: { title: 'Switchboard REST API', version: '0.1.0', description: 'Money is integer minor units with a currency; times are UTC ISO 8601 strings. Errors are {error:{code,message,details}}.' },
      paths,
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
        schemas: {
          Error: { type: 'object', required: ['error'], properties: { error: { type: 'object', required: ['code', 'message', 'details'], properties: { code: { type: 'string' }, message: { type: 'string' }, details: { type: 'object' } } } } },
        },
      },
    };
  }
}

function parse<T>(schema: z.ZodType<T>, value: unknown, where: 'path' | 'query'): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue?.path.join('.') || where;
  throw new HttpError(400, `invalid_${where}`, `${field}: ${issue?.message ?? 'invalid'}`, { field });
}

/**
 * Refuses U+0000 in any string of a parsed request, naming the field. PostgreSQL cannot store it
 * in text (the query fails: a 500), and SQLite would store it silently: both engines answer 400.
 */
function noNul<T>(value: T, where: 'path' | 'query' | 'body'): T {
  const find = (v: unknown, path: (string | number)[]): (string | number)[] | null => {
    if (typeof v === 'string') return v.includes('\u0000') ? path : null;
    if (Array.isArray(v)) {
      for (const [i, item] of v.entries()) {
        const found = find(item, [...path, i]);
        if (found) return found;
      }
    } else if (v !== null && typeof v === 'object') {
      for (const [k, item] of Object.entries(v)) {
        const found = find(item, [...path, k]);
        if (found) return found;
      }
    }
    return null;
  };
  const found = find(value, []);
  if (!found) return value;
  const field = found.join('.') || where;
  throw new HttpError(400, `invalid_${where}`, `${field}: must not contain the NUL character (U+0000)`, { field });
}

/** Cursor pagination shared by list routes: `?limit=&cursor=`, answers `{items, nextCursor}`. */
export const pageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(200).optional(),
});

export function encodeCursor(parts: string[]): string {
  return Buffer.from(JSON.stringify(parts)).toString('base64url');
}

/** The parts of a cursor this API handed out: `length` strings (a forged or truncated one is a 400,
 * not a query on `undefined`). */
export function decodeCursor(cursor: string, length: number): string[] {
  try {
    const parts = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as unknown;
    if (Array.isArray(parts) && parts.length === length && parts.every((p) => typeof p === 'string')) return parts as string[];
  } catch {
    // falls through to the error below
  }
  throw new HttpError(400, 'invalid_query', 'cursor: not a cursor this API handed out', { field: 'cursor' });
}
