import { timingSafeEqual } from 'node:crypto';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { z } from 'zod';
import '../util/plain-errors.js';
import type { Hub } from '../realtime/hub.js';
import { eventName } from '../realtime/frames.js';
import { RequestError } from '../realtime/reply-error.js';
import type { Metrics } from '../metrics.js';
import type { Limits } from '../config.js';
import { jsonTooDeep } from '../util/json-depth.js';
import { HttpError } from './errors.js';
import { installWebApp, type WebAppOptions } from './web.js';

export interface HttpDeps {
  hub: Hub;
  metrics: Metrics;
  log: Logger;
  apiKey: string | null;
  isReady: () => boolean;
  limits: Pick<Limits, 'maxJsonDepth' | 'requestTimeoutMs' | 'keepAliveTimeoutMs'>;
  /** Serve a built web app at `/` (its pages, assets and the SPA fallback); null: API only. */
  web?: WebAppOptions | null;
}

/** Bodies of routes anyone may call (sign-in, registration, provider callbacks) are small: a
 * stranger's request should cost little before anyone knows who sent it. */
export const PUBLIC_BODY_LIMIT = 16 * 1024;

const rawBodies = new WeakMap<object, string>();

/** The exact text of a request's JSON body, for routes that check a signature over its bytes
 * (re-serializing the parsed JSON would not give them back). */
export function rawBodyOf(req: { raw: object }): string | undefined {
  return rawBodies.get(req.raw);
}

/** `Idempotency-Key` values, on the REST routes that take one and on the publish API. */
export const IDEMPOTENCY_KEY = /^[A-Za-z0-9_\-:.]{1,200}$/;

const publishBody = z.object({
  channel: z.string().min(1),
  event: eventName,
  data: z.unknown(),
});

/** Parses a body with a zod schema; failures answer 400 naming the field. */
export function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue?.path.join('.') || 'body';
  throw new HttpError(400, 'invalid_body', `${field}: ${issue?.message ?? 'invalid'}`, { field });
}

