import WebSocket, { type RawData } from 'ws';
import type { ClientFrame, ReplyFrame, ServerFrame } from '@switchboard/client/protocol';
import { startServer, type TestServer, type TestServerOptions } from './server.js';
import { suiteShared } from './suite.js';
import { delay, waitFor } from './wait.js';

/**
 * A small promise-based raw WebSocket client for tests over real sockets: it speaks the JSON
 * protocol by hand (no SDK), queues every frame the server sends (parsed and as the exact text),
 * and bounds every wait with a timeout.
 */

export interface OpenOptions {
  /** Appended to the URL as `?token=` (or `&token=`). */
  token?: string;
  /** Sent as the Origin header; none is sent when left out. */
  origin?: string;
  /** Sent as the Cookie header. */
  cookie?: string;
  headers?: Record<string, string>;
  /** Bound on the handshake; default 3000 ms. */
  timeoutMs?: number;
  /** Answer the server's heartbeat `{"op":"ping"}` with `{"op":"pong"}` and keep it out of the queue
   * (default true). When false, heartbeat pings are queued like any other frame and never answered. */
  autoPong?: boolean;
}

export interface Closed {
  code: number;
  reason: string;
}

export interface Received {
  frame: ServerFrame;
  /** The frame's text exactly as it came off the wire. */
  text: string;
}

/** The server answered the upgrade with a plain HTTP response instead of switching protocols. */
export class HttpRefused extends Error {
  override name = 'HttpRefused';
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`upgrade refused with HTTP ${status}: ${body}`);
  }
}

export const DEFAULT_TIMEOUT_MS = 2000;

const live = new Set<WsTestClient>();

export function withToken(url: string, token: string): string {
  return `${url}${url.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`;
}

export { delay, waitFor };

function toText(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}

function buildSocket(url: string, options: OpenOptions): WebSocket {
  const headers: Record<string, string> = { ...options.headers };
  if (options.cookie !== undefined) headers.Cookie = options.cookie;
  const target = options.token !== undefined ? withToken(url, options.token) : url;
  return new WebSocket(target, {
    headers,
    handshakeTimeout: options.timeoutMs ?? 3000,
    perMessageDeflate: false,
    ...(options.origin !== undefined ? { origin: options.origin } : {}),
  });
}

export class WsTestClient {
  #queue: Received[] = [];
  #closed: Closed | null = null;
  #waiters = new Set<() => void>();
  #nextId = 1;
  #autoPong: boolean;
  /** Heartbeat pings answered automatically. */
  pingsAnswered = 0;
  /** Errors the socket reported (kept so they never crash the test process). */
  readonly errors: Error[] = [];

