import type { ClientFrame, ReplyFrame, ServerFrame } from '@switchboard/client/protocol';
import type { Session } from '../realtime/session.js';
import type { Transport } from '../realtime/transport.js';
import type { Switchboard } from '../switchboard.js';

export interface TestConnectOptions {
  /** `/ws` or a path alias such as `/ws/cart/42/`; may carry `?token=`. */
  path?: string;
  /** Sent as `?token=`; leave out to authenticate with a connect frame or to test refusals. */
  token?: string;
  origin?: string;
  cookie?: string;
  host?: string;
}

export class ConnectionRefused extends Error {
  override name = 'ConnectionRefused';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(`${status}: ${message}`);
  }
}

export interface Closed {
  code: number;
  reason: string;
}

/**
 * Drives a Switchboard node in-process, with no port and no socket, through the same gateway code a
 * real WebSocket goes through (upgrade decision, frame parsing, limits). Like Django's
 * WebsocketCommunicator: connect, send, receive with a timeout, close.
 */
export class TestClient implements Transport {
  #frames: ServerFrame[] = [];
  #waiters: (() => void)[] = [];
  #session: Session | null = null;
  #closed: Closed | null = null;
  #nextId = 1;
  /** Pretend this many bytes are waiting to be written, to test slow-consumer handling. */
  bufferedAmount = 0;

  private constructor(private readonly sb: Switchboard) {}

  static async connect(sb: Switchboard, options: TestConnectOptions = {}): Promise<TestClient> {
    const path = options.path ?? '/ws';
    const url = options.token ? `${path}${path.includes('?') ? '&' : '?'}token=${encodeURIComponent(options.token)}` : path;
    const headers: Record<string, string> = { host: options.host ?? 'switchboard.test' };
    if (options.origin) headers.origin = options.origin;
    if (options.cookie) headers.cookie = options.cookie;
    const decision = await sb.gateway.accept({ url, headers });
    if (!decision.ok) throw new ConnectionRefused(decision.status, decision.message);
    const client = new TestClient(sb);
    client.#session = decision.open(client);
    return client;
  }

  get session(): Session {
    if (!this.#session) throw new Error('not connected');
    return this.#session;
  }

  // ----- Transport side (the server writes here)

  send(frame: Buffer | string): void {
    if (this.#closed) return;
    this.#frames.push(JSON.parse(typeof frame === 'string' ? frame : frame.toString('utf8')) as ServerFrame);
    this.#wake();
  }

  close(code: number, reason: string): void {
    if (this.#closed) return;
    this.#closed = { code, reason };
    this.#wake();
    // Like a socket's close event: the gateway hears about it asynchronously.
    queueMicrotask(() => this.sb.gateway.onClosed(this.session));
  }

  // ----- Test side

  /** Sends a frame as JSON text (or raw text as given). */
  sendJson(frame: ClientFrame | Record<string, unknown>): void {
    this.sendText(JSON.stringify(frame));
  }

  sendText(text: string): void {
    if (this.#closed) throw new Error(`connection closed (${this.#closed.code})`);
    this.sb.gateway.onText(this.session, text);
  }

  sendBinary(): void {
    this.sb.gateway.onBinary(this.session);
  }

  /** The next frame from the server; rejects after `timeoutMs` or if the connection closed first. */
  async receive(timeoutMs = 1000): Promise<ServerFrame> {
    await this.#until(() => this.#frames.length > 0 || this.#closed !== null, timeoutMs, 'a frame');
    const frame = this.#frames.shift();
    if (!frame) throw new Error(`connection closed (${this.#closed?.code}: ${this.#closed?.reason}) before a frame arrived`);
    return frame;
  }

  /** Resolves when no frame arrives within `ms`; rejects with the frame otherwise. */
  async expectSilence(ms = 100): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, ms));
    if (this.#frames.length > 0) throw new Error(`expected no frame, got ${JSON.stringify(this.#frames[0])}`);
  }

  /** Sends a request with a fresh id and returns its reply; other frames stay queued in order. */
  async request(frame: Record<string, unknown> & { op: string }, timeoutMs = 1000): Promise<ReplyFrame> {
    const id = this.#nextId++;
    this.sendJson({ ...frame, id });
    return this.reply(id, timeoutMs);
  }

  async reply(id: number, timeoutMs = 1000): Promise<ReplyFrame> {
    const find = () => this.#frames.findIndex((f) => f.op === 'reply' && f.id === id);
    await this.#until(() => find() >= 0 || this.#closed !== null, timeoutMs, `the reply to ${id}`);
    const index = find();
    if (index < 0) throw new Error(`connection closed (${this.#closed?.code}) before the reply to ${id}`);
    return this.#frames.splice(index, 1)[0] as ReplyFrame;
  }

  /** Waits for the server to close the connection. */
  async closed(timeoutMs = 1000): Promise<Closed> {
    await this.#until(() => this.#closed !== null, timeoutMs, 'the close');
    return this.#closed!;
  }

  /** The client goes away (like a socket closing from its side). */
  disconnect(): void {
    if (this.#closed) return;
    this.#closed = { code: 1000, reason: 'client disconnected' };
    this.sb.gateway.onClosed(this.session);
  }

  async #until(ready: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!ready()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}
