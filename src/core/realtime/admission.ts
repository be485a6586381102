import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import type { Limits } from '../config.js';
import { normalizeAddress, type TrustedProxies } from '../http/client-address.js';
import { AddressThrottle } from '../http/throttle.js';

/** File descriptors kept out of the connection caps: the database, Redis, logs, and the health,
 * readiness and metrics requests that must answer while the node is full. */
export const FD_RESERVE = 64;

/** The process's soft limit on open files (Linux), or null where it cannot be read. */
export function openFileLimit(): number | null {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = line?.split(/\s{2,}/)[1];
    if (soft === undefined || soft === 'unlimited') return null;
    const n = Number(soft);
    return Number.isFinite(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

export interface Caps {
  /** WebSockets on this node. */
  connections: number;
  /** Sockets still in their HTTP request on this node; also the cap on unauthenticated WebSockets. */
  pending: number;
}

/** The node caps: as set, or (0) from the file limit: four fifths of what is left after the
 * reserve for WebSockets, one fifth for sockets in their request. */
export function resolveCaps(limits: Pick<Limits, 'maxConnections' | 'maxPending'>, fileLimit: number | null): Caps {
  const usable = fileLimit === null ? null : Math.max(32, fileLimit - FD_RESERVE);
  const connections = limits.maxConnections > 0 ? limits.maxConnections : usable === null ? 100_000 : Math.floor(usable * 0.8);
  const pending = limits.maxPending > 0 ? limits.maxPending : usable === null ? 10_000 : Math.min(10_000, Math.max(16, Math.floor(usable * 0.2)));
  return { connections, pending };
}

/**
 * Who may open a socket, before any work is done for it. Sockets in their HTTP request (idle ones
 * included) are counted per client address and for the node: an address over its share is cut at
 * once; at the node's cap the oldest such socket makes room, so a flood of idle sockets cannot keep
 * a health check out. Each must finish its request within `requestTimeoutMs`. WebSockets are
 * counted per address by the gateway (`countWebSocket`), which refuses the upgrade over the cap.
 */
export class Admission {
  readonly caps: Caps;
  /** Sockets in their HTTP request, oldest first (a Set keeps insertion order). */
  readonly #pending = new Set<Socket>();
  readonly #pendingByAddress = new Map<string, number>();
  readonly #addressOf = new WeakMap<Socket, string>();
  readonly #websockets = new Map<string, { all: number; unauthenticated: number }>();

  /** New connections per second per address: a flood is cut at accept, before a byte is read. */
  readonly #connectRate: AddressThrottle;

  constructor(
    private readonly limits: Limits,
    private readonly proxies: TrustedProxies,
    fileLimit: number | null = openFileLimit(),
  ) {
    this.caps = resolveCaps(limits, fileLimit);
    this.#connectRate = new AddressThrottle(limits.connectionsPerSecondPerAddress, limits.connectionsPerSecondPerAddress * 2);
  }

  get pendingSockets(): number {
    return this.#pending.size;
  }

  /** A new TCP connection. Returns false when it was refused (and destroyed). */
  onSocket(socket: Socket): boolean {
    const peer = normalizeAddress(socket.remoteAddress ?? 'unknown');
    // A trusted proxy carries many clients: their share is counted per client at the upgrade.
    if (!this.proxies.trusts(peer)) {
      const count = this.#pendingByAddress.get(peer) ?? 0;
      if (count >= this.limits.maxPendingPerAddress || !this.#connectRate.allow(peer)) {
        socket.destroy();
        return false;
      }
      this.#pendingByAddress.set(peer, count + 1);
      this.#addressOf.set(socket, peer);
    }
    if (this.#pending.size >= this.caps.pending) {
      const oldest = this.#pending.values().next().value;
      if (oldest) {
        this.settle(oldest);
        oldest.destroy();
      }
    }
    this.#pending.add(socket);
    socket.setTimeout(this.limits.requestTimeoutMs);
    socket.once('close', () => this.settle(socket));
    return true;
  }

  /** A request arrived complete: the idle deadline is over (a slow handler must not have its
   * socket cut); Node's own deadlines (request, keep-alive) apply from here. */
  onRequest(socket: Socket): void {
    socket.setTimeout(0);
  }

  /** The socket is no longer in its request: it became a WebSocket, or it closed. */
  settle(socket: Socket): void {
    if (!this.#pending.delete(socket)) return;
    const peer = this.#addressOf.get(socket);
    if (peer === undefined) return;
    const count = (this.#pendingByAddress.get(peer) ?? 1) - 1;
    if (count <= 0) this.#pendingByAddress.delete(peer);
    else this.#pendingByAddress.set(peer, count);
  }

  /** Counts a WebSocket of `address`, unauthenticated at first; null when over a cap (the reason). */
  countWebSocket(address: string, nodeConnections: number, nodeUnauthenticated: number): { status: number; message: string } | null {
    if (nodeConnections >= this.caps.connections) return { status: 503, message: `this node is at its cap of ${this.caps.connections} connections; try another node or later` };
    if (nodeUnauthenticated >= this.caps.pending) return { status: 503, message: 'too many connections are waiting to authenticate; try again shortly' };
    const counts = this.#websockets.get(address) ?? { all: 0, unauthenticated: 0 };
    if (counts.all >= this.limits.maxConnectionsPerAddress) return { status: 429, message: `at most ${this.limits.maxConnectionsPerAddress} connections per client address` };
    if (counts.unauthenticated >= this.limits.maxPendingPerAddress) return { status: 429, message: `at most ${this.limits.maxPendingPerAddress} unauthenticated connections per client address` };
    counts.all++;
    counts.unauthenticated++;
    this.#websockets.set(address, counts);
    return null;
  }

  authenticated(address: string): void {
    const counts = this.#websockets.get(address);
    if (counts) counts.unauthenticated--;
  }

  releaseWebSocket(address: string, wasAuthenticated: boolean): void {
    const counts = this.#websockets.get(address);
    if (!counts) return;
    counts.all--;
    if (!wasAuthenticated) counts.unauthenticated--;
    if (counts.all <= 0) this.#websockets.delete(address);
  }
}
