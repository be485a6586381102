import { DEFAULT_BACKOFF, backoffDelay, type BackoffOptions } from './backoff.js';
import { Emitter, type Listener } from './emitter.js';
import { SwitchboardError } from './errors.js';
import {
  CloseCodes,
  isValidChannel,
  shouldReconnect,
  type ClientRequest,
  type HistoryResult,
  type MessageFrame,
  type PresenceEventFrame,
  type PresenceResult,
  type PublishResult,
  type ReplyError,
  type RequestOp,
  type ResultByOp,
  type SubscribeResult,
  type SubscribedFrame,
  type UnsubscribedFrame,
  type WelcomeFrame,
} from './protocol.js';
import { OPEN, discardSocket, type WebSocketConstructor, type WebSocketLike } from './socket.js';
import type { EventMap, SubscribeOptions, Subscription } from './subscription.js';
import { PendingRequests, type Outcome } from './requests.js';
import { SubscriptionCore, type SubscriptionHost } from './subscription-core.js';
import { Timer } from './timer.js';
import { jwtExpiry, refreshDelay } from './token.js';
import type { ClientEvents, ConnectedInfo, ConnectionState, HistoryOptions, StateChange, SwitchboardClientOptions } from './client-types.js';

/** The close codes the client uses when it drops a connection itself: they mean the same as the server's. */
const HEARTBEAT_LOST = CloseCodes.heartbeatTimeout;
const WELCOME_TIMEOUT = CloseCodes.authTimeout;
const SKEWED_REFRESH_INTERVAL_MS = 30_000;

type RequestFields<Op extends RequestOp> = Omit<Extract<ClientRequest, { op: Op }>, 'op' | 'id'>;

/**
 * A Switchboard connection: authenticates with a token, keeps the socket alive (heartbeats,
 * reconnects with backoff, token refresh) and keeps subscriptions whole across reconnects.
 */
export class SwitchboardClient {
  readonly #url: string | (() => string);
  readonly #options: SwitchboardClientOptions;
  readonly #WebSocket: WebSocketConstructor;
  readonly #backoff: BackoffOptions;
  readonly #requestTimeoutMs: number;
  readonly #events = new Emitter<ClientEvents>();
  readonly #host: SubscriptionHost;

  #state: ConnectionState = 'disconnected';
  /** The app wants a connection: between connect() and close() or a terminal failure. */
  #active = false;
  #ws: WebSocketLike | null = null;
  /** The current socket received its welcome: requests may be sent. */
  #welcomed = false;
  /** Counts welcomes; work tagged with an older value belongs to a dead connection. */
  #generation = 0;
  /** Attempts since the last welcome, for the backoff. */
  #attempt = 0;
  /** Counts open() calls, so a token fetch that outlives close() does not open a socket. */
  #openSeq = 0;
  #nextId = 1;
  readonly #pending = new PendingRequests();
  readonly #subs = new Map<string, SubscriptionCore>();
  readonly #chains = new Map<string, Promise<void>>();
  #waiters: { resolve: (info: ConnectedInfo) => void; reject: (err: SwitchboardError) => void }[] = [];
  #info: ConnectedInfo | null = null;
  #usedInitialToken = false;
  #token: string | undefined;
  #expiresAt: number | null = null;
  #lastRefreshAt: number | null = null;
  /** The error reply to this socket's connect; explains the close that follows it. */
  #connectError: SwitchboardError | null = null;
  #lastHeard = 0;
  readonly #connectTimer = new Timer();
  readonly #heartbeatTimer = new Timer();
  readonly #refreshTimer = new Timer();
  readonly #reconnectTimer = new Timer();

  constructor(options: SwitchboardClientOptions) {
    const url = options?.url;
    if (!(typeof url === 'function' || (typeof url === 'string' && url.length > 0))) {
      throw new TypeError('SwitchboardClient: options.url is required (a URL, or a function returning one)');
    }
    const Impl = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (typeof Impl !== 'function') {
      throw new TypeError('SwitchboardClient: no WebSocket implementation here; pass options.WebSocket (in Node: the `ws` package)');
    }
    this.#url = options.url;
    this.#options = options;
    this.#WebSocket = Impl;
    this.#backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    this.#token = options.token;
    this.#host = this.#makeHost();
  }

