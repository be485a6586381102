import type { IncomingHttpHeaders } from 'node:http';
import type { Logger } from 'pino';
import { CloseCodes, type ClientRequest, type UserInfo } from '@switchboard/client/protocol';
import { isOriginAllowed, type OriginPolicy } from '../auth/origin.js';
import type { TokenService, Verified } from '../auth/tokens.js';
import { FRAME_STYLES, type FrameStyle, type RouteMatch, type RouteTable } from '../channels/routes.js';
import type { Limits } from '../config.js';
import { LayerUnavailableError } from '../layer/channel-layer.js';
import type { Metrics } from '../metrics.js';
import type { Admission } from './admission.js';
import { channelsErrorFrame, connectionEstablishedFrame, parseChannelsFrame } from './channels-frames.js';
import type { ConnectionCounter } from './connection-counter.js';
import { PING_FRAME, errorFrame, parseClientFrame, replyError, replyOk, serverFrame } from './frames.js';
import { authorize } from './handlers/access.js';
import { handlers, type Handler, type Outcome } from './handlers/index.js';
import { subscribeChannel } from './handlers/subscribe.js';
import type { Hub } from './hub.js';
import { RequestError } from './reply-error.js';
import { SendBudget } from './send-budget.js';
import { Session } from './session.js';
import { CallbackTimeoutError, withTimeout } from '../util/timeout.js';
import type { Transport } from './transport.js';

export interface UpgradeRequest {
  url?: string | undefined;
  headers: IncomingHttpHeaders;
  /** The client's address (after trusted proxies); TestClient connections have none. */
  address?: string;
}

/**
 * Whether a verified token's user may still act: the accounts module answers from the database
 * (the account exists, is not disabled, and has the token's role and tenant). Tokens that are not
 * account tokens answer true unless the check knows better.
 */
export type PrincipalCheck = (user: UserInfo) => Promise<boolean>;

/** Either refuse the HTTP upgrade, or open a session on the transport the caller creates. */
export type AcceptDecision =
  | { ok: false; status: number; message: string }
  /** `abandon`: the upgrade did not complete after all (the socket went away); frees its count. */
  | { ok: true; open: (transport: Transport) => Session; abandon: () => void };

export interface GatewayOptions {
  limits: Limits;
  origins: OriginPolicy;
  allowAnonymous: boolean;
  /** Per-user connection counts: this node's, or every node's through Redis. */
  connections: ConnectionCounter;
  /** Per-address and node caps; none for a gateway driven only in-process. */
  admission?: Admission;
}

/** How long a connection closing after its requests waits for them at most (they are bounded by
 * the callback and layer timeouts anyway). */
const DRAIN_TIMEOUT_MS = 10_000;

export const TOKEN_COOKIE = 'switchboard_token';

/**
 * Connections: the upgrade decision (path, origin, token), authentication, request dispatch,
 * and the one timer that sends heartbeats and enforces idle, auth and token-expiry deadlines.
 * Connections to a path alias may speak Django Channels frames instead of the native ones (the
 * route's default, or `?frames=`): see channels-frames.ts.
 */