export function buildHttpApp(deps: HttpDeps): FastifyInstance {
  const { limits } = deps;
  const app = Fastify({
    loggerInstance: deps.log as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 1024 * 1024,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    // A request's head must arrive within the deadline (checked every second, not Node's 30 s);
    // a socket that sends nothing at all is dropped by its idle timeout (Admission).
    requestTimeout: Math.max(30_000, limits.requestTimeoutMs),
    http: { headersTimeout: limits.requestTimeoutMs, connectionsCheckingInterval: 1000 },
  });

  // JSON bodies: the nesting is checked before parsing (500,000 nested arrays cost a parser
  // ~250 ms of the event loop; the scan ~1 ms), and the raw text is kept for signature checks.
  const parseJson = app.getDefaultJsonParser('error', 'ignore');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    const text = body as string;
    if (jsonTooDeep(text, limits.maxJsonDepth)) {
      done(new HttpError(400, 'invalid_body', `body: JSON nested deeper than ${limits.maxJsonDepth} levels`, { field: 'body' }), undefined);
      return;
    }
    rawBodies.set(req.raw, text);
    void parseJson(req, text, done);
  });

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, _req, reply) => {
    if (err instanceof HttpError) return reply.status(err.status).send({ error: { code: err.code, message: err.message, details: err.details ?? {} } });
    const status = typeof err.statusCode === 'number' ? err.statusCode : 500;
    if (isDatabaseBusy(err)) {
      // Every pooled connection stayed busy past the wait (a burst of writers on one row, a slow
      // database): the request did not run; it may be retried, unlike a failure.
      deps.log.warn({ err }, 'database busy');
      return reply.status(503).header('retry-after', '1').send({ error: { code: 'unavailable', message: 'the database is busy; try again in a moment', details: {} } });
    }
    if (status >= 500) {
      deps.log.error({ err }, 'request failed');
      return reply.status(status).send({ error: { code: 'internal', message: 'internal error', details: {} } });
    }
    // Fastify's own 4xx (unparsable JSON, body too large, wrong content type) in our error shape.
    const code = status === 413 ? 'body_too_large' : status === 415 ? 'unsupported_media_type' : status === 408 ? 'request_timeout' : 'invalid_body';
    // A refused large body is not read to the end to keep the connection: that would cost the
    // node the whole body (a flood of 1 MiB logins is 1 GB/s of reading); the socket goes instead.
    if (status === 413) void reply.header('connection', 'close');
    const message = status === 415 ? `send the body as JSON, with the header Content-Type: application/json (got ${_req.headers['content-type'] ?? 'no Content-Type'})` : err.message;
    return reply.status(status).send({ error: { code, message, details: {} } });
  });
  // A page path a browser navigates to (/shop, /orders/42) is the web app's to answer: it routes
  // in the browser and shows its own not-found page. Everything else keeps the JSON 404.
  const webFallback = deps.web ? installWebApp(app, deps.web) : null;
  app.setNotFoundHandler(async (req, reply) => {
    if (webFallback && (await webFallback(req, reply))) return reply;
    return reply.status(404).send({ error: { code: 'not_found', message: `no route ${req.method} ${req.url}`, details: {} } });
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => (deps.isReady() ? { status: 'ready' } : reply.status(503).send({ status: 'not ready' })));
  app.get('/metrics', async (_req, reply) => reply.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics()));

  // The key is checked in onRequest, before the body is read: a caller without the key learns
  // nothing about what a valid body looks like and costs no parsing.
  app.post('/api/publish', { onRequest: async (req) => checkApiKey(req, deps.apiKey) }, async (req) => {
    const body = parseBody(publishBody, req.body);
    if (!Object.hasOwn(req.body as object, 'data')) throw new HttpError(400, 'invalid_body', 'data: required', { field: 'data' });
    // A backend retrying a publish it never got an answer to (a Django on_commit hook after a
    // timeout) sends the same key: the channel layer publishes it once and answers the first
    // position again. Prefixed so a caller's key can never match an outbox event id.
    const key = req.headers['idempotency-key'];
    if (key !== undefined && (typeof key !== 'string' || !IDEMPOTENCY_KEY.test(key))) {
      throw new HttpError(400, 'invalid_idempotency_key', 'Idempotency-Key must be 1-200 characters of letters, digits and _-:.', { field: 'Idempotency-Key' });
    }
    try {
      return await deps.hub.publish(body.channel, body.event, body.data, key === undefined ? {} : { idempotencyKey: `api:${key}` });
    } catch (err) {
      if (!(err instanceof RequestError)) throw err;
      const status = err.code === 'unavailable' ? 503 : 400;
      throw new HttpError(status, err.code, err.message, err.field ? { field: err.field } : {});
    }
  });

  return app;
}

/** The publish API takes `Authorization: Bearer <key>` or `X-API-Key: <key>`. */
function checkApiKey(req: FastifyRequest, apiKey: string | null): void {
  if (apiKey === null) throw new HttpError(503, 'publish_api_disabled', 'set SWITCHBOARD_API_KEY to enable the publish API');
  const header = req.headers.authorization;
  const given = header?.startsWith('Bearer ') ? header.slice(7) : req.headers['x-api-key'];
  if (typeof given !== 'string' || !safeEqual(given, apiKey)) throw new HttpError(401, 'invalid_api_key', 'a valid API key is required (Authorization: Bearer <key>)');
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** pg's pool gave up waiting for a free connection (`connectionTimeoutMillis`), or PostgreSQL
 * refused a connection (the server is restarting or at max_connections). */
function isDatabaseBusy(err: Error & { code?: string }): boolean {
  return err.message === 'timeout exceeded when trying to connect' || err.code === '57P03' || err.code === '53300';
}
