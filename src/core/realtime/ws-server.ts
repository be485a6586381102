import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { STATUS_CODES } from 'node:http';
import { WebSocket, WebSocketServer } from 'ws';
import type { TrustedProxies } from '../http/client-address.js';
import type { Admission } from './admission.js';
import type { Gateway } from './gateway.js';
import type { Session } from './session.js';
import type { Transport } from './transport.js';

const TEXT = { binary: false } as const;
/** After a close frame is queued, how long a socket may take to finish before it is cut. */
const CLOSE_TIMEOUT_MS = 3000;
/** Closes for abuse (a frame too big, a flood, a broken protocol): the node stops reading at once
 * rather than read on, looking for the client's close frame, whatever it keeps sending (40 such
 * sockets once made the node read 256 MB in half a second), and cuts the socket soon after. */
const ABUSE_CLOSES = new Set([1009, 4003, 4503]);
const ABUSE_CLOSE_TIMEOUT_MS = 1000;

/** Stops reading a socket being closed for abuse; ws resumes it on a receiver error in the next
 * tick, so the pause comes after that. */
function stopReading(ws: WebSocket): void {
  setImmediate(() => socketOf(ws)?.pause());
  setTimeout(() => ws.terminate(), ABUSE_CLOSE_TIMEOUT_MS).unref();
}

/** Close reasons are capped at 123 bytes by the protocol (ws throws past that). The cut goes back to
 * a character boundary: half a character would decode to U+FFFD, 3 bytes, and overshoot the cap.
 * Reasons can carry client input (a channel from an alias path), so this must never throw. */
export function closeReason(reason: string): string {
  const bytes = Buffer.from(reason);
  if (bytes.length <= 123) return reason;
  let end = 123;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--; // bytes[end] continues the character before it
  return bytes.subarray(0, end).toString();
}

/** Sockets corked during the current tick. They are uncorked together on the next tick, so every
 * frame a burst of fan-outs wrote to one socket reaches the kernel in one writev instead of one
 * system call per frame: that call was 83-91% of the server's CPU at saturation (docs/benchmarks.md). */
let corked: Socket[] = [];

function uncorkAll(): void {
  const sockets = corked;
  corked = [];
  for (const socket of sockets) socket.uncork();
}

/** ws keeps its net.Socket in `_socket`, not public API; without it we simply don't batch. */
function socketOf(ws: WebSocket): Socket | undefined {
  return (ws as unknown as { _socket?: Socket })._socket;
}

/**
 * ws reads `_receiver._maxPayload` for every frame header, before it buffers the payload: lowering
 * it is the only way to give one connection a smaller frame limit than the server's (until connect
 * succeeds). Not public API, so it is checked, and a ws release that renames it fails every
 * connection loudly (test/ws/preauth-limits.test.ts) instead of silently lifting the limit.
 */
function setMaxPayload(ws: WebSocket, bytes: number): void {
  const receiver = (ws as unknown as { _receiver?: { _maxPayload?: unknown } })._receiver;
  if (!receiver || typeof receiver._maxPayload !== 'number') throw new Error('ws internals changed: WebSocket._receiver._maxPayload is gone; the pre-connect frame limit cannot be applied (see ws-server.ts)');
  receiver._maxPayload = bytes;
}

/** ws as a Transport. Passing a Buffer with binary:false sends it as a text frame without the
 * per-socket string-to-bytes conversion, which is what makes fan-out serialize once. */
class WsTransport implements Transport {
  constructor(readonly ws: WebSocket) {}

  send(frame: Buffer | string): void {
    if (this.ws.readyState !== 1) return;
    const socket = socketOf(this.ws);
    if (socket && socket.writableCorked === 0) {
      socket.cork();
      if (corked.push(socket) === 1) process.nextTick(uncorkAll);
    }
    this.ws.send(frame, TEXT);
  }

  close(code: number, reason: string): void {
    this.ws.close(code, closeReason(reason));
    if (ABUSE_CLOSES.has(code)) stopReading(this.ws);
    else setTimeout(() => this.ws.terminate(), CLOSE_TIMEOUT_MS).unref();
  }

  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  limitFrames(bytes: number): void {
    setMaxPayload(this.ws, bytes);
  }

