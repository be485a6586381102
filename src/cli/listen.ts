import WebSocket from 'ws';
import {
  CloseCodes,
  isValidChannel,
  shouldReconnect,
  type ClientFrame,
  type ReplyError,
  type ReplyFrame,
  type ServerFrame,
  type StreamPosition,
  type SubscribeResult,
  type UserInfo,
} from '@switchboard/client/protocol';
import { ConfigError } from '../core/config.js';
import { DEMO_ACCOUNTS } from '../modules/accounts/seed.js';
import { ROLES, type Role } from '../modules/accounts/schema.js';
import { CommandError } from './command-error.js';
import { login, nodeUrl, socketUrl, unreachable, type Credentials } from './sign-in.js';

/**
 * `switchboard listen <channel | word | alias path>`: signs in to a running node, subscribes, and
 * prints the subscribe snapshot and then every event, one line each, until Ctrl-C. It speaks the
 * wire protocol (docs/protocol.md) directly rather than through the SDK so that it can show what
 * the node sends as it is: the snapshot of a subscription the node made for an alias path too.
 */

const LISTEN_FLAGS = new Set(['url', 'as', 'email', 'password', 'token']);
const CONNECT_ID = 1;
const SUBSCRIBE_ID = 2;
const HANDSHAKE_TIMEOUT_MS = 10_000;
/** After a live connection drops, how long listen tries to get back before it gives up. Long
 * enough for `npm start` to type-check and start again after a restart. */
const RECONNECT_FOR_MS = 120_000;
const RECONNECT_MAX_DELAY_MS = 5_000;
const CLOSE_WAIT_MS = 1_000;

/** Words that stand for one of your own channels, so nobody has to look up their user or tenant id. */
const OWN_CHANNELS: Readonly<Record<string, string>> = { cart: 'cart', user: 'user', notifications: 'user', 'my-orders': 'my-orders', 'worker-orders': 'worker-orders' };
const TENANT_CHANNELS: ReadonlySet<string> = new Set(['staff-orders', 'alerts', 'tenant']);
/** `orders`: the order feed of your role. */
const ORDERS_BY_ROLE: Readonly<Record<Role, string>> = { customer: 'my-orders', worker: 'worker-orders', manager: 'staff-orders', admin: 'staff-orders' };
const WORDS = ['cart', 'orders', ...Object.keys(OWN_CHANNELS).filter((w) => w !== 'cart'), ...TENANT_CHANNELS].join(', ');

type Identity = { token: string } | { credentials: Credentials; demo: boolean };
type Target = { kind: 'channel'; name: string } | { kind: 'alias'; path: string };

export interface Output {
  write(text: string): unknown;
}

export async function listen(positionals: string[], flags: Record<string, string>, env: NodeJS.ProcessEnv, out: Output = process.stdout, err: Output = process.stderr): Promise<void> {
  const problems = Object.keys(flags)
    .filter((f) => !LISTEN_FLAGS.has(f))
    .map((f) => `unknown flag --${f} (listen takes --url, --as, --email, --password, --token)`);
  if (positionals.length === 0) problems.push('listen needs a channel, e.g. `switchboard listen cart --as customer`');
  if (positionals.length > 1) problems.push(`listen takes one channel (got ${positionals.map((p) => `'${p}'`).join(', ')})`);
  if (problems.length > 0) throw new ConfigError(problems);
  const raw = positionals[0]!;
  const target: Target = raw.startsWith('/') ? { kind: 'alias', path: raw } : { kind: 'channel', name: raw };
  const listener = new Listener(nodeUrl(flags.url, env), target, identityFrom(flags), out, err);
  const stop = () => listener.stop();
  process.once('SIGINT', stop).once('SIGTERM', stop);
  try {
    await listener.run();
  } finally {
    process.off('SIGINT', stop).off('SIGTERM', stop);
  }
}

