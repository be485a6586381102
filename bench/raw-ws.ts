/**
 * A WebSocket client written by hand over `net`, for the abuse bench: it needs what `ws` hides.
 * - The upgrade is a handwritten GET, so the answer's status is seen even when it is not 101.
 * - Frames are built here, masked (a zero key on request: the masked bytes are then the payload,
 *   so one prebuilt buffer of many frames can be written to many sockets).
 * - Reading is a streaming frame parser that keeps small text and close frames and counts the
 *   bytes of the others without holding them: draining a socket the server stuffed with hundreds
 *   of MiB costs the bench nothing but the copy.
 * - `pause()` stops reading at the socket, so the server's writes pile up in its own memory.
 */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

const EMPTY: Buffer = Buffer.alloc(0);
const ZERO_MASK = Buffer.alloc(4);

/** One client-to-server frame (FIN set), masked; `zeroMask` keeps the payload bytes as they are. */
export function clientFrame(payload: Buffer | string, options: { opcode?: number; zeroMask?: boolean } = {}): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const len = data.length;
  const extra = len < 126 ? 0 : len < 65_536 ? 2 : 8;
  const out = Buffer.allocUnsafe(2 + extra + 4 + len);
  out[0] = 0x80 | (options.opcode ?? 1);
  if (len < 126) out[1] = 0x80 | len;
  else if (len < 65_536) {
    out[1] = 0x80 | 126;
    out.writeUInt16BE(len, 2);
  } else {
    out[1] = 0x80 | 127;
    out.writeBigUInt64BE(BigInt(len), 2);
  }
  const mask = options.zeroMask ? ZERO_MASK : randomBytes(4);
  const at = 2 + extra;
  mask.copy(out, at);
  if (options.zeroMask) data.copy(out, at + 4);
  else for (let i = 0; i < len; i++) out[at + 4 + i] = data[i]! ^ mask[i & 3]!;
  return out;
}

interface Header {
  opcode: number;
  length: number;
  mask: Buffer | null;
  size: number;
}

function parseHeader(buf: Buffer, pos: number): Header | null {
  if (buf.length - pos < 2) return null;
  const b0 = buf[pos]!;
  const b1 = buf[pos + 1]!;
  let length = b1 & 0x7f;
  let size = 2;
  if (length === 126) {
    if (buf.length - pos < 4) return null;
    length = buf.readUInt16BE(pos + 2);
    size = 4;
  } else if (length === 127) {
    if (buf.length - pos < 10) return null;
    length = Number(buf.readBigUInt64BE(pos + 2));
    size = 10;
  }
  let mask: Buffer | null = null;
  if (b1 & 0x80) {
    if (buf.length - pos < size + 4) return null;
    mask = Buffer.from(buf.subarray(pos + size, pos + size + 4));
    size += 4;
  }
  return { opcode: b0 & 0x0f, length, mask, size };
}

/** Server-to-client frames, parsed as bytes arrive. Text frames up to `maxKeep` bytes and close
 * frames are kept and handed over; larger frames are only counted. */
export class FrameReader {
  bytes = 0;
  frames = 0;
  /** Frames over `maxKeep`, counted and dropped. */
  skipped = 0;
  skippedBytes = 0;
  #head = EMPTY;
  #inFrame = false;
  #opcode = 0;
  #remaining = 0;
  #mask: Buffer | null = null;
  #keep: Buffer[] | null = null;
  #length = 0;

  constructor(
    readonly maxKeep: number,
    readonly onText: (text: string) => void,
    readonly onClose: (code: number, reason: string) => void,
  ) {}