  // ----- State and events.

  get state(): ConnectionState {
    return this.#state;
  }

  /** The current connection's welcome, or null while not connected. */
  get connection(): ConnectedInfo | null {
    return this.#welcomed && this.#info ? { ...this.#info } : null;
  }

  on<K extends keyof ClientEvents>(event: K, listener: Listener<ClientEvents[K]>): () => void {
    return this.#events.on(event, listener);
  }

  once<K extends keyof ClientEvents>(event: K, listener: Listener<ClientEvents[K]>): () => void {
    return this.#events.once(event, listener);
  }

  off<K extends keyof ClientEvents>(event: K, listener: Listener<ClientEvents[K]>): void {
    this.#events.off(event, listener);
  }

  // ----- Connection.

  /**
   * Starts connecting (and reconnecting whenever the connection drops) until `close()`. Resolves
   * on the next welcome; rejects only when the client gives up (refused token, 4500-4999 close) or
   * `close()` is called first. Failed attempts in between are retried with backoff.
   */
  connect(): Promise<ConnectedInfo> {
    if (this.#welcomed && this.#info) return Promise.resolve({ ...this.#info });
    const promise = new Promise<ConnectedInfo>((resolve, reject) => this.#waiters.push({ resolve, reject }));
    if (!this.#active) {
      this.#active = true;
      this.#attempt = 0;
      void this.#open();
    }
    return promise;
  }

  /** Closes the connection and stops reconnecting; clears every timer. Subscriptions are kept and
   * resume (from their positions) if `connect()` is called again. */
  close(): void {
    this.#active = false;
    this.#openSeq++;
    this.#reconnectTimer.clear();
    if (this.#ws) {
      this.#teardown(1000, 'client closed', 'client');
      return;
    }
    for (const core of this.#subs.values()) core.disconnected();
    this.#rejectWaiters(new SwitchboardError('client_closed'));
    if (this.#state !== 'disconnected') {
      this.#setState({ state: 'disconnected', code: 1000, reason: 'client closed', willReconnect: false });
    }
  }

  // ----- Channels.

  /**
   * Subscribes to a channel, now or as soon as the client is connected. Returns the existing
   * subscription if there is one for the channel (then `options` are ignored).
   */
  subscribe<E extends EventMap = Record<string, unknown>, S = unknown>(channel: string, options: SubscribeOptions = {}): Subscription<E, S> {
    const existing = this.#subs.get(channel);
    if (existing) return existing.facade as unknown as Subscription<E, S>;
    const core = new SubscriptionCore(this.#host, channel, options.since);
    if (!isValidChannel(channel)) {
      // Later, so that listeners attached right after subscribe() hear it.
      queueMicrotask(() => core.fail(invalidChannel(channel)));
      return core.facade as unknown as Subscription<E, S>;
    }
    this.#subs.set(channel, core);
    if (this.#welcomed) core.connected();
    return core.facade as unknown as Subscription<E, S>;
  }

  getSubscription<E extends EventMap = Record<string, unknown>, S = unknown>(channel: string): Subscription<E, S> | null {
    return (this.#subs.get(channel)?.facade as unknown as Subscription<E, S> | undefined) ?? null;
  }

  get subscriptions(): Subscription[] {
    return [...this.#subs.values()].map((core) => core.facade);
  }

  publish(channel: string, event: string, data: unknown): Promise<PublishResult> {
    if (!isValidChannel(channel)) return Promise.reject(invalidChannel(channel));
    return this.#request('publish', { channel, event, data });
  }

  presence(channel: string): Promise<PresenceResult> {
    if (!isValidChannel(channel)) return Promise.reject(invalidChannel(channel));
    return this.#request('presence', { channel });
  }

  history(channel: string, options: HistoryOptions = {}): Promise<HistoryResult> {
    if (!isValidChannel(channel)) return Promise.reject(invalidChannel(channel));
    const fields: RequestFields<'history'> = { channel };
    if (options.since) fields.since = { epoch: options.since.epoch, offset: options.since.offset };
    if (options.limit !== undefined) fields.limit = options.limit;
    return this.#request('history', fields);
  }

  /** A round trip to the server; resolves with its duration in ms. */
  async ping(): Promise<number> {
    const started = Date.now();
    await this.#request('ping', {});
    return Date.now() - started;
  }

  // ----- Opening and closing sockets.

  async #open(): Promise<void> {
    const seq = ++this.#openSeq;
    this.#setState({ state: 'connecting', attempt: this.#attempt });
    let token: string | undefined;
    try {
      token = await this.#nextToken();
    } catch (err) {
      if (seq !== this.#openSeq || !this.#active) return;
      const error = err instanceof SwitchboardError ? err : new SwitchboardError('token_unavailable', errorMessage(err), { cause: err, temporary: true });
      this.#events.emit('error', error);
      this.#scheduleReconnect(0, `token provider failed: ${error.message}`, error);
      return;
    }
    if (seq !== this.#openSeq || !this.#active) return;
    let ws: WebSocketLike;
    let url = '(url function)';
    try {
      url = typeof this.#url === 'function' ? this.#url() : this.#url;
      ws = new this.#WebSocket(url);
    } catch (err) {
      const error = new SwitchboardError('bad_config', `cannot open a WebSocket to ${url}: ${errorMessage(err)}`, { cause: err });
      this.#giveUp(0, error.message, error);
      return;
    }
    this.#ws = ws;
    this.#token = token;
    this.#welcomed = false;
    this.#connectError = null;
    ws.onopen = () => this.#onOpen(ws, token);
    ws.onmessage = (event) => this.#onMessage(ws, event.data);
    ws.onclose = (event) => {
      if (ws === this.#ws) this.#teardown(event.code, event.reason, 'closed');
    };
    // The close event that follows carries what the client acts on.
    ws.onerror = () => undefined;
    // Covers both a socket that never opens (packets dropped) and a server that never welcomes.
    this.#connectTimer.set(() => {
      if (ws === this.#ws && !this.#welcomed) this.#teardown(WELCOME_TIMEOUT, `no welcome within ${this.#requestTimeoutMs} ms`, 'abandon');
    }, this.#requestTimeoutMs);
  }

  async #nextToken(): Promise<string | undefined> {
    const { token, getToken } = this.#options;
    if (token !== undefined && !this.#usedInitialToken) {
      this.#usedInitialToken = true;
      return token;
    }
    if (!getToken) return token;
    const fresh = await getToken();
    if (typeof fresh !== 'string' || fresh.length === 0) throw new SwitchboardError('token_unavailable', 'getToken returned no token', { temporary: true });
    return fresh;
  }

  #onOpen(ws: WebSocketLike, token: string | undefined): void {
    if (ws !== this.#ws) return;
    this.#lastHeard = Date.now();
    this.#call('connect', token === undefined ? {} : { token }, (outcome) => {
      // A refused connect is followed by the server's close; keep the reason for it.
      if (!outcome.ok && ws === this.#ws && outcome.error.code !== 'timeout' && outcome.error.code !== 'connection_lost') {
        this.#connectError = outcome.error;
      }
    }, true);
  }

  /**
   * Forgets the current socket and everything tied to it, then decides whether to reconnect.
   * `how`: 'closed' (the socket closed), 'abandon' (the client gave up on a silent socket),
   * 'client' (close() was called).
   */
  #teardown(code: number, reason: string, how: 'closed' | 'abandon' | 'client'): void {
    const ws = this.#ws;
    if (!ws) return;
    this.#ws = null;
    this.#welcomed = false;
    discardSocket(ws, how === 'closed' ? 'closed' : how === 'abandon' ? 'terminate' : 'close', code, reason);
    this.#connectTimer.clear();
    this.#heartbeatTimer.clear();
    this.#refreshTimer.clear();
    this.#pending.failAll(
      how === 'client'
        ? new SwitchboardError('client_closed')
        : new SwitchboardError('connection_lost', `connection closed (${code}${reason ? `: ${reason}` : ''})`, { closeCode: code }),
    );
    for (const core of this.#subs.values()) core.disconnected();
    const connectError = this.#connectError;
    this.#connectError = null;

    if (how === 'client' || !this.#active) {
      this.#rejectWaiters(new SwitchboardError('client_closed'));
      this.#setState({ state: 'disconnected', code, reason, willReconnect: false });
      return;
    }
    if (code === CloseCodes.tokenExpired) {
      // Only a new token can help; without a provider, retrying would be refused again.
      if (this.#options.getToken) this.#scheduleReconnect(code, reason);
      else this.#giveUp(code, reason, new SwitchboardError('token_expired', reason || undefined, { closeCode: code }));
      return;
    }
    if (!shouldReconnect(code)) {
      const error = connectError
        ? new SwitchboardError(connectError.code, connectError.message, { temporary: false, closeCode: code, ...(connectError.field ? { field: connectError.field } : {}) })
        : new SwitchboardError('connection_refused', reason || `the server closed the connection with ${code}`, { closeCode: code });
      this.#giveUp(code, reason, error);
      return;
    }
    this.#scheduleReconnect(code, reason);
  }

  #scheduleReconnect(code: number, reason: string, error?: SwitchboardError): void {
    const delayMs = backoffDelay(this.#attempt++, this.#backoff);
    this.#reconnectTimer.set(() => {
      if (this.#active) void this.#open();
    }, delayMs);
    this.#setState({ state: 'disconnected', code, reason, willReconnect: true, delayMs, ...(error ? { error } : {}) });
  }

  #giveUp(code: number, reason: string, error: SwitchboardError): void {
    this.#active = false;
    this.#rejectWaiters(error);
    this.#setState({ state: 'disconnected', code, reason, willReconnect: false, error });
    this.#events.emit('error', error);
  }

  #rejectWaiters(error: SwitchboardError): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w.reject(error);
  }

  #setState(change: StateChange): void {
    this.#state = change.state;
    this.#events.emit('state', change);
  }

  // ----- Incoming frames.

  #onMessage(ws: WebSocketLike, data: unknown): void {
    if (ws !== this.#ws) return;
    // Any frame proves the connection alive, not only pings: a busy channel needs no pings.
    this.#lastHeard = Date.now();
    if (typeof data !== 'string') return;
    let frame: unknown;
    try {
      frame = JSON.parse(data);
    } catch {
      this.#events.emit('error', new SwitchboardError('bad_frame', 'the server sent a frame that is not JSON'));
      return;
    }
    if (frame === null || typeof frame !== 'object' || typeof (frame as { op?: unknown }).op !== 'string') return;
    this.#dispatch(ws, frame as { op: string } & Record<string, unknown>);
  }

  #dispatch(ws: WebSocketLike, frame: { op: string } & Record<string, unknown>): void {
    switch (frame.op) {
      case 'ping':
        this.#send(ws, '{"op":"pong"}');
        return;
      case 'reply':
        this.#pending.reply(frame);
        return;
      case 'message': {
        const f = frame as unknown as MessageFrame;
        if (typeof f.channel === 'string' && typeof f.epoch === 'string' && typeof f.offset === 'number') this.#subs.get(f.channel)?.message(f);
        return;
      }
      case 'welcome':
        this.#onWelcome(frame as unknown as WelcomeFrame);
        return;
      case 'subscribed':
        this.#onServerSubscribed(frame as unknown as SubscribedFrame);
        return;
      case 'unsubscribed': {
        // Access was taken away: the subscription fails with the server's error and is dropped,
        // so it is not resubscribed after the next reconnect either.
        const f = frame as unknown as UnsubscribedFrame;
        if (typeof f.channel === 'string' && f.error && typeof f.error === 'object') this.#subs.get(f.channel)?.fail(SwitchboardError.fromReply(f.error));
        return;
      }
      case 'join':
      case 'leave': {
        const f = frame as unknown as PresenceEventFrame;
        if (typeof f.channel !== 'string' || typeof f.user !== 'string') return;
        this.#subs.get(f.channel)?.presence(f.op, f.user);
        this.#events.emit('presence', { kind: f.op, channel: f.channel, user: f.user });
        return;
      }
      case 'error': {
        const error = frame.error as ReplyError | undefined;
        if (error && typeof error === 'object') this.#events.emit('error', SwitchboardError.fromReply(error));
        return;
      }
      default:
      // Unknown ops come from a newer server; ignoring them keeps old clients working.
    }
  }

  #onWelcome(frame: WelcomeFrame): void {
    if (this.#welcomed) return;
    this.#welcomed = true;
    this.#connectTimer.clear();
    this.#generation++;
    this.#attempt = 0;
    const heartbeat = typeof frame.heartbeat === 'number' ? frame.heartbeat : 0;
    const expiresAt = typeof frame.expiresAt === 'string' ? frame.expiresAt : null;
    this.#info = { session: frame.session, user: frame.user ?? null, heartbeat, expiresAt };
    this.#armHeartbeat(heartbeat);
    // The server's word first; the token's own exp when the server did not say.
    const parsed = expiresAt === null ? NaN : Date.parse(expiresAt);
    if (!Number.isNaN(parsed)) this.#expiresAt = parsed;
    else if (frame.expiresAt === null) this.#expiresAt = null;
    else this.#expiresAt = this.#token ? jwtExpiry(this.#token) : null;
    this.#scheduleRefresh();
    const info = { ...this.#info };
    const waiters = this.#waiters;
    this.#waiters = [];
    this.#setState({ state: 'connected', session: info.session, user: info.user });
    for (const w of waiters) w.resolve(info);
    for (const core of [...this.#subs.values()]) core.connected();
  }

  #onServerSubscribed(frame: SubscribedFrame): void {
    if (!this.#welcomed || typeof frame.channel !== 'string' || typeof frame.epoch !== 'string' || typeof frame.offset !== 'number') return;
    let core = this.#subs.get(frame.channel);
    if (!core) {
      core = new SubscriptionCore(this.#host, frame.channel, undefined);
      this.#subs.set(frame.channel, core);
    }
    const result: SubscribeResult = { epoch: frame.epoch, offset: frame.offset, recovered: frame.recovered === true, publications: [] };
    if (frame.snapshot !== undefined) result.snapshot = frame.snapshot;
    core.serverSubscribed(result, this.#generation);
  }

  // ----- Heartbeat and token refresh.

  #armHeartbeat(heartbeat: number): void {
    this.#heartbeatTimer.clear();
    if (!(heartbeat > 0)) return;
    const limit = heartbeat + (this.#options.heartbeatSlackMs ?? Math.round(heartbeat / 2) + 1000);
    // One timer that re-arms for the remaining time, rather than a reset per frame: cheap on busy
    // connections, and a timer delayed by a throttled tab still judges by the real silence.
    const check = (): void => {
      const silent = Date.now() - this.#lastHeard;
      if (silent >= limit) this.#teardown(HEARTBEAT_LOST, `no frame from the server for ${silent} ms`, 'abandon');
      else this.#heartbeatTimer.set(check, limit - silent);
    };
    this.#heartbeatTimer.set(check, limit);
  }

  #scheduleRefresh(): void {
    this.#refreshTimer.clear();
    if (!this.#options.getToken || this.#expiresAt === null) return;
    const now = Date.now();
    let at = now + refreshDelay(this.#expiresAt, now);
    // A client clock far ahead of the server's sees every new token as expired already and would
    // refresh in a loop; space those out. The server's own expiry check (4004) still applies.
    if (this.#expiresAt <= now && this.#lastRefreshAt !== null) at = Math.max(at, this.#lastRefreshAt + SKEWED_REFRESH_INTERVAL_MS);
    this.#refreshTimer.setAt(() => void this.#refresh(), at);
  }

  async #refresh(): Promise<void> {
    const getToken = this.#options.getToken;
    if (!getToken) return;
    const generation = this.#generation;
    const current = () => generation === this.#generation && this.#welcomed;
    let token: string;
    try {
      const fresh = await getToken();
      if (typeof fresh !== 'string' || fresh.length === 0) throw new Error('getToken returned no token');
      token = fresh;
    } catch (err) {
      if (!current()) return;
      this.#events.emit('error', new SwitchboardError('token_unavailable', errorMessage(err), { cause: err, temporary: true }));
      this.#retryRefresh();
      return;
    }
    if (!current()) return;
    const outcome = await new Promise<Outcome<ResultByOp['refresh']>>((resolve) => this.#call('refresh', { token }, resolve));
    if (!current()) return;
    if (!outcome.ok) {
      // If refreshing keeps failing the server closes with 4004 at expiry, and the reconnect gets a new token.
      this.#events.emit('error', outcome.error);
      this.#retryRefresh();
      return;
    }
    this.#token = token;
    this.#lastRefreshAt = Date.now();
    const expiresAt = typeof outcome.result.expiresAt === 'string' ? outcome.result.expiresAt : null;
    const parsed = expiresAt === null ? NaN : Date.parse(expiresAt);
    this.#expiresAt = Number.isNaN(parsed) ? (expiresAt === null ? null : jwtExpiry(token)) : parsed;
    if (this.#info) this.#info.expiresAt = expiresAt;
    this.#events.emit('refreshed', { expiresAt });
    this.#scheduleRefresh();
  }

  #retryRefresh(): void {
    if (this.#expiresAt === null) return;
    const remaining = this.#expiresAt - Date.now();
    this.#refreshTimer.set(() => void this.#refresh(), Math.min(5000, Math.max(1000, remaining / 4)));
  }

  // ----- Requests.

  #request<Op extends RequestOp>(op: Op, fields: RequestFields<Op>): Promise<ResultByOp[Op]> {
    return new Promise<ResultByOp[Op]>((resolve, reject) => {
      this.#call(op, fields, (outcome) => (outcome.ok ? resolve(outcome.result) : reject(outcome.error)));
    });
  }

  /** Sends a request; `settle` runs exactly once, synchronously within the reply's frame handler. */
  #call<Op extends RequestOp>(op: Op, fields: RequestFields<Op>, settle: (outcome: Outcome<ResultByOp[Op]>) => void, beforeWelcome = false): void {
    const ws = this.#ws;
    if (!ws || ws.readyState !== OPEN || (!beforeWelcome && !this.#welcomed)) {
      settle({ ok: false, error: new SwitchboardError('not_connected', 'the client is not connected') });
      return;
    }
    const id = this.#nextId++;
    let text: string;
    try {
      text = JSON.stringify({ op, id, ...fields });
    } catch (err) {
      settle({ ok: false, error: new SwitchboardError('bad_request', `cannot serialize the request: ${errorMessage(err)}`, { field: 'data', cause: err }) });
      return;
    }
    this.#pending.add(id, this.#requestTimeoutMs, op, settle as (outcome: Outcome<unknown>) => void);
    if (!this.#send(ws, text)) this.#pending.fail(id, new SwitchboardError('connection_lost', 'the socket refused the frame'));
  }

  #send(ws: WebSocketLike, text: string): boolean {
    if (ws.readyState !== OPEN) return false;
    try {
      ws.send(text);
      return true;
    } catch {
      return false;
    }
  }

  /** The subscriptions' view of the client. Closures rather than methods keep these out of the public API. */
  #makeHost(): SubscriptionHost {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- getters below need the client, not the host object
    const client = this;
    return {
      get generation() {
        return client.#generation;
      },
      isConnected: () => this.#welcomed,
      subscribe: (channel, since, settle) => {
        const fields: RequestFields<'subscribe'> = since ? { channel, since: { epoch: since.epoch, offset: since.offset } } : { channel };
        this.#call('subscribe', fields, (outcome: Outcome<SubscribeResult>) => settle(outcome));
      },
      unsubscribe: (channel) => this.#request('unsubscribe', { channel }).then(() => undefined),
      serial: (channel, task) => {
        const previous = this.#chains.get(channel) ?? Promise.resolve();
        const next = previous.then(task).catch((err: unknown) => {
          this.#events.emit('error', SwitchboardError.wrap(err, 'internal'));
        });
        this.#chains.set(channel, next);
        void next.then(() => {
          if (this.#chains.get(channel) === next) this.#chains.delete(channel);
        });
        return next;
      },
      retryDelay: (attempt) => backoffDelay(attempt, this.#backoff),
      forget: (core) => {
        if (this.#subs.get(core.channel) === core) this.#subs.delete(core.channel);
      },
      published: (publication) => this.#events.emit('message', publication),
      serverSubscribed: (sub, info) => this.#events.emit('subscribed', sub, info),
    };
  }
}

function invalidChannel(channel: string): SwitchboardError {
  return new SwitchboardError('invalid_channel', `invalid channel name: ${JSON.stringify(channel.slice(0, 64))}`, { field: 'channel' });
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