function identityFrom(flags: Record<string, string>): Identity {
  const { as, email, password, token } = flags;
  const ways = [as !== undefined, email !== undefined || password !== undefined, token !== undefined].filter(Boolean).length;
  if (ways === 0) throw new ConfigError(['listen signs in first: --as customer (or worker, manager, admin: a demo account), --email E --password P, or --token T']);
  if (ways > 1) throw new ConfigError(['give one way to sign in: --as, --email with --password, or --token']);
  if (as !== undefined) {
    const account = DEMO_ACCOUNTS.find((a) => a.role === as);
    if (!account) throw new ConfigError([`--as takes a demo account's role: ${ROLES.join(', ')} (got '${as}')`]);
    return { credentials: { email: account.email, password: account.password }, demo: true };
  }
  if (token !== undefined) {
    if (token === 'true' || token.length === 0) throw new ConfigError(['--token needs a token (from POST /api/auth/login or `switchboard token`)']);
    return { token };
  }
  if (!email || email === 'true' || !password || password === 'true') throw new ConfigError(['--email and --password go together']);
  return { credentials: { email, password }, demo: false };
}

/** The channel a word stands for, for this user; a full channel name (or anything else) as it is. */
export function resolveChannel(name: string, user: UserInfo): string {
  if (name.includes(':')) return name;
  let word = name;
  if (word === 'orders') {
    const feed = ORDERS_BY_ROLE[user.role as Role] as string | undefined;
    if (!feed) throw new CommandError(`'orders' is the order feed of your role, but this token's role '${user.role}' is not an account role (${ROLES.join(', ')}): sign in with --as or --email`);
    word = feed;
  }
  const own = OWN_CHANNELS[word];
  if (own) return `${own}:${user.id}`;
  if (TENANT_CHANNELS.has(word)) {
    if (!user.tenant) throw new CommandError(`'${name}' is a channel of your tenant, but this token names no tenant: sign in with --as or --email, or name the channel in full (${word}:<tenant id>)`);
    return `${word}:${user.tenant}`;
  }
  return word;
}

/** One line per event: local time of day, channel, event, offset, compact JSON data. */
export function eventLine(at: Date, channel: string, event: string, offset: number | null, data: unknown): string {
  const when = Number.isNaN(at.getTime()) ? new Date() : at;
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  const clock = `${pad(when.getHours())}:${pad(when.getMinutes())}:${pad(when.getSeconds())}.${pad(when.getMilliseconds(), 3)}`;
  return `${clock} ${channel} ${event}${offset === null ? '' : ` #${offset}`} ${JSON.stringify(data) ?? 'null'}\n`;
}

/** One WebSocket and what is known about it. */
interface Connection {
  ws: WebSocket;
  opened: boolean;
  /** The node answered the upgrade with this HTTP status instead of a WebSocket. */
  httpStatus: number | null;
  error: Error | null;
  lastHeard: number;
  watchdog: NodeJS.Timeout | null;
}

class Listener {
  readonly #node: URL;
  readonly #target: Target;
  readonly #identity: Identity;
  readonly #out: Output;
  readonly #err: Output;
  #token = '';
  #user: UserInfo | null = null;
  /** The channel a `channel` target resolved to, once the node said who the token is. */
  #channel: string | null = null;
  /** The last position printed per channel: where a resubscribe resumes from. */
  readonly #positions = new Map<string, StreamPosition>();
  #conn: Connection | null = null;
  /** Subscribed at least once: from then on a dropped connection is retried, not fatal. */
  #live = false;
  #lostAt: number | null = null;
  #attempt = 0;
  #retry: NodeJS.Timeout | null = null;
  #finished = false;
  #settle: (error: Error | null) => void = () => {};

  constructor(node: URL, target: Target, identity: Identity, out: Output, err: Output) {
    this.#node = node;
    this.#target = target;
    this.#identity = identity;
    this.#out = out;
    this.#err = err;
  }

