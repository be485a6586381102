import { createServer, connect as tcpConnect, type Server, type Socket } from 'node:net';
import { after, afterEach, before } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { SwitchboardClient, type StateChange, type SwitchboardClientOptions, type WebSocketLike } from '@switchboard/client';
import { startServer, type TestServer, type TestServerOptions } from '../helpers/server.js';
import { delay, waitFor } from '../helpers/wait.js';

/**
 * Helpers for SDK tests against a real server: a TCP proxy that can black-hole or refuse
 * connections, a WebSocket wrapper that can rewrite incoming frames, bounded waits, and a client
 * factory that records state changes and closes everything at the end.
 */

export { delay, waitFor };

/** Rejects when `promise` does not settle within `timeoutMs`. */
export async function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// ----- A TCP proxy between client and server: the network, under the test's control.

export interface Proxy {
  port: number;
  wsUrl: string;
  /** Existing connections stop carrying bytes both ways (a silent network); new ones work. */
  freeze(): void;
  /** Cuts every existing connection (the client sees 1006). */
  dropAll(): void;
  /** While true, new connections are cut at once (the server looks down). */
  refusing: boolean;
  /** Connections accepted so far (refused ones included). */
  readonly accepted: number;
  close(): Promise<void>;
}

export async function startProxy(targetPort: number, path = '/ws'): Promise<Proxy> {
  interface Pair {
    client: Socket;
    upstream: Socket;
    frozen: boolean;
  }
  const pairs = new Set<Pair>();
  let accepted = 0;
  const state = { refusing: false };
  const server: Server = createServer((client) => {
    accepted += 1;
    client.on('error', () => client.destroy());
    if (state.refusing) {
      client.destroy();
      return;
    }
    const upstream = tcpConnect(targetPort, '127.0.0.1');
    const pair: Pair = { client, upstream, frozen: false };
    pairs.add(pair);
    // Frozen bytes are read and dropped rather than paused, so a close from either end is still seen.
    client.on('data', (chunk) => {
      if (!pair.frozen) upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (!pair.frozen) client.write(chunk);
    });
    const end = (): void => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end);
    upstream.on('close', end);
    upstream.on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy has no port');
  const port = address.port;
  return {
    port,
    wsUrl: `ws://127.0.0.1:${port}${path}`,
    freeze: () => {
      for (const pair of pairs) pair.frozen = true;
    },
    dropAll: () => {
      for (const pair of [...pairs]) {
        pair.client.destroy();
        pair.upstream.destroy();
      }
      pairs.clear();
    },
    get refusing() {
      return state.refusing;
    },
    set refusing(value: boolean) {
      state.refusing = value;
    },
    get accepted() {
      return accepted;
    },
    close: async () => {
      for (const pair of [...pairs]) {
        pair.client.destroy();
        pair.upstream.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// ----- A WebSocket the test can tamper with.

export interface SocketHooks {
  /** Rewrites each incoming text frame into zero or more frames (drop, duplicate, reorder). */
  incoming?: (text: string) => string[];
  /** Every outgoing frame, for assertions on what the SDK sent. */
  sent: string[];
  /** Every socket created, newest last. */
  sockets: TamperSocket[];
}

export class TamperSocket implements WebSocketLike {
  readonly inner: WebSocket;
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;

  constructor(
    url: string,
    readonly hooks: SocketHooks,
  ) {
    this.inner = new WebSocket(url);
    hooks.sockets.push(this);
    this.inner.onopen = (e) => this.onopen?.(e);
    this.inner.onerror = (e) => this.onerror?.(e);
    this.inner.onclose = (e) => this.onclose?.({ code: e.code, reason: e.reason });
    this.inner.onmessage = (e) => {
      const texts = typeof e.data === 'string' && hooks.incoming ? hooks.incoming(e.data) : [e.data];
      for (const data of texts) this.onmessage?.({ data });
    };
  }

  get readyState(): number {
    return this.inner.readyState;
  }

  send(data: string): void {
    this.hooks.sent.push(data);
    this.inner.send(data);
  }

  close(code?: number, reason?: string): void {
    this.inner.close(code, reason);
  }

  terminate(): void {
    this.inner.terminate();
  }
}

export function tamperable(hooks: Partial<SocketHooks> = {}): { hooks: SocketHooks; WebSocket: new (url: string) => TamperSocket } {
  const all: SocketHooks = { sent: [], sockets: [], ...hooks };
  return {
    hooks: all,
    WebSocket: class extends TamperSocket {
      constructor(url: string) {
        super(url, all);
      }
    },
  };
}

// ----- Clients that record what happened and are closed after each test.

export interface Recorded {
  client: SwitchboardClient;
  states: StateChange[];
  errors: Error[];
  /** 'connecting' transitions so far: attempts to open a socket. */
  attempts(): number;
  connectedCount(): number;
  disconnectedCount(): number;
  lastState(): StateChange | undefined;
}

const open = new Set<SwitchboardClient>();

/** A client with the `ws` WebSocket and fast backoff unless overridden. */
export function makeClient(options: SwitchboardClientOptions): Recorded {
  const client = new SwitchboardClient({ WebSocket, backoff: { minMs: 20, maxMs: 100 }, requestTimeoutMs: 3000, ...options });
  open.add(client);
  const states: StateChange[] = [];
  const errors: Error[] = [];
  client.on('state', (change) => states.push(change));
  client.on('error', (err) => errors.push(err));
  return {
    client,
    states,
    errors,
    attempts: () => states.filter((s) => s.state === 'connecting').length,
    connectedCount: () => states.filter((s) => s.state === 'connected').length,
    disconnectedCount: () => states.filter((s) => s.state === 'disconnected').length,
    lastState: () => states[states.length - 1],
  };
}

export function closeClients(): void {
  for (const client of open) client.close();
  open.clear();
}

/** Waits until `client` is connected (again): `count` 'connected' states in total. */
export function waitConnected(rec: Recorded, count: number, timeoutMs = 5000): Promise<void> {
  return waitFor(() => rec.connectedCount() >= count && rec.client.state === 'connected', timeoutMs, `connection #${count}`);
}

// ----- One server per test file.

export interface SuiteServer {
  /** Set once the file's `before` hook has run. */
  readonly server: TestServer;
  /** A proxy in front of the server, closed after the test. */
  proxy(path?: string): Promise<Proxy>;
}

/** Starts a server before the file's tests and closes it after them; clients (and proxies made
 * through `proxy`) are closed after each test. */
export function useServer(options?: TestServerOptions): SuiteServer {
  let server: TestServer | null = null;
  const proxies: Proxy[] = [];
  before(async () => {
    server = await startServer(options);
  });
  afterEach(async () => {
    closeClients();
    await Promise.all(proxies.splice(0).map((p) => p.close()));
  });
  after(async () => {
    closeClients();
    await server?.close();
  });
  const started = (): TestServer => server ?? assert.fail('the server starts in the before hook');
  return {
    get server() {
      return started();
    },
    async proxy(path) {
      const p = await startProxy(started().port, path);
      proxies.push(p);
      return p;
    },
  };
}