  ping(): void {
    if (this.ws.readyState === 1) this.ws.ping();
  }
}

/** Attaches the WebSocket endpoint to an HTTP server: admits each socket (per-address and node
 * caps, request deadline) and decides each upgrade before accepting it. */
export function attachWebSockets(server: Server, gateway: Gateway, maxFrameBytes: number, admission: Admission, proxies: TrustedProxies): WebSocketServer {
  tooBig = `frame too big: at most ${gateway.limits.preAuthFrameBytes} bytes before connect succeeds, ${maxFrameBytes} after`;
  // clientTracking off: the gateway tracks sessions; a second Set per socket is memory for nothing.
  const wss = new WebSocketServer({ noServer: true, maxPayload: maxFrameBytes, perMessageDeflate: false, clientTracking: false });
  server.on('connection', (socket: Socket) => admission.onSocket(socket));
  server.on('request', (req: IncomingMessage) => admission.onRequest(req.socket));
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    // A module-level listener: a closure here would share this handler's context and keep the
    // upgrade request, its headers and `head` alive as long as the connection (1.5 KiB each).
    socket.on('error', destroySelf);
    admission.settle(socket as Socket);
    const address = proxies.clientAddress(req.socket.remoteAddress, req.headers['x-forwarded-for']);
    gateway.accept({ url: req.url, headers: req.headers, address }).then(
      (decision) => {
        if (!decision.ok) {
          refuse(socket, decision.status, decision.message);
          return;
        }
        if (!socket.writable) {
          // Gone while the token was verified: handleUpgrade would never call back.
          decision.abandon();
          socket.destroy();
          return;
        }
        let opened = false;
        wss.handleUpgrade(req, socket, head, (ws) => {
          opened = true;
          const session = decision.open(new WsTransport(ws));
          wire(ws, session, gateway);
        });
        // Without a verifyClient ws completes (or aborts: a bad key, a dead socket) synchronously.
        if (!opened) decision.abandon();
      },
      (err: unknown) => {
        gateway.log.error({ err }, 'upgrade failed');
        refuse(socket, 500, 'internal error');
      },
    );
  });
  return wss;
}

function destroySelf(this: Duplex): void {
  this.destroy();
}

/** ws closes a connection whose frame is over the size limit with 1009 and no reason; the client
 * is told which limit it hit. Set on each server socket (a method, not a closure: no allocation). */
const wsClose = WebSocket.prototype.close;
let tooBig = 'frame too big';
function closeWithReason(this: WebSocket, code?: number, reason?: string | Buffer): void {
  wsClose.call(this, code, reason ?? (code === 1009 ? tooBig : undefined));
}

function wire(ws: WebSocket, session: Session, gateway: Gateway): void {
  ws.close = closeWithReason;
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (isBinary) gateway.onBinary(session);
    else gateway.onText(session, data.toString('utf8'));
  });
  ws.on('close', () => gateway.onClosed(session));
  // The answer to a WebSocket-level ping (the heartbeat of Channels-style connections).
  ws.on('pong', () => gateway.onPong(session));
  // ws reports oversize frames (it closes with 1009 itself) and protocol errors here; without a
  // listener they would crash the process.
  ws.on('error', (err: Error & { code?: string }) => {
    gateway.log.debug({ err, session: session.id }, 'websocket error');
    // A frame over the size limit or broken framing: ws has queued its close (1009, 1002); the
    // node stops reading whatever else the client sends.
    if (err.code?.startsWith('WS_ERR_')) {
      gateway.metrics.closes.inc({ code: err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? '1009' : '1002' });
      stopReading(ws);
    }
  });
}

function refuse(socket: Duplex, status: number, message: string): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const code = status === 400 ? 'bad_request' : status === 403 ? 'origin_not_allowed' : status === 404 ? 'not_found' : status === 429 ? 'too_many_connections' : status === 503 ? 'unavailable' : 'internal';
  const body = JSON.stringify({ error: { code, message } });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}