  push(chunk: Buffer): void {
    this.bytes += chunk.length;
    const data = this.#head.length > 0 ? Buffer.concat([this.#head, chunk]) : chunk;
    this.#head = EMPTY;
    let pos = 0;
    while (pos < data.length) {
      if (!this.#inFrame) {
        const h = parseHeader(data, pos);
        if (!h) {
          this.#head = Buffer.from(data.subarray(pos));
          return;
        }
        pos += h.size;
        this.#inFrame = true;
        this.#opcode = h.opcode;
        this.#remaining = h.length;
        this.#length = h.length;
        this.#mask = h.mask;
        this.#keep = (h.opcode === 1 || h.opcode === 8 || h.opcode === 0) && h.length <= this.maxKeep ? [] : null;
        if (h.length === 0) {
          this.#finish();
          continue;
        }
      }
      const take = Math.min(this.#remaining, data.length - pos);
      if (this.#keep) this.#keep.push(Buffer.from(data.subarray(pos, pos + take)));
      pos += take;
      this.#remaining -= take;
      if (this.#remaining === 0) this.#finish();
    }
  }

  #finish(): void {
    this.#inFrame = false;
    this.frames += 1;
    const keep = this.#keep;
    this.#keep = null;
    if (!keep) {
      this.skipped += 1;
      this.skippedBytes += this.#length;
      return;
    }
    const payload = Buffer.concat(keep);
    if (this.#mask) for (let i = 0; i < payload.length; i++) payload[i] = payload[i]! ^ this.#mask[i & 3]!;
    if (this.#opcode === 8) this.onClose(payload.length >= 2 ? payload.readUInt16BE(0) : 1005, payload.subarray(2).toString('utf8'));
    else if (this.#opcode === 1) this.onText(payload.toString('utf8'));
  }
}

export interface RawWsOptions {
  port: number;
  path?: string;
  /** Bound on TCP connect + the upgrade answer. */
  timeoutMs: number;
  /** Text frames larger than this are counted, not kept. */
  maxKeep?: number;
  /** The local address to connect from (any of 127.0.0.0/8 on Linux): an attacker is not the health checker. */
  localAddress?: string;
}

type Reply = { op: string; id?: number; ok?: boolean; error?: { code?: string }; result?: unknown };

/** A connection after the upgrade answer. `status` is that answer's HTTP status (101 = open). */
export class RawWs {
  status = 0;
  /** The first line of a refused upgrade's answer. */
  refusal = '';
  /** Close frame from the server, if one was read. */
  closeCode: number | null = null;
  closeReason = '';
  /** performance.now() when the server's close frame was read / the socket ended (FIN) / closed. */
  closeFrameAt: number | null = null;
  endedAt: number | null = null;
  closedAt: number | null = null;
  error: string | null = null;
  /** Text frames kept, and error replies by code. */
  texts = 0;
  errors: Record<string, number> = {};
  readonly reader: FrameReader;
  readonly openedAt = performance.now();
  #waiting = new Map<number, (r: Reply) => void>();
  #closed: Promise<void>;

  constructor(
    readonly socket: Socket,
    maxKeep: number,
  ) {
    this.reader = new FrameReader(
      maxKeep,
      (text) => this.#onText(text),
      (code, reason) => {
        if (this.closeCode === null) {
          this.closeCode = code;
          this.closeReason = reason;
          this.closeFrameAt = performance.now();
        }
      },
    );
    this.#closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('end', () => {
      this.endedAt ??= performance.now();
    });
    socket.on('close', () => {
      this.closedAt ??= performance.now();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.error ??= err.code ?? err.message;
    });
  }

  get open(): boolean {
    return this.closedAt === null && !this.socket.destroyed;
  }

  #onText(text: string): void {
    this.texts += 1;
    let frame: Reply;
    try {
      frame = JSON.parse(text) as Reply;
    } catch {
      return;
    }
    if (frame.op === 'ping') {
      this.send('{"op":"pong"}');
      return;
    }
    const code = frame.error?.code;
    if (code) this.errors[code] = (this.errors[code] ?? 0) + 1;
    if (frame.op === 'reply' && typeof frame.id === 'number') {
      const waiting = this.#waiting.get(frame.id);
      if (waiting) {
        this.#waiting.delete(frame.id);
        waiting(frame);
      }
    }
  }

  send(text: string): boolean {
    if (!this.open) return false;
    return this.socket.write(clientFrame(text));
  }

  /** A request and its reply (bounded); rejects when the reply is an error or does not come. */
  call(frame: Record<string, unknown> & { id: number }, timeoutMs: number): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(frame.id);
        reject(new Error(`${String(frame.op)}: no reply within ${timeoutMs} ms${this.closeCode !== null ? ` (closed ${this.closeCode})` : ''}`));
      }, timeoutMs);
      this.#waiting.set(frame.id, (r) => {
        clearTimeout(timer);
        if (r.ok) resolve(r);
        else reject(new Error(`${String(frame.op)} refused: ${r.error?.code ?? 'unknown'}`));
      });
      if (!this.send(JSON.stringify(frame))) {
        clearTimeout(timer);
        this.#waiting.delete(frame.id);
        reject(new Error(`${String(frame.op)}: the connection is closed (${this.closeCode ?? this.error ?? 'no close frame'})`));
      }
    });
  }

  /** Stop reading: whatever the server writes from now on stays in its memory and the kernel. */
  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  /** Resolves when the socket has closed, or after `ms` (false then). */
  async waitClosed(ms: number): Promise<boolean> {
    if (this.closedAt !== null) return true;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
    const result = await Promise.race([this.#closed.then(() => true), timeout]);
    clearTimeout(timer);
    return result;
  }

  /** Sends a close frame, waits up to `ms` for the server to finish, then destroys the socket. */
  async close(code = 1000, ms = 1000): Promise<void> {
    if (this.open) {
      const payload = Buffer.alloc(2);
      payload.writeUInt16BE(code, 0);
      this.socket.write(clientFrame(payload, { opcode: 8 }));
      this.socket.resume();
      await this.waitClosed(ms);
    }
    this.socket.destroy();
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Opens a TCP connection and sends a handwritten upgrade. Resolves once the answer's header is
 * in: `status` 101 and reading frames, or another status (the socket is then closed). Rejects on a
 * connection error or when `timeoutMs` passes. */
export function openRawWs(options: RawWsOptions): Promise<RawWs> {
  const path = options.path ?? '/ws';
  const key = randomBytes(16).toString('base64');
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: options.port, ...(options.localAddress ? { localAddress: options.localAddress } : {}) });
    socket.setNoDelay(true);
    const ws = new RawWs(socket, options.maxKeep ?? 64 * 1024);
    let header: Buffer = EMPTY;
    let settled = false;
    const timer = setTimeout(() => fail(new Error(`upgrade: no answer within ${options.timeoutMs} ms`)), options.timeoutMs);
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    const onData = (chunk: Buffer) => {
      header = header.length ? Buffer.concat([header, chunk]) : chunk;
      const end = header.indexOf('\r\n\r\n');
      if (end < 0) {
        if (header.length > 16 * 1024) fail(new Error('upgrade: answer header over 16 KiB'));
        return;
      }
      socket.off('data', onData);
      const firstLine = header.subarray(0, header.indexOf('\r\n')).toString('latin1');
      ws.status = Number(/^HTTP\/1\.1 (\d{3})/.exec(firstLine)?.[1] ?? 0);
      settled = true;
      clearTimeout(timer);
      if (ws.status !== 101) {
        ws.refusal = firstLine;
        socket.destroy();
        resolve(ws);
        return;
      }
      socket.on('data', (c: Buffer) => ws.reader.push(c));
      const rest = header.subarray(end + 4);
      if (rest.length > 0) ws.reader.push(rest);
      resolve(ws);
    };
    socket.on('data', onData);
    socket.once('error', (err) => fail(err));
    socket.once('close', () => fail(new Error('upgrade: the connection closed before an answer')));
    socket.once('connect', () => {
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${options.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
  });
}