  /** Resolves when stopped (Ctrl-C); rejects with a CommandError when the node refuses or is gone. */
  run(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#settle = (error) => (error ? reject(error) : resolve());
      this.#connect(false).catch((error: unknown) => this.#finish(error instanceof Error ? error : new Error(String(error))));
    });
  }

  stop(): void {
    this.#finish(null);
  }

  async #connect(signInAgain: boolean): Promise<void> {
    if ('token' in this.#identity) this.#token = this.#identity.token;
    else if (signInAgain || this.#token === '') this.#token = await login(this.#node, this.#identity.credentials, this.#identity.demo);
    if (this.#finished) return;
    // Aliases may default to Django Channels frames, which authenticate only with the upgrade and
    // carry no positions: listen asks for the native frames it speaks everywhere.
    const path = this.#target.kind === 'alias' ? nativeFrames(this.#target.path) : '/ws';
    const ws = new WebSocket(socketUrl(this.#node, path), { handshakeTimeout: HANDSHAKE_TIMEOUT_MS });
    const conn: Connection = { ws, opened: false, httpStatus: null, error: null, lastHeard: Date.now(), watchdog: null };
    this.#conn = conn;
    ws.on('unexpected-response', (_req, res) => {
      conn.httpStatus = res.statusCode ?? 0;
      ws.terminate();
    });
    ws.on('error', (error) => {
      conn.error = error;
    });
    ws.on('open', () => {
      conn.opened = true;
      this.#send(conn, { op: 'connect', id: CONNECT_ID, token: this.#token });
    });
    ws.on('message', (data, isBinary) => {
      if (conn !== this.#conn || this.#finished) return;
      conn.lastHeard = Date.now();
      if (!isBinary) this.#onFrame(conn, data.toString());
    });
    ws.on('close', (code, reason) => this.#onClose(conn, code, reason.toString()));
  }

  #onFrame(conn: Connection, text: string): void {
    let frame: ServerFrame;
    try {
      frame = JSON.parse(text) as ServerFrame;
    } catch {
      return;
    }
    switch (frame.op) {
      case 'ping':
        this.#send(conn, { op: 'pong' });
        return;
      case 'welcome':
        this.#onWelcome(conn, frame.user, frame.heartbeat);
        return;
      case 'reply':
        this.#onReply(conn, frame);
        return;
      case 'subscribed':
        this.#onSubscribed(frame.channel, frame);
        return;
      case 'message':
        this.#positions.set(frame.channel, { epoch: frame.epoch, offset: frame.offset });
        this.#out.write(eventLine(new Date(frame.time), frame.channel, frame.event, frame.offset, frame.data));
        return;
      case 'join':
      case 'leave':
        this.#out.write(eventLine(new Date(), frame.channel, frame.op, null, { user: frame.user }));
        return;
      case 'unsubscribed':
        this.#finish(new CommandError(`the node ended the subscription to ${frame.channel} (${frame.error.code}: ${frame.error.message})`));
        return;
      case 'error':
        this.#note(`the node reports ${frame.error.code}: ${frame.error.message}`);
        return;
      default:
      // An op from a newer node: nothing to print.
    }
  }

  #onWelcome(conn: Connection, user: UserInfo | null, heartbeatMs: number): void {
    if (!this.#live) this.#note(`connected to ${this.#node.origin} as ${'credentials' in this.#identity ? `${this.#identity.credentials.email}, ` : ''}${describe(user)}`);
    this.#user = user;
    this.#watch(conn, heartbeatMs);
  }

  #onReply(conn: Connection, frame: ReplyFrame): void {
    if (frame.id === CONNECT_ID) {
      if (!frame.ok) this.#finish(this.#connectRefusal(frame.error));
      else if (this.#target.kind === 'channel') this.#subscribe(conn, this.#target.name);
      return;
    }
    if (frame.id === SUBSCRIBE_ID && this.#channel !== null) {
      if (!frame.ok) this.#finish(this.#subscribeRefusal(this.#channel, frame.error));
      else this.#onSubscribed(this.#channel, frame.result as SubscribeResult);
    }
  }

  #subscribe(conn: Connection, name: string): void {
    const user = this.#user;
    if (!user) {
      this.#finish(new CommandError('the node took the token as anonymous; give a token that names a user'));
      return;
    }
    try {
      this.#channel ??= resolveChannel(name, user);
    } catch (error) {
      this.#finish(error as Error);
      return;
    }
    const channel = this.#channel;
    if (!isValidChannel(channel)) {
      this.#finish(new CommandError(`'${channel}' is not a channel name: namespace:key (a lowercase namespace), one of the words ${WORDS}, or an alias path such as /ws/cart/`, 2));
      return;
    }
    const since = this.#positions.get(channel);
    this.#send(conn, since ? { op: 'subscribe', id: SUBSCRIBE_ID, channel, since } : { op: 'subscribe', id: SUBSCRIBE_ID, channel });
  }

  /** A subscription took effect: the reply to ours, or one the node made for an alias path. */
  #onSubscribed(channel: string, result: SubscribeResult): void {
    const since = this.#positions.get(channel);
    const recovered = since !== undefined && result.epoch === since.epoch && (result.recovered || result.offset === since.offset);
    if (recovered && result.recovered) {
      for (const p of result.publications) this.#out.write(eventLine(new Date(p.time), channel, p.event, p.offset, p.data));
    }
    // On a first subscribe the snapshot is the state; after a resume it is only needed when the
    // missed events could not be replayed.
    if (!recovered && result.snapshot !== undefined) this.#out.write(eventLine(new Date(), channel, 'snapshot', null, result.snapshot));
    this.#positions.set(channel, { epoch: result.epoch, offset: result.offset });
    const through = this.#target.kind === 'alias' ? ` (the node subscribed it for ${this.#target.path})` : '';
    if (since === undefined) this.#note(`listening to ${channel}${through}; events print as they come, Ctrl-C to stop`);
    else if (recovered) this.#note(`back on ${channel}; nothing was lost while away`);
    else this.#note(`back on ${channel}, but what happened while away is gone (the node restarted, or it is older than its history); the snapshot is the current state`);
    this.#live = true;
    this.#attempt = 0;
    this.#lostAt = null;
  }

  #onClose(conn: Connection, code: number, reason: string): void {
    if (conn.watchdog) clearTimeout(conn.watchdog);
    if (conn !== this.#conn || this.#finished) return;
    this.#conn = null;
    if (conn.httpStatus !== null) {
      const refusal = this.#upgradeRefusal(conn.httpStatus);
      if (refusal.final || !this.#live) return this.#finish(refusal.error);
    } else if (!conn.opened && !this.#live) {
      return this.#finish(unreachable(this.#node, conn.error));
    } else if (code === CloseCodes.tokenExpired && 'credentials' in this.#identity) {
      return this.#reconnect(code, reason, true);
    } else if (!shouldReconnect(code) || code === CloseCodes.tokenExpired) {
      return this.#finish(this.#closeRefusal(code, reason));
    } else if (!this.#live) {
      return this.#finish(new CommandError(`the node closed the connection before the subscription was made (${code}${reason ? `: ${reason}` : ''})`));
    }
    this.#reconnect(code, reason, false);
  }

  #reconnect(code: number, reason: string, signInAgain: boolean): void {
    const now = Date.now();
    if (this.#lostAt === null) {
      this.#lostAt = now;
      this.#note(`connection lost (${code}${reason ? `: ${reason}` : ''}); reconnecting for up to ${RECONNECT_FOR_MS / 1000} s, Ctrl-C to stop`);
    } else if (now - this.#lostAt > RECONNECT_FOR_MS) {
      this.#finish(new CommandError(`gave up: no connection to ${this.#node.origin} for ${RECONNECT_FOR_MS / 1000} s`));
      return;
    }
    const delay = Math.min(RECONNECT_MAX_DELAY_MS, 250 * 2 ** this.#attempt++);
    this.#retry = setTimeout(() => {
      this.#retry = null;
      this.#connect(signInAgain).catch((error: unknown) => this.#finish(error instanceof Error ? error : new Error(String(error))));
    }, delay);
  }

  /** A node that goes silent (no ping for two heartbeats) is taken for gone: reconnect. */
  #watch(conn: Connection, heartbeatMs: number): void {
    if (conn.watchdog) clearTimeout(conn.watchdog);
    if (!(heartbeatMs > 0)) return;
    const limit = heartbeatMs * 2 + 1000;
    const check = () => {
      const silent = Date.now() - conn.lastHeard;
      if (silent >= limit) conn.ws.terminate();
      else conn.watchdog = setTimeout(check, limit - silent);
    };
    conn.watchdog = setTimeout(check, limit);
  }

  #send(conn: Connection, frame: ClientFrame): void {
    if (conn.ws.readyState === WebSocket.OPEN) conn.ws.send(JSON.stringify(frame));
  }

  #note(text: string): void {
    this.#err.write(`${text}\n`);
  }

  #finish(error: Error | null): void {
    if (this.#finished) return;
    this.#finished = true;
    if (this.#retry) clearTimeout(this.#retry);
    const conn = this.#conn;
    this.#conn = null;
    if (conn) {
      if (conn.watchdog) clearTimeout(conn.watchdog);
      if (conn.ws.readyState === WebSocket.OPEN) {
        conn.ws.close(1000, 'listen stopped');
        // A node that does not answer the close must not keep Ctrl-C waiting.
        const cut = setTimeout(() => conn.ws.terminate(), CLOSE_WAIT_MS);
        conn.ws.once('close', () => clearTimeout(cut));
      } else {
        conn.ws.terminate();
      }
    }
    this.#settle(error);
  }

  // ----- What each refusal means, said so the user knows what to do.

  #connectRefusal(error: ReplyError): CommandError {
    if (error.code === 'account_revoked') {
      return new CommandError(`the token's account was deleted or disabled, or its role or tenant changed (account_revoked): sign in again${'token' in this.#identity ? ' (--as or --email)' : ''}`);
    }
    const hint = 'token' in this.#identity ? '; mint one with `switchboard token --email E`, or sign in with --as or --email' : '';
    return new CommandError(`the node refused the token (${error.code}: ${error.message})${hint}`);
  }

  #subscribeRefusal(channel: string, error: ReplyError): CommandError {
    const user = this.#user;
    if (error.code === 'forbidden') {
      const noAccount = user !== null && (!user.tenant || !ROLES.includes(user.role as Role));
      const hint = noAccount ? ': this token names no account (its role and tenant); cart, order and alerts channels need one: sign in with --as or --email, or mint one with `switchboard token --email E`' : '';
      return new CommandError(`${describe(user)} may not read ${channel} (forbidden)${hint}`);
    }
    if (error.code === 'unknown_namespace') {
      const namespace = channel.split(':')[0]!;
      return new CommandError(`this node has no channel namespace '${namespace}' (unknown_namespace): listen takes one of the words ${WORDS}, a channel namespace:key (e.g. order:<order id>), or an alias path such as /ws/cart/`);
    }
    if (error.code === 'invalid_channel') return new CommandError(`'${channel}' is not a channel name (invalid_channel: ${error.message})`, 2);
    return new CommandError(`the node would not subscribe ${channel} (${error.code}: ${error.message})`);
  }

  #closeRefusal(code: number, reason: string): CommandError {
    const said = reason ? `: ${reason}` : '';
    switch (code) {
      case CloseCodes.unauthorized:
        return new CommandError(`the node refused the token (4500${said})`);
      case CloseCodes.forbidden:
        return new CommandError(`you may not use ${this.#target.kind === 'alias' ? this.#target.path : 'this path'} (4501 forbidden): an alias opens only what the signed-in user may read (/ws/cart/ is your own cart)`);
      case CloseCodes.tokenExpired:
        return new CommandError(`the token expired (4004): mint a new one, or sign in with --as or --email (listen then signs in again by itself)`);
      case CloseCodes.accountRevoked:
        return new CommandError(`the token's account was deleted or disabled, or its role or tenant changed (4504): sign in again`);
      default:
        return new CommandError(`the node closed the connection (${code}${said})`);
    }
  }

  #upgradeRefusal(status: number): { final: boolean; error: CommandError } {
    const origin = this.#node.origin;
    if (status === 404 && this.#target.kind === 'alias') {
      const error = new CommandError(
        `${origin} has no WebSocket endpoint at ${this.#target.path} (404): alias paths end with a slash (/ws/cart/, /ws/orders/<id>/, /ws/chat/<room>/, /ws/notifications/); or name a channel, e.g. cart`,
      );
      return { final: true, error };
    }
    if (status === 429) return { final: false, error: new CommandError(`${origin} refused the connection: too many from this address (429)`) };
    if (status === 503) return { final: false, error: new CommandError(`${origin} refused the connection: it is full or shutting down (503)`) };
    return { final: true, error: new CommandError(`${origin} answered ${status} instead of opening a WebSocket at /ws: is a Switchboard node running there?`) };
  }
}

function describe(user: UserInfo | null): string {
  if (!user) return 'an anonymous user';
  return `${user.id} (${user.role}${user.tenant ? `, tenant ${user.tenant}` : ''})`;
}

/** An alias path asking for native frames (unless it already chose). */
function nativeFrames(path: string): string {
  if (/[?&]frames=/.test(path)) return path;
  return `${path}${path.includes('?') ? '&' : '?'}frames=switchboard`;
}
