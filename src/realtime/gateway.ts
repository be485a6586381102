import type { IncomingHttpHeaders } from 'node:http';
import type { Logger } from 'pino';
import { CloseCodes, type ClientRequest, type UserInfo } from '@switchboard/client/protocol';
import { isOriginAllowed, type OriginPolicy } from '../auth/origin.js';
import type { TokenService, Verified } from '../auth/tokens.js';
import type { RouteMatch, RouteTable } from '../channels/routes.js';
import type { Limits } from '../config.js';
import { LayerUnavailableError } from '../layer/channel-layer.js';
import type { Metrics } from '../metrics.js';
import type { ConnectionCounter } from './connection-counter.js';
import { PING_FRAME, errorFrame, parseClientFrame, replyError, replyOk, serverFrame } from './frames.js';
import { handlers, type Handler, type Outcome } from './handlers/index.js';
import { subscribeChannel } from './handlers/subscribe.js';
import type { Hub } from './hub.js';
import { RequestError } from './reply-error.js';
import { Session } from './session.js';
import { CallbackTimeoutError, withTimeout } from '../util/timeout.js';
import type { Transport } from './transport.js';

export interface UpgradeRequest {
  url?: string | undefined;
  headers: IncomingHttpHeaders;
}

/** Either refuse the HTTP upgrade, or open a session on the transport the caller creates. */
export type AcceptDecision = { ok: false; status: number; message: string } | { ok: true; open: (transport: Transport) => Session };

export interface GatewayOptions {
  limits: Limits;
  origins: OriginPolicy;
  allowAnonymous: boolean;
  /** Per-user connection counts: this node's, or every node's through Redis. */
  connections: ConnectionCounter;
}

export const TOKEN_COOKIE = 'switchboard_token';

/**
 * Connections: the upgrade decision (path, origin, token), authentication, request dispatch,
 * and the one timer that sends heartbeats and enforces idle, auth and token-expiry deadlines.
 */
export class Gateway {
  readonly sessions = new Set<Session>();
  /** Sessions holding a slot in the per-user connection count. */
  #counted = new WeakSet<Session>();
  #routeOf = new WeakMap<Session, RouteMatch>();
  /** Requests that arrive while the connect frame is being verified wait for it, in order. */
  #connecting = new WeakMap<Session, Promise<void>>();
  #sweeper: NodeJS.Timeout;
  #shuttingDown = false;
  #drained: (() => void) | null = null;

  constructor(
    readonly hub: Hub,
    readonly tokens: TokenService,
    readonly routes: RouteTable,
    readonly metrics: Metrics,
    readonly log: Logger,
    readonly options: GatewayOptions,
  ) {
    const { heartbeatMs, authTimeoutMs } = options.limits;
    const every = Math.max(50, Math.min(1000, heartbeatMs / 2, authTimeoutMs / 2));
    this.#sweeper = setInterval(() => this.#sweep(), every);
    this.#sweeper.unref();
  }

  get limits(): Limits {
    return this.options.limits;
  }

  subscriptionCount(): number {
    let n = 0;
    for (const s of this.sessions) n += s.subs.size;
    return n;
  }