export class Gateway {
  readonly sessions = new Set<Session>();
  /** Sessions holding a slot in the per-user connection count. */
  #counted = new WeakSet<Session>();
  #routeOf = new WeakMap<Session, RouteMatch>();
  /** Requests that arrive while the connect frame is being verified wait for it, in order. */
  #connecting = new WeakMap<Session, Promise<void>>();
  /** Channels-style sessions: the channel their `{"type": ...}` frames publish to (the alias's
   * first), known once the alias is subscribed (null if it was refused), and the chain their
   * frames run in, one at a time and in order, as a Django consumer handles them. */
  #aliasChannel = new WeakMap<Session, Promise<string | null>>();
  #channelsQueue = new WeakMap<Session, Promise<void>>();
  #sweeper: NodeJS.Timeout;
  #shuttingDown = false;
  #drained: (() => void) | null = null;
  #principals: PrincipalCheck | null = null;
  /** Sessions that have not authenticated yet (the node's cap on them is the admission's `pending`). */
  #unauthenticated = 0;
  readonly budget: SendBudget;

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
  }

  /** Installs the account check run at connect and refresh (the accounts module's). */
  setPrincipalCheck(check: PrincipalCheck): void {
    this.#principals = check;
  }

  /** Whether the account check lets `user` act (true without a check installed). */
  async principalLive(user: UserInfo): Promise<boolean> {
    return this.#principals ? this.#principals(user) : true;
  }

  /** Ends every connection of `user` on this node: their account was deleted, disabled or
   * changed. Answers how many were closed. */
  revokeUser(user: string, reason = 'the account was deleted, disabled or changed; sign in again'): number {
    let closed = 0;
    for (const session of this.sessions) {
      if (session.user?.id !== user || session.closed) continue;
      this.close(session, CloseCodes.accountRevoked, reason);
      closed++;
    }
    return closed;
  }

  /** Asks the account check again for every connection (after the layer may have dropped a
   * revocation), a batch at a time, closing those it now refuses. */
  async recheckPrincipals(): Promise<void> {
    const check = this.#principals;
    if (!check) return;
    const sessions = [...this.sessions].filter((s) => s.user !== null && !s.closed);
    for (let i = 0; i < sessions.length; i += 50) {
      await Promise.all(
        sessions.slice(i, i + 50).map(async (session) => {
          try {
            if (session.user && !(await check(session.user))) this.close(session, CloseCodes.accountRevoked, 'the account was deleted, disabled or changed; sign in again');
          } catch (err) {
            this.log.warn({ err, session: session.id }, 'account recheck failed; the connection stays');
          }
        }),
      );
    }
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
    // /ws always speaks the native protocol; an alias speaks its route's style unless asked otherwise.
    let frames: FrameStyle = 'switchboard';
    if (url.pathname !== '/ws' && url.pathname !== '/ws/') {
      route = this.routes.match(url.pathname);
      if (!route) return { ok: false, status: 404, message: `no WebSocket endpoint at ${url.pathname}` };
      const asked = url.searchParams.get('frames');
      if (asked !== null && !FRAME_STYLES.includes(asked as FrameStyle)) {
        return { ok: false, status: 400, message: `frames must be ${FRAME_STYLES.join(' or ')}` };
      }
      frames = (asked as FrameStyle | null) ?? route.frames;
    }
    if (!isOriginAllowed(req.headers.origin, req.headers.host, this.options.origins)) {
      return { ok: false, status: 403, message: `origin ${String(req.headers.origin)} is not allowed` };
    }
    // Caps are checked before the token is: a refused client costs no signature check.
    const address = req.address ?? '';
    const admission = this.options.admission;
    const refused = admission?.countWebSocket(address, this.sessions.size, this.#unauthenticated);
    if (refused) return { ok: false, ...refused };
    const release = () => admission?.releaseWebSocket(address, false);
    let verified: Verified | null;
    try {
      const token = url.searchParams.get('token') || cookieValue(req.headers.cookie, TOKEN_COOKIE);
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
    return { ok: true, open: (transport) => this.#open(transport, verified, route, frames, address), abandon: release };
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

  /** Counts the user's connection, marks the session authenticated and sends the welcome. False
   * when it was refused (closed). */
  async authenticate(session: Session, user: UserInfo | null, expiresAt: number | null, request?: number): Promise<boolean> {
    if (user && this.#principals) {
      let live: boolean;
      try {
        live = await this.#principals(user);
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
      // #subscribeRoute handles its own errors; this catch is for a throw from that handling itself.
      const subscribed = this.#subscribeRoute(session, route).catch((err: unknown) => {
        this.log.error({ err, session: session.id }, 'path alias subscribe failed');
        return null;
      });
      if (session.frames === 'channels') this.#aliasChannel.set(session, subscribed);
    }
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
        this.#closeAfterReplies(session, CloseCodes.protocolError, `at most ${limits.preAuthFrames} frames before connect succeeds`);
        return;
      }
    }
    // Every frame, pongs included, takes a token before it is parsed: parsing up to 64 KiB is the
    // cost a flood would impose, so it is bounded by the rate plus one burst of refusals.
    const balance = session.bucket.take(now);
    if (balance <= -limits.messageBurst) {
      this.#closeAfterReplies(session, CloseCodes.rateLimited, 'message rate limit exceeded');
      return;
    }
    if (session.frames === 'channels') {
      this.#onChannelsFrame(session, text, balance);
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
      void connecting.then(() => this.#admit(session, req.id, () => this.#dispatch(session, req)));
      return;
    }
    const done = this.#admit(session, req.id, () => this.#dispatch(session, req));
    if (req.op === 'connect' && !session.authenticated) {
      this.#connecting.set(session, done);
      void done.then(() => this.#connecting.delete(session));
    }
  }

  /**
   * A Channels frame `{"type": "x", ...rest}`: a publish of event `x` with data `rest` on the alias's
   * channel, where its namespace lets this user publish. Nothing answers a publish that went
   * through (the sender gets its own publication like every subscriber, as with Django's
   * group_send); a refused one gets an error frame. Frames run one at a time, in order.
   */
  #onChannelsFrame(session: Session, text: string, balance: number): void {
    const parsed = parseChannelsFrame(text, this.options.limits.maxJsonDepth);
    if (balance < 0) {
      this.#fail(session, null, new RequestError('rate_limited'));
      return;
    }
    if (!parsed.ok) {
      this.#fail(session, null, parsed.error);
      return;
    }
    const { event, data } = parsed;
    const previous = this.#channelsQueue.get(session) ?? this.#connecting.get(session) ?? Promise.resolve();
    const next = previous.then(async () => {
      const channel = await (this.#aliasChannel.get(session) ?? null);
      await this.#admit(session, null, () => this.#publishFromChannels(session, channel, event, data));
    });
    this.#channelsQueue.set(session, next);
  }

  /** Publishes a Channels frame's event; never rejects. */
  async #publishFromChannels(session: Session, channel: string | null, event: string, data: Record<string, unknown>): Promise<void> {
    if (session.closed) return;
    if (session.transport.bufferedAmount > this.options.limits.maxBufferedBytes) {
      this.close(session, CloseCodes.slowConsumer, 'slow consumer: frames while the send buffer is over the limit');
      return;
    }
    try {
      if (channel === null) throw new RequestError('forbidden', 'this path has no channel to publish to');
      await authorize(this.hub.namespaces, channel, session.user, 'publish');
      await this.hub.publish(channel, event, data);
    } catch (err) {
      this.#fail(session, null, this.#asRequestError(err, 'publish'));
    }
  }

  /**
   * Runs a request when the connection has a free slot (at most `maxRequestsInFlight` at once;
   * the rest wait in arrival order, bounded by the rate limit), then answers it. Never rejects.
   */
  async #admit(session: Session, id: number | null, run: () => Promise<void>): Promise<void> {
    if (session.inFlight >= this.options.limits.maxRequestsInFlight) {
      await new Promise<void>((resolve) => (session.waiting ??= []).push(resolve));
    }
    if (session.closed) return;
    if (session.draining) {
      // Accepted by the parser but never started: refused, so the client knows it did not run.
      this.#fail(session, id, new RequestError('rate_limited', 'the connection is closing; this request was not run'));
      return;
    }
    session.inFlight++;
    try {
      await run();
    } finally {
      session.inFlight--;
      const next = session.waiting?.shift();
      // Re-read: the request may have set it meanwhile (TypeScript keeps the narrowing above).
      const draining = session.draining as Session['draining'];
      if (next) next();
      else if (draining && session.inFlight === 0) this.close(session, draining.code, draining.reason);
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
          } finally {
            if (outcome.reserved) this.budget.release(session, outcome.reserved);
          }
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

  /** Closes once the requests already accepted are answered (a rate-limited client still gets the
   * acknowledgement of the publish it was granted); requests waiting for a slot are refused. */
  #closeAfterReplies(session: Session, code: number, reason: string): void {
    if (session.closed || session.draining) return;
    session.draining = { code, reason };
    if (session.inFlight === 0) {
      this.close(session, code, reason);
      return;
    }
    const waiting = session.waiting ?? [];
    session.waiting = null;
    for (const resume of waiting) resume();
    setTimeout(() => this.close(session, code, reason), DRAIN_TIMEOUT_MS).unref();
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
    const waiting = session.waiting ?? [];
    session.waiting = null;
    for (const resume of waiting) resume();
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

  /** Subscribes the alias's channels and reports them: a `subscribed` frame each (native), or one
   * `connection_established` (Channels). Answers the channel Channels frames publish to (the
   * first), or null when the alias was refused and the connection closed. */
  async #subscribeRoute(session: Session, route: RouteMatch): Promise<string | null> {
    // Channels: the subscriptions go live only after connection_established, so that frame comes first.
    const goLive: (() => void)[] = [];
    try {
      const channels = await withTimeout(route.resolve(route.params, session.user), 'the path alias resolver');
      if (!channels) {
        this.close(session, CloseCodes.forbidden, 'this endpoint is not yours to use');
        return null;
      }
      let snapshot: unknown;
      for (const [index, channel] of channels.entries()) {
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
        const result = outcome.result as Record<string, unknown>;
        if (session.frames === 'switchboard') {
          session.send(serverFrame({ op: 'subscribed', channel, ...result }));
          outcome.after?.();
        } else {
          if (index === 0) snapshot = result.snapshot;
          if (outcome.after) goLive.push(outcome.after);
        }
      }
      if (session.frames === 'channels') {
        session.send(connectionEstablishedFrame({ session: session.id, user: session.user, channels, snapshot, expiresAt: isoOrNull(session.expiresAt) }));
      }
      return channels[0] ?? null;
    } catch (err) {
      const error = this.#asRequestError(err, 'subscribe');
      const code = error.code === 'forbidden' || error.code === 'invalid_channel' || error.code === 'unknown_namespace' ? CloseCodes.forbidden : CloseCodes.internalError;
      this.close(session, code, error.message);
      return null;
    } finally {
      // After a failure too: a subscription set up and never made live would stay pending in the
      // hub; on a closed session going live only cleans it up.
      for (const live of goLive) live();
    }
  }

  #fail(session: Session, id: number | null, error: RequestError): void {
    this.metrics.requestErrors.inc({ code: error.code });
    if (session.frames === 'channels') session.send(channelsErrorFrame(error));
    else session.send(id === null ? errorFrame(error) : replyError(id, error));
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
      // A Channels frontend never answers {"op":"ping"}: its heartbeat is a WebSocket ping, which
      // browsers answer by themselves, and the pong counts as hearing from it.
      const channels = session.frames === 'channels';
      if (now - session.lastSeenAt > 2 * heartbeatMs && (!channels || session.transport.ping)) {
        this.close(session, CloseCodes.heartbeatTimeout, 'no frame from the client within the heartbeat timeout');
      } else if (session.expiresAt !== null && now > session.expiresAt + tokenGraceMs) {
        this.close(session, CloseCodes.tokenExpired, 'token expired; reconnect with a new one');
      } else if (now >= session.nextPingAt) {
        session.nextPingAt = now + heartbeatMs;
        if (!channels) session.deliver(PING_FRAME);
        else session.transport.ping?.();
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
