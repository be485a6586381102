import type { Logger } from 'pino';
import { CloseCodes, type ClientRequest, type UserInfo } from '@switchboard/client/protocol';
import { isOriginAllowed, type OriginPolicy } from '../auth/origin.js';
import type { TokenService, Verified } from '../auth/tokens.js';
import type { FrameStyle, RouteMatch, RouteTable } from '../channels/routes.js';
import type { Limits } from '../config.js';
import type { Metrics } from '../metrics.js';
import type { Admission } from './admission.js';
import { subscribeAlias } from './alias-subscription.js';
import { ChannelsSessions, refusalFrame, sendHeartbeat, silenceCloses } from './channels-session.js';
import type { ConnectionCounter } from './connection-counter.js';
import { isoOrNull, parseClientFrame, replyError, replyOk, serverFrame } from './frames.js';
import { handlers, type Handler } from './handlers/index.js';
import type { Hub } from './hub.js';
import { Principals, type PrincipalCheck } from './principals.js';
import { asRequestError, RequestError } from './reply-error.js';
import { RequestSlots } from './request-slots.js';
import { SendBudget } from './send-budget.js';
import { Session } from './session.js';
import type { Transport } from './transport.js';
import { readEndpoint, type AcceptDecision, type UpgradeRequest } from './upgrade.js';

export interface GatewayOptions {
  limits: Limits;
  origins: OriginPolicy;
  allowAnonymous: boolean;
  /** Per-user connection counts: this node's, or every node's through Redis. */
  connections: ConnectionCounter;
  /** Per-address and node caps; none for a gateway driven only in-process. */
  admission?: Admission;
}