  async accept(req: UpgradeRequest): Promise<AcceptDecision> {
    if (this.#shuttingDown) return { ok: false, status: 503, message: 'server is shutting down' };
    const url = new URL(req.url ?? '/', 'http://switchboard.invalid');
    let route: RouteMatch | null = null;
    if (url.pathname !== '/ws' && url.pathname !== '/ws/') {
      route = this.routes.match(url.pathname);
      if (!route) return { ok: false, status: 404, message: `no WebSocket endpoint at ${url.pathname}` };
    }
    if (!isOriginAllowed(req.headers.origin, req.headers.host, this.options.origins)) {
      return { ok: false, status: 403, message: `origin ${String(req.headers.origin)} is not allowed` };
    }
    const token = url.searchParams.get('token') || cookieValue(req.headers.cookie, TOKEN_COOKIE);
    const verified = token ? await this.tokens.verify(token) : null;
    // Shutdown may have begun while the token was being verified: such a session would never be told to go.
    if (this.#shuttingDown) return { ok: false, status: 503, message: 'server is shutting down' };
    return { ok: true, open: (transport) => this.#open(transport, verified, route) };
  }

  #open(transport: Transport, verified: Verified | null, route: RouteMatch | null): Session {
    const { limits } = this.options;
    const session = new Session(this, transport, Date.now(), limits.heartbeatMs, { perSecond: limits.messagesPerSecond, burst: limits.messageBurst });
    this.sessions.add(session);
    if (route) this.#routeOf.set(session, route);
    if (this.#shuttingDown) {
      this.close(session, CloseCodes.shutdown, 'server shutting down');
    } else if (verified && !verified.ok) {
      this.close(session, verified.reason === 'expired' ? CloseCodes.tokenExpired : CloseCodes.unauthorized, verified.detail);
    } else if (verified) {
      // Counting the connection may take a round trip (Redis): requests that arrive meanwhile
      // wait for it, as they wait for a connect frame being verified.
      const done = this.authenticate(session, verified.user, verified.expiresAt).then(() => undefined);
      this.#connecting.set(session, done);
      void done.then(() => this.#connecting.delete(session));
    }
    // Otherwise the client authenticates with its first frame (connect) before authTimeoutMs.
    return session;
  }

  /** Counts the user's connection, marks the session authenticated and sends the welcome. False
   * when it was refused (closed). */
  async authenticate(session: Session, user: UserInfo | null, expiresAt: number | null): Promise<boolean> {
    if (user) {
      let counted: { ok: boolean; count: number };
      try {
        counted = await this.options.connections.acquire(user.id, session.id, this.options.limits.maxConnectionsPerUser);
      } catch (err) {
        // The count lives in Redis and Redis is unreachable: this node cannot serve the client
        // anyway (publishes and subscribes fail too), so send it to reconnect, maybe elsewhere.
        this.log.warn({ err, session: session.id }, 'cannot count the connection; closing it');
        this.close(session, CloseCodes.shutdown, 'server unavailable; reconnect');
        return false;
      }
      if (!counted.ok) {
        this.close(session, CloseCodes.tooManyConnections, `user ${user.id} already has ${counted.count} connections`);
        return false;
      }
      if (session.closed) {
        this.#release(user.id, session);
        return false;
      }
      this.#counted.add(session);
    }
    session.user = user;
    session.authenticated = true;
    session.expiresAt = expiresAt;
    session.send(
      serverFrame({ op: 'welcome', session: session.id, user, heartbeat: this.options.limits.heartbeatMs, expiresAt: isoOrNull(expiresAt) }),
    );
    const route = this.#routeOf.get(session);
    if (route) {
      this.#routeOf.delete(session);
      // #subscribeRoute handles its own errors; this catch is for a throw from that handling itself.
      this.#subscribeRoute(session, route).catch((err: unknown) => this.log.error({ err, session: session.id }, 'path alias subscribe failed'));
    }
    return true;
  }

  onText(session: Session, text: string): void {
    const now = Date.now();
    session.lastSeenAt = now;
    this.metrics.messagesIn.inc();
    // Every frame, pongs included, takes a token before it is parsed: parsing up to 64 KiB is the
    // cost a flood would impose, so it is bounded by the rate plus one burst of refusals.
    const balance = session.bucket.take(now);
    if (balance <= -this.options.limits.messageBurst) {
      this.close(session, CloseCodes.rateLimited, 'message rate limit exceeded');
      return;
    }
    const parsed = parseClientFrame(text);
    if (parsed.ok && parsed.frame.op === 'pong') return;
    if (balance < 0) {
      const id = parsed.ok ? (parsed.frame as ClientRequest).id : parsed.id;
      this.#fail(session, id, new RequestError('rate_limited'));
      return;
    }
    if (session.transport.bufferedAmount > this.options.limits.maxBufferedBytes) {
      // The client keeps asking while not reading what it was already sent.
      this.close(session, CloseCodes.slowConsumer, 'slow consumer: requests while the send buffer is over the limit');
      return;
    }
    if (!parsed.ok) {
      this.#fail(session, parsed.id, parsed.error);
      return;
    }
    const req = parsed.frame as ClientRequest;
    const connecting = this.#connecting.get(session);
    // Everything waits for a connect in flight, a second connect too (it then gets already_connected
    // instead of authenticating the session twice and taking a second per-user connection slot).
    if (connecting) {
      void connecting.then(() => this.#dispatch(session, req));
      return;
    }
    const done = this.#dispatch(session, req);
    if (req.op === 'connect' && !session.authenticated) {
      this.#connecting.set(session, done);
      void done.then(() => this.#connecting.delete(session));
    }
  }

  /** Runs a request's handler and answers it; never rejects. */
  #dispatch(session: Session, req: ClientRequest): Promise<void> {
    if (session.closed) return Promise.resolve();
    if (!session.authenticated && req.op !== 'connect') {
      this.#fail(session, req.id, new RequestError('not_connected'));
      return Promise.resolve();
    }
    const handler = handlers[req.op] as Handler<ClientRequest>;
    return handler(this, session, req)
      .then(
        (outcome) => {
          session.send(replyOk(req.id, outcome.result));
          outcome.after?.();
        },
        (err: unknown) => this.#fail(session, req.id, this.#asRequestError(err, req.op)),
      )
      .catch((err: unknown) => {
        // Writing the reply or its follow-up (a subscription going live) failed: the session's state
        // is unknown, so end it rather than let the rejection go unhandled and stop the process.
        this.log.error({ err, op: req.op, session: session.id }, 'request failed after its handler');
        this.close(session, CloseCodes.internalError, 'internal error');
      });
  }

  onBinary(session: Session): void {
    this.close(session, CloseCodes.protocolError, 'binary frames are not supported; send JSON text frames');
  }

  /** The transport is gone: forget the session and everything it held. Safe to call twice. */
  onClosed(session: Session): void {
    if (!this.sessions.delete(session)) return;
    session.closed = true;
    if (session.user && this.#counted.delete(session)) this.#release(session.user.id, session);
    for (const sub of session.subs.values()) this.hub.unsubscribe(session, sub);
    session.subs.clear();
    if (this.sessions.size === 0) this.#drained?.();
  }

  #release(user: string, session: Session): void {
    this.options.connections.release(user, session.id).catch((err: unknown) => this.log.warn({ err, session: session.id }, 'releasing a counted connection failed'));
  }

  close(session: Session, code: number, reason: string): void {
    if (session.closed) return;
    this.metrics.closes.inc({ code: String(code) });
    this.log.debug({ session: session.id, code, reason }, 'closing connection');
    session.close(code, reason);
  }

  /** Stop accepting, tell every client to reconnect (elsewhere), wait for them to go. */
  async shutdown(graceMs: number): Promise<void> {
    this.#shuttingDown = true;
    clearInterval(this.#sweeper);
    const drained = new Promise<void>((resolve) => {
      this.#drained = resolve;
      if (this.sessions.size === 0) resolve();
    });
    for (const session of [...this.sessions]) this.close(session, CloseCodes.shutdown, 'server shutting down');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([drained, new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
    for (const session of [...this.sessions]) this.onClosed(session);
  }

  async #subscribeRoute(session: Session, route: RouteMatch): Promise<void> {
    try {
      const channels = await withTimeout(route.resolve(route.params, session.user), 'the path alias resolver');
      if (!channels) {
        this.close(session, CloseCodes.forbidden, 'this endpoint is not yours to use');
        return;
      }
      for (const channel of channels) {
        // The client may have subscribed to the alias's channel itself while the route resolved:
        // it already has what the alias would give it.
        if (session.subs.has(channel)) continue;
        let outcome: Outcome;
        try {
          outcome = await subscribeChannel(this, session, channel, undefined);
        } catch (err) {
          // ...or while this subscribe was being authorized (slow resolver and rule): the same.
          if (err instanceof RequestError && err.code === 'already_subscribed') continue;
          throw err;
        }
        session.send(serverFrame({ op: 'subscribed', channel, ...(outcome.result as Record<string, unknown>) }));
        outcome.after?.();
      }
    } catch (err) {
      const error = this.#asRequestError(err, 'subscribe');
      const code = error.code === 'forbidden' || error.code === 'invalid_channel' || error.code === 'unknown_namespace' ? CloseCodes.forbidden : CloseCodes.internalError;
      this.close(session, code, error.message);
    }
  }

  #fail(session: Session, id: number | null, error: RequestError): void {
    this.metrics.requestErrors.inc({ code: error.code });
    session.send(id === null ? errorFrame(error) : replyError(id, error));
  }

  #asRequestError(err: unknown, op: string): RequestError {
    if (err instanceof RequestError) return err;
    if (err instanceof CallbackTimeoutError) {
      this.log.warn({ err, op }, 'application callback timed out');
      return new RequestError('unavailable', err.message);
    }
    // The hub maps its own layer calls; this catches the rest (e.g. presence lists from Redis).
    if (err instanceof LayerUnavailableError) return new RequestError('unavailable', err.message);
    this.log.error({ err, op }, 'request failed');
    return new RequestError('internal');
  }

  #sweep(): void {
    const now = Date.now();
    const { heartbeatMs, authTimeoutMs, tokenGraceMs } = this.options.limits;
    for (const session of this.sessions) {
      if (session.closed) continue;
      if (!session.authenticated) {
        if (now - session.openedAt > authTimeoutMs) this.close(session, CloseCodes.authTimeout, 'no connect frame in time');
        continue;
      }
      if (now - session.lastSeenAt > 2 * heartbeatMs) {
        this.close(session, CloseCodes.heartbeatTimeout, 'no frame from the client within the heartbeat timeout');
      } else if (session.expiresAt !== null && now > session.expiresAt + tokenGraceMs) {
        this.close(session, CloseCodes.tokenExpired, 'token expired; reconnect with a new one');
      } else if (now >= session.nextPingAt) {
        session.nextPingAt = now + heartbeatMs;
        session.deliver(PING_FRAME);
      }
    }
  }
}

function cookieValue(header: string | undefined, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return null;
      }
    }
  }
  return null;
}

export function isoOrNull(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}