  private constructor(
    readonly ws: WebSocket,
    autoPong: boolean,
  ) {
    this.#autoPong = autoPong;
    ws.on('message', (data: RawData, isBinary: boolean) => this.#onMessage(data, isBinary));
    ws.on('close', (code: number, reason: Buffer) => {
      this.#closed = { code, reason: reason.toString('utf8') };
      live.delete(this);
      this.#wake();
    });
  }

  /** Opens a connection; rejects with HttpRefused when the server answers the upgrade with HTTP. */
  static open(url: string, options: OpenOptions = {}): Promise<WsTestClient> {
    const ws = buildSocket(url, options);
    const client = new WsTestClient(ws, options.autoPong ?? true);
    live.add(client);
    return new Promise<WsTestClient>((resolve, reject) => {
      let settled = false;
      const settle = (err: Error | null): void => {
        if (settled) return;
        settled = true;
        if (err) {
          live.delete(client);
          reject(err);
        } else {
          resolve(client);
        }
      };
      ws.on('error', (err: Error) => {
        client.errors.push(err);
        client.#wake();
        settle(err);
      });
      ws.once('open', () => settle(null));
      ws.once('unexpected-response', (req, res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        const done = (): void => {
          settle(new HttpRefused(res.statusCode ?? 0, body));
          req.destroy();
        };
        res.once('end', done);
        res.once('error', done);
        res.once('close', done);
      });
    });
  }

  /** Opens a connection that the server must refuse over HTTP; returns the status and body. */
  static async refused(url: string, options: OpenOptions = {}): Promise<{ status: number; body: string }> {
    let client: WsTestClient;
    try {
      client = await WsTestClient.open(url, options);
    } catch (err) {
      if (err instanceof HttpRefused) return { status: err.status, body: err.body };
      throw err;
    }
    client.terminate();
    throw new Error(`expected the upgrade to ${url} to be refused, but it was accepted`);
  }

  /** Terminates every client still open in this process and waits (bounded) for their close events. */
  static async closeAll(timeoutMs = 2000): Promise<void> {
    const clients = [...live];
    for (const c of clients) c.terminate();
    await Promise.all(clients.map((c) => c.closed(timeoutMs).catch(() => undefined)));
  }

  get isClosed(): boolean {
    return this.#closed !== null;
  }

  /** Frames received and not yet taken, oldest first. */
  get pending(): readonly Received[] {
    return this.#queue;
  }

  nextId(): number {
    return this.#nextId++;
  }

  send(frame: ClientFrame | Record<string, unknown>): void {
    this.sendText(JSON.stringify(frame));
  }

  sendText(text: string): void {
    if (this.ws.readyState !== WebSocket.OPEN) throw new Error(`cannot send: socket state ${this.ws.readyState}`);
    this.ws.send(text);
  }

  /** Takes the next frame (with its raw text); rejects on timeout or when the socket closed first. */
  async nextRaw(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Received> {
    await this.#until(() => this.#queue.length > 0 || this.#closed !== null, timeoutMs, 'a frame');
    const item = this.#queue.shift();
    if (!item) throw new Error(`connection closed (${this.#closed?.code}: ${this.#closed?.reason}) before a frame arrived`);
    return item;
  }

  async next(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<ServerFrame> {
    return (await this.nextRaw(timeoutMs)).frame;
  }

  /** Takes the first queued frame that matches (waiting for one); frames before it stay queued. */
  async nextMatching(match: (frame: ServerFrame) => boolean, timeoutMs = DEFAULT_TIMEOUT_MS, what = 'a matching frame'): Promise<ServerFrame> {
    const find = (): number => this.#queue.findIndex((r) => match(r.frame));
    await this.#until(() => find() >= 0 || this.#closed !== null, timeoutMs, what);
    const index = find();
    if (index < 0) throw new Error(`connection closed (${this.#closed?.code}: ${this.#closed?.reason}) before ${what}`);
    return this.#queue.splice(index, 1)[0]!.frame;
  }

  /** Takes the next frame and checks its op. */
  async expectOp<Op extends ServerFrame['op']>(op: Op, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Extract<ServerFrame, { op: Op }>> {
    const frame = await this.next(timeoutMs);
    if (frame.op !== op) throw new Error(`expected a '${op}' frame, got ${JSON.stringify(frame).slice(0, 300)}`);
    return frame as Extract<ServerFrame, { op: Op }>;
  }

  /** Waits for the reply to request `id`; other frames stay queued in order. */
  reply(id: number, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<ReplyFrame> {
    return this.nextMatching((f) => f.op === 'reply' && f.id === id, timeoutMs, `the reply to ${id}`) as Promise<ReplyFrame>;
  }

  /** Sends a request with a fresh id and waits for its reply. */
  request(frame: Record<string, unknown> & { op: string }, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<ReplyFrame> {
    const id = this.nextId();
    this.send({ ...frame, id });
    return this.reply(id, timeoutMs);
  }

  /** Like request, but fails unless the reply is ok; returns the result. */
  async ok<T = Record<string, unknown>>(frame: Record<string, unknown> & { op: string }, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<T> {
    const reply = await this.request(frame, timeoutMs);
    if (!reply.ok) throw new Error(`${frame.op} failed: ${JSON.stringify(reply.error)}`);
    return reply.result as T;
  }

  /** A ping request is answered: the connection is open and the server is serving it. */
  async assertAlive(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
    await this.ok({ op: 'ping' }, timeoutMs);
  }

  /** Waits for the close (whatever is still queued); returns its code and reason. */
  async closed(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Closed> {
    await this.#until(() => this.#closed !== null, timeoutMs, 'the close');
    return this.#closed!;
  }

  /** Resolves if no frame arrives within `ms`; rejects with the frame otherwise. */
  async expectSilence(ms = 150): Promise<void> {
    await delay(ms);
    const first = this.#queue[0];
    if (first) throw new Error(`expected no frame, got ${first.text.slice(0, 300)}`);
  }

  /** Resolves if no `message` frame (for `channel`, if given) arrives within `ms`; other frames
   * (presence, heartbeats) are ignored and stay queued. */
  async expectNoMessages(ms = 150, channel?: string): Promise<void> {
    await delay(ms);
    const first = this.#queue.find((r) => r.frame.op === 'message' && (channel === undefined || r.frame.channel === channel));
    if (first) throw new Error(`expected no message, got ${first.text.slice(0, 300)}`);
  }

  /** Stops reading from the TCP socket (the server's send buffer then fills up). */
  pause(): void {
    this.#rawSocket().pause();
  }

  resume(): void {
    this.#rawSocket().resume();
  }

  close(code = 1000, reason = ''): void {
    if (this.ws.readyState === WebSocket.CONNECTING || this.ws.readyState === WebSocket.OPEN) this.ws.close(code, reason);
  }

  terminate(): void {
    if (this.ws.readyState !== WebSocket.CLOSED) this.ws.terminate();
  }

  /** Closes from the client side and waits until the socket is fully closed. */
  async disconnect(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
    this.close();
    await this.closed(timeoutMs).catch(() => {
      this.terminate();
      return this.closed(timeoutMs);
    });
  }

  #rawSocket(): { pause(): void; resume(): void } {
    const socket = (this.ws as unknown as { _socket?: { pause(): void; resume(): void } })._socket;
    if (!socket) throw new Error('no underlying socket (not open?)');
    return socket;
  }

  #onMessage(data: RawData, isBinary: boolean): void {
    const text = toText(data);
    let frame: ServerFrame;
    try {
      if (isBinary) throw new Error('binary frame');
      frame = JSON.parse(text) as ServerFrame;
    } catch (err) {
      this.errors.push(new Error(`unparsable frame from the server (${(err as Error).message}): ${text.slice(0, 200)}`));
      frame = { op: 'error', error: { code: 'bad_frame', message: `client could not parse: ${text.slice(0, 200)}`, temporary: false } };
    }
    if (this.#autoPong && frame.op === 'ping' && !('id' in frame)) {
      this.pingsAnswered += 1;
      if (this.ws.readyState === WebSocket.OPEN) this.ws.send('{"op":"pong"}');
      return;
    }
    this.#queue.push({ frame, text });
    this.#wake();
  }

  async #until(ready: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!ready()) {
      const left = deadline - Date.now();
      if (left <= 0) {
        const state = this.#closed ? `closed ${this.#closed.code}` : `open, ${this.#queue.length} frames queued`;
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${state})`);
      }
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          clearTimeout(timer);
          this.#waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, left);
        this.#waiters.add(wake);
      });
    }
  }

  #wake(): void {
    for (const wake of [...this.#waiters]) wake();
  }
}

/** Collects `count` message frames for `channel` (other frames are left queued), in arrival order. */
export async function collectMessages(
  client: WsTestClient,
  channel: string,
  count: number,
  timeoutMs = 5000,
): Promise<Extract<ServerFrame, { op: 'message' }>[]> {
  const deadline = Date.now() + timeoutMs;
  const out: Extract<ServerFrame, { op: 'message' }>[] = [];
  while (out.length < count) {
    const left = Math.max(1, deadline - Date.now());
    const frame = await client.nextMatching((f) => f.op === 'message' && f.channel === channel, left, `message ${out.length + 1}/${count} on ${channel}`);
    out.push(frame as Extract<ServerFrame, { op: 'message' }>);
  }
  return out;
}

/**
 * A real node for one describe block: started in `before`, and in `after` every WsTestClient is
 * closed before the node. The returned object reads through to that node, so suites use it like a
 * TestServer without repeating the hooks.
 */
export function wsSuiteServer(options?: TestServerOptions): TestServer {
  return suiteShared(() => startServer(options), (server) => server.close(), () => WsTestClient.closeAll());
}