/**
 * Connections: the upgrade decision (path, origin, token), authentication, request dispatch,
 * and the one timer that sends heartbeats and enforces idle, auth and token-expiry deadlines.
 * Requests run in the connection's slots (request-slots.ts). Connections to a path alias are
 * subscribed to it once authenticated (alias-subscription.ts) and may speak Django Channels
 * frames instead of the native ones (the route's default, or `?frames=`): channels-session.ts.
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
  readonly #principals: Principals;
  /** Sessions that have not authenticated yet (the node's cap on them is the admission's `pending`). */
  #unauthenticated = 0;
  /** Upgrades accepted and not yet opened (their token being verified). */
  #accepting = 0;
  readonly budget: SendBudget;
  readonly #slots: RequestSlots;
  readonly #channels: ChannelsSessions;

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
    this.budget = new SendBudget(options.limits);
    const close = (session: Session, code: number, reason: string) => this.close(session, code, reason);
    this.#principals = new Principals({ sessions: this.sessions, log, close });
    const fail = (session: Session, id: number | null, error: RequestError) => this.#fail(session, id, error);
    this.#slots = new RequestSlots({ close, fail }, options.limits);
    this.#channels = new ChannelsSessions({
      hub,
      limits: options.limits,
      close,
      fail,
      asRequestError: (err, op) => asRequestError(err, op, log),
      runRequest: (session, id, run) => this.#slots.run(session, id, run),
      connecting: (session) => this.#connecting.get(session),
    });
  }

  /** Installs the account check run at connect and refresh (the accounts module's). */
  setPrincipalCheck(check: PrincipalCheck): void {
    this.#principals.install(check);
  }

  /** Whether the account check lets `user` act (true without a check installed). */
  principalLive(user: UserInfo): Promise<boolean> {
    return this.#principals.live(user);
  }

  /** Ends every connection of `user` on this node: their account was deleted, disabled or
   * changed. Answers how many were closed. */
  revokeUser(user: string, reason?: string): number {
    return this.#principals.revoke(user, reason);
  }

  /** Asks the account check again for every connection (after the layer may have dropped a
   * revocation), closing those it now refuses. */
  recheckPrincipals(): Promise<void> {
    return this.#principals.recheck();
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
    const endpoint = readEndpoint(req, this.routes);
    if (!endpoint.ok) return endpoint;
    const { route, frames, token } = endpoint;
    if (!isOriginAllowed(req.headers.origin, req.headers.host, this.options.origins)) {
      return { ok: false, status: 403, message: `origin ${String(req.headers.origin)} is not allowed` };
    }
    // Caps are checked before the token is: a refused client costs no signature check.
    const address = req.address ?? '';
    const admission = this.options.admission;
    const refused = admission?.countWebSocket(address, this.sessions.size + this.#accepting, this.#unauthenticated + this.#accepting);
    if (refused) return { ok: false, ...refused };
    // Until it opens or is given up, the upgrade counts toward the node caps as a session not yet
    // authenticated: verifying a token takes a trip to the thread pool, and a burst of upgrades
    // would otherwise all pass a cap that is one short of full.
    this.#accepting++;
    let accepting = true;
    const settle = (): boolean => {
      if (!accepting) return false;
      accepting = false;
      this.#accepting--;
      return true;
    };
    const release = (): void => {
      if (settle()) admission?.releaseWebSocket(address, false);
    };
    let verified: Verified | null;
    try {
      verified = token ? await this.tokens.verify(token) : null;
    } catch (err) {
      release();
      throw err;
    }
    // Shutdown may have begun while the token was being verified: such a session would never be told to go.
    if (this.#shuttingDown) {
      release();
      return { ok: false, status: 503, message: 'server is shutting down' };
    }
    const open = (transport: Transport): Session => {
      settle();
      return this.#open(transport, verified, route, frames, address);
    };
    return { ok: true, open, abandon: release };
  }

  #open(transport: Transport, verified: Verified | null, route: RouteMatch | null, frames: FrameStyle, address: string): Session {
    const { limits } = this.options;
    const session = new Session(this, transport, Date.now(), limits.heartbeatMs, { perSecond: limits.messagesPerSecond, burst: limits.messageBurst });
    session.address = address;
    session.frames = frames;
    this.sessions.add(session);
    this.#unauthenticated++;
    // Until connect succeeds a frame may be a few KiB, not the full limit.
    transport.limitFrames?.(limits.preAuthFrameBytes);
    if (route) this.#routeOf.set(session, route);
    if (this.#shuttingDown) {
      this.close(session, CloseCodes.shutdown, 'server shutting down');
    } else if (verified && !verified.ok) {
      this.close(session, verified.reason === 'expired' ? CloseCodes.tokenExpired : CloseCodes.unauthorized, verified.detail);
    } else if (verified) {
      this.#authenticateNow(session, verified.user, verified.expiresAt);
    } else if (frames === 'channels') {
      // A Channels frontend never sends a connect frame: its credentials come with the upgrade
      // (the cookie, as Django's session did, or ?token=) or not at all.
      if (this.options.allowAnonymous) this.#authenticateNow(session, null, null);
      else this.close(session, CloseCodes.unauthorized, 'a token is required: the switchboard_token cookie or ?token=');
    }
    // Otherwise the client authenticates with its first frame (connect) before authTimeoutMs.
    return session;
  }

  /** Authenticates a session from what came with the upgrade. Counting the connection may take a
   * round trip (Redis): requests that arrive meanwhile wait for it, as they wait for a connect
   * frame being verified. */
  #authenticateNow(session: Session, user: UserInfo | null, expiresAt: number | null): void {
    const done = this.authenticate(session, user, expiresAt).then(() => undefined);
    this.#connecting.set(session, done);
    void done.then(() => this.#connecting.delete(session));
  }

  /** Checks the account and counts the user's connection, marks the session authenticated and
   * sends the welcome. False when it was refused (closed). */
  async authenticate(session: Session, user: UserInfo | null, expiresAt: number | null, request?: number): Promise<boolean> {
    if (user && !(await this.#principals.whileAuthenticating(session, user.id, () => this.#admitUser(session, user, request)))) return false;
    session.user = user;
    session.authenticated = true;
    session.expiresAt = expiresAt;
    this.#unauthenticated--;
    this.options.admission?.authenticated(session.address);
    session.transport.limitFrames?.(this.options.limits.maxFrameBytes);
    // A Channels connection's first frame is connection_established, once its alias is subscribed.
    if (session.frames === 'switchboard') {
      session.send(
        serverFrame({ op: 'welcome', session: session.id, user, heartbeat: this.options.limits.heartbeatMs, expiresAt: isoOrNull(expiresAt) }),
      );
    }
    const route = this.#routeOf.get(session);
    if (route) {
      this.#routeOf.delete(session);
      // subscribeAlias handles its own errors; this catch is for a throw from that handling itself.
      const subscribed = subscribeAlias(this, session, route).catch((err: unknown) => {
        this.log.error({ err, session: session.id }, 'path alias subscribe failed');
        return null;
      });
      if (session.frames === 'channels') this.#channels.subscribing(session, subscribed);
    }
    return true;
  }

  /** The account check, then the per-user count; false when either refused (the session is then
   * closed), or when the session closed meanwhile (a revocation, the auth timeout, the client). */
  async #admitUser(session: Session, user: UserInfo, request: number | undefined): Promise<boolean> {
    if (this.#principals.installed) {
      let live: boolean;
      try {
        live = await this.#principals.live(user);
      } catch (err) {
        this.log.warn({ err, session: session.id }, 'cannot check the account; closing the connection');
        this.close(session, CloseCodes.shutdown, 'server unavailable; reconnect');
        return false;
      }
      if (!live) {
        const error = new RequestError('account_revoked', undefined, 'token');
        if (request !== undefined) session.send(replyError(request, error));
        this.close(session, CloseCodes.accountRevoked, error.message);
        return false;
      }
      if (session.closed) return false;
    }
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
    return true;
  }

  onText(session: Session, text: string): void {
    // Closing once its requests are answered: nothing new is taken on.
    if (session.draining) return;
    const now = Date.now();
    session.lastSeenAt = now;
    this.metrics.messagesIn.inc();
    const { limits } = this.options;
    if (!session.authenticated) {
      // ws cuts longer frames itself (its payload limit is lowered until connect); this covers
      // transports without one (TestClient). Length in UTF-16 units never exceeds UTF-8 bytes.
      if (text.length > limits.preAuthFrameBytes) {
        this.close(session, CloseCodes.messageTooBig, `frames before connect are limited to ${limits.preAuthFrameBytes} bytes`);
        return;
      }
      if (++session.preAuthFrames > limits.preAuthFrames) {
        this.#slots.closeAfterReplies(session, CloseCodes.protocolError, `at most ${limits.preAuthFrames} frames before connect succeeds`);
        return;
      }
    }
    // Every frame, pongs included, takes a token before it is parsed: parsing up to 64 KiB is the
    // cost a flood would impose, so it is bounded by the rate plus one burst of refusals.
    const balance = session.bucket.take(now);
    if (balance <= -limits.messageBurst) {
      this.#slots.closeAfterReplies(session, CloseCodes.rateLimited, 'message rate limit exceeded');
      return;
    }
    if (session.frames === 'channels') {
      this.#channels.onFrame(session, text, balance);
      return;
    }
    const parsed = parseClientFrame(text, limits.maxJsonDepth);
    if (parsed.ok && parsed.frame.op === 'pong') return;
    if (balance < 0) {
      const id = parsed.ok ? (parsed.frame as ClientRequest).id : parsed.id;
      this.#fail(session, id, new RequestError('rate_limited'));
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
      void connecting.then(() => this.#slots.run(session, req.id, () => this.#dispatch(session, req)));
      return;
    }
    const done = this.#slots.run(session, req.id, () => this.#dispatch(session, req));
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
    if (session.transport.bufferedAmount > this.options.limits.maxBufferedBytes) {
      // The client keeps asking while not reading what it was already sent.
      this.close(session, CloseCodes.slowConsumer, 'slow consumer: requests while the send buffer is over the limit');
      return Promise.resolve();
    }
    const handler = handlers[req.op] as Handler<ClientRequest>;
    return handler(this, session, req)
      .then(
        (outcome) => {
          try {
            session.send(replyOk(req.id, outcome.result));
          } catch (err) {
            // Closed before what follows the reply runs: a subscription going live on a closed
            // session only cleans itself up; left pending, it would buffer its channel for good.
            this.close(session, CloseCodes.internalError, 'internal error');
            outcome.after?.();
            throw err;
          } finally {
            if (outcome.reserved) this.budget.release(session, outcome.reserved);
          }
          outcome.after?.();
        },
        (err: unknown) => this.#fail(session, req.id, asRequestError(err, req.op, this.log)),
      )
      .catch((err: unknown) => {
        // Writing the reply or its follow-up (a subscription going live) failed: the session's state
        // is unknown, so end it rather than let the rejection go unhandled and stop the process.
        this.log.error({ err, op: req.op, session: session.id }, 'request failed after its handler');
        this.close(session, CloseCodes.internalError, 'internal error');
      });
  }

  /** A WebSocket-level pong: the client is alive (the heartbeat of Channels-style connections). */
  onPong(session: Session): void {
    session.lastSeenAt = Date.now();
  }

  onBinary(session: Session): void {
    this.close(session, CloseCodes.protocolError, 'binary frames are not supported; send JSON text frames');
  }

  /** The transport is gone: forget the session and everything it held. Safe to call twice. */
  onClosed(session: Session): void {
    if (!this.sessions.delete(session)) return;
    session.closed = true;
    this.budget.forget(session);
    if (!session.authenticated) this.#unauthenticated--;
    this.options.admission?.releaseWebSocket(session.address, session.authenticated);
    // Requests waiting for a slot find the session closed and end.
    this.#slots.wake(session);
    if (session.user && this.#counted.delete(session)) this.#release(session.user.id, session);
    for (const sub of session.subs.values()) this.hub.unsubscribe(session, sub);
    session.subs.clear();
    if (this.sessions.size === 0) this.#drained?.();
  }

  #release(user: string, session: Session): void {
    this.options.connections.release(user, session.id).catch((err: unknown) => this.log.warn({ err, session: session.id }, 'releasing a counted connection failed'));
  }

  noteBacklog(session: Session, bytes: number): boolean {
    return this.budget.note(session, bytes);
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

  #fail(session: Session, id: number | null, error: RequestError): void {
    this.metrics.requestErrors.inc({ code: error.code });
    session.send(refusalFrame(session, id, error));
  }

  #sweep(): void {
    const now = Date.now();
    const { heartbeatMs, authTimeoutMs, tokenGraceMs } = this.options.limits;
    const { maxBufferedBytes } = this.options.limits;
    for (const session of this.sessions) {
      if (session.closed) continue;
      // The node's unsent total follows draining here too, and a backlog that stays over the bound
      // (a client that stopped reading after its last push) is let go now, not at the next push.
      const backlog = session.transport.bufferedAmount;
      this.budget.note(session, backlog);
      if (backlog > maxBufferedBytes) {
        this.close(session, CloseCodes.slowConsumer, 'slow consumer: send buffer over the limit');
        continue;
      }
      if (!session.authenticated) {
        if (now - session.openedAt > authTimeoutMs) this.close(session, CloseCodes.authTimeout, 'no connect frame in time');
        continue;
      }
      if (now - session.lastSeenAt > 2 * heartbeatMs && silenceCloses(session)) {
        this.close(session, CloseCodes.heartbeatTimeout, 'no frame from the client within the heartbeat timeout');
      } else if (session.expiresAt !== null && now > session.expiresAt + tokenGraceMs) {
        this.close(session, CloseCodes.tokenExpired, 'token expired; reconnect with a new one');
      } else if (now >= session.nextPingAt) {
        session.nextPingAt = now + heartbeatMs;
        sendHeartbeat(session);
      }
    }
  }
}
