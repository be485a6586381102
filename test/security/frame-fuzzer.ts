/**
 * A seeded generator of hostile client frames for fuzz.test.ts. It starts from a valid request of
 * every op and mutates it: wrong types, missing and extra fields, ids that are negative,
 * fractional, huge or not numbers, unknown ops, long strings, unicode with lone surrogates and NUL,
 * nesting up to ~2,000 levels in `data`, in other fields and around the frame itself, channel
 * names at and past the limits, odd positions and limits; then, for some frames, the text itself:
 * truncated, broken, wrapped, duplicated keys, other spellings of the id.
 *
 * Each frame says what the server owes it, from the JSON the server will read: a frame whose
 * parsed `id` is a non-negative safe integer is owed exactly one reply with that id (ok or error);
 * others, and frames nested past the server's bound (not parsed), at most an `{"op":"error"}` frame. Ids are unique across the stream, so every reply can be
 * tied to one frame.
 */

import { defaultLimits } from '../../src/core/config.js';
import { jsonTooDeep } from '../../src/core/util/json-depth.js';

export type Random = () => number;

/** mulberry32: a tiny, fast, well-mixed 32-bit PRNG; the same seed gives the same stream. */
export function mulberry32(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const FUZZ_OPS = ['connect', 'subscribe', 'unsubscribe', 'publish', 'presence', 'history', 'refresh', 'ping', 'pong'] as const;

export interface FuzzFrame {
  text: string;
  /** The id a reply must carry, or null when the frame has no usable id. */
  id: number | null;
  /** A pong with a usable id: the heartbeat answer gets no reply, so zero or one is accepted. */
  replyOptional: boolean;
  /** What was done to the frame, for failure messages. */
  mutations: string[];
}

/** What the server owes a frame, from the JSON it parses (`JSON.parse`, last duplicate key wins).
 * A frame nested deeper than the server's bound is not parsed at all: it is owed an error frame,
 * whatever id it carries. */
export function owedReply(text: string): { id: number | null; pong: boolean } {
  if (jsonTooDeep(text, defaultLimits.maxJsonDepth)) return { id: null, pong: false };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { id: null, pong: false };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return { id: null, pong: false };
  const { id, op } = parsed as { id?: unknown; op?: unknown };
  const usable = typeof id === 'number' && Number.isSafeInteger(id) && id >= 0;
  return { id: usable ? id : null, pong: op === 'pong' };
}

export interface FuzzerOptions {
  /** Tokens `connect` and `refresh` may carry: valid ones for the connected user, others, junk. */
  tokens: string[];
  /** Frames stay at or under this many UTF-8 bytes (under the node's frame limit). */
  maxBytes: number;
  /** The text the server will read for a generated text: identity in-process; over a real socket,
   * a lone surrogate goes out as U+FFFD. */
  wire?: (text: string) => string;
}

const PLAIN_CHANNELS = ['room:a', 'room:b', 'room:c', 'tiny:t', 'nohist:n', 'locked:l', 'public:p', 'chat:c', 'user:fuzzer', 'user:someone', 'tenant:t1', 'tenant:t2', 'admin:x', 'nosuch:x', 'room'];
const KEY_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.@=#/,';
const ODD_BITS = ['é', 'ß', '中文', '🙂', '\u202e', '\ufeff', '\u0000', '\ud800', '\udc00', '\ud83d', 'ﬃ', '\u2028', '\u2029', '"', '\\', '\n', '\t', '\u0001', '\u007f', 'İ', '{', '}', '[', ']', ':', ','];
const ODD_OPS = ['', 'PING', 'ping ', ' ping', 'Subscribe', 'nope', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'reply', 'welcome', 'message', 'error', 'pong', 'connect\u0000', 'pïng', '🙂'];
const EXTRA_KEYS = ['extra', 'x', '', 'op ', 'ID', 'Id', 'constructor', 'toString', 'prototype', 'then', 'data', 'since', 'token', 'channel', 'limit', '🙂', '\u0000', 'a'.repeat(300)];

export class FrameFuzzer {
  readonly #random: Random;
  readonly #options: FuzzerOptions;
  readonly #wire: (text: string) => string;
  #nextId = 1;
  /** Ids handed out or owed a reply: freshId never returns one of them. */
  readonly #used = new Set<number>();
  /** Ids a frame of the stream is owed a reply with. */
  readonly #owed = new Set<number>();
  readonly #epochs: string[] = [];
  /** Frames generated, by the mutation that made them. */
  readonly counts = new Map<string, number>();

  constructor(seed: number, options: FuzzerOptions) {
    this.#random = mulberry32(seed);
    this.#options = options;
    this.#wire = options.wire ?? ((text) => text);
  }

  /** An id no frame of this stream has used (for the test's own requests too). */
  freshId(): number {
    while (this.#used.has(this.#nextId)) this.#nextId++;
    this.#used.add(this.#nextId);
    return this.#nextId++;
  }

  /** Learns epochs from replies, so some positions name a real one (recovery paths, not only refusals). */
  observe(frame: { op?: unknown; result?: unknown }): void {
    const epoch = (frame.result as { epoch?: unknown } | undefined)?.epoch;
    if (frame.op === 'reply' && typeof epoch === 'string' && !this.#epochs.includes(epoch) && this.#epochs.length < 16) this.#epochs.push(epoch);
  }

  next(): FuzzFrame {
    for (;;) {
      const mutations: string[] = [];
      const text = this.#generate(mutations);
      const wire = this.#wire(text);
      if (Buffer.byteLength(wire) > this.#options.maxBytes) continue;
      const owed = owedReply(wire);
      // A text mutation may have turned the id into one another frame is owed: replies could not be
      // told apart, so that frame is not sent.
      if (owed.id !== null && this.#owed.has(owed.id)) continue;
      if (owed.id !== null) {
        this.#owed.add(owed.id);
        this.#used.add(owed.id);
      }
      for (const m of mutations.length ? mutations : ['valid']) this.counts.set(m, (this.counts.get(m) ?? 0) + 1);
      return { text, id: owed.id, replyOptional: owed.pong, mutations };
    }
  }

  // ----- Generation

  #generate(mutations: string[]): string {
    const op = this.#pick(FUZZ_OPS);
    const frame = this.#valid(op);
    const roll = this.#random();
    if (roll < 0.2) return JSON.stringify(frame); // valid requests keep the real paths busy
    const steps = 1 + this.#int(3);
    for (let i = 0; i < steps; i++) this.#mutateObject(frame, mutations);
    let text = JSON.stringify(frame);
    if (roll > 0.8) text = this.#mutateText(text, mutations);
    return text;
  }

  #valid(op: (typeof FUZZ_OPS)[number]): Record<string, unknown> {
    const id = this.#id();
    switch (op) {
      case 'connect':
        return this.#chance(0.5) ? { op, id } : { op, id, token: this.#pick(this.#options.tokens) };
      case 'subscribe':
        return this.#chance(0.3) ? { op, id, channel: this.#channel(), since: this.#position() } : { op, id, channel: this.#channel() };
      case 'unsubscribe':
      case 'presence':
        return { op, id, channel: this.#channel() };
      case 'publish':
        return { op, id, channel: this.#channel(), event: this.#chance(0.9) ? 'e' : this.#event(), data: this.#value(3) };
      case 'history': {
        const frame: Record<string, unknown> = { op, id, channel: this.#channel() };
        if (this.#chance(0.4)) frame.since = this.#position();
        if (this.#chance(0.4)) frame.limit = this.#pick([0, 1, 10, 100, 1000]);
        return frame;
      }
      case 'refresh':
        return { op, id, token: this.#pick(this.#options.tokens) };
      case 'ping':
        return { op, id };
      case 'pong':
        return { op };
    }
  }

  #mutateObject(frame: Record<string, unknown>, mutations: string[]): void {
    const keys = Object.keys(frame);
    const kinds = ['wrong-type', 'missing-field', 'extra-field', 'id', 'unknown-op', 'long-string', 'odd-string', 'deep', 'channel-edge', 'position', 'limit', 'event'] as const;
    const kind = this.#pick(kinds);
    mutations.push(kind);
    switch (kind) {
      case 'wrong-type':
        frame[this.#pick(keys.length ? keys : ['op'])] = this.#weird();
        break;
      case 'missing-field':
        if (keys.length) delete frame[this.#pick(keys)];
        break;
      case 'extra-field':
        frame[this.#pick(EXTRA_KEYS)] = this.#value(2);
        break;
      case 'id':
        frame.id = this.#oddId();
        break;
      case 'unknown-op':
        frame.op = this.#chance(0.7) ? this.#pick(ODD_OPS) : this.#string(this.#int(100));
        break;
      case 'long-string':
        frame[this.#pick(['channel', 'event', 'token', 'op', 'data', 'extra'])] = this.#longString();
        break;
      case 'odd-string':
        frame[this.#pick(['channel', 'event', 'token', 'op', 'data'])] = this.#oddString(1 + this.#int(40));
        break;
      case 'deep': {
        const depth = this.#chance(0.3) ? 1900 + this.#int(101) : 1 + this.#int(200);
        frame[this.#pick(['data', 'data', 'since', 'channel', 'extra', 'id', 'op'])] = this.#deep(depth);
        break;
      }
      case 'channel-edge':
        frame.channel = this.#edgeChannel();
        break;
      case 'position':
        frame.since = this.#oddPosition();
        break;
      case 'limit':
        frame.limit = this.#pick([-1, 1001, 1.5, 1e308, -0, '10', null, true, [], {}, 2 ** 53, 1000, 0]);
        break;
      case 'event':
        frame.event = this.#event();
        break;
    }
  }

  #mutateText(text: string, mutations: string[]): string {
    const kinds = ['truncate', 'insert-char', 'delete-char', 'top-level', 'wrap-deep', 'garbage', 'raw-nul', 'duplicate-id', 'id-spelling', 'proto-key', 'padding'] as const;
    const kind = this.#pick(kinds);
    mutations.push(kind);
    switch (kind) {
      case 'truncate':
        return text.slice(0, this.#int(text.length));
      case 'insert-char': {
        const at = this.#int(text.length + 1);
        return text.slice(0, at) + this.#pick([...ODD_BITS, ',', '}', ']', '"', "'", ' ', '0', '-', 'e', '.']) + text.slice(at);
      }
      case 'delete-char': {
        const at = this.#int(text.length);
        return text.slice(0, at) + text.slice(at + 1);
      }
      case 'top-level':
        return this.#pick([`[${text}]`, '[]', '{}', 'null', 'true', '0', '-1', '1e999', '"ping"', JSON.stringify(text), `[${text},${text}]`, '[{"op":"ping","id":1}]']);
      case 'wrap-deep': {
        const depth = this.#chance(0.5) ? 1900 + this.#int(101) : 1 + this.#int(100);
        return this.#chance(0.5) ? '['.repeat(depth) + text + ']'.repeat(depth) : '{"a":'.repeat(depth) + text + '}'.repeat(depth);
      }
      case 'garbage':
        return this.#pick(['', ' ', '\n', 'undefined', 'NaN', "{'op':'ping','id':1}", '{op:"ping",id:1}', '{"op":"ping","id":1,}', '{"op":"ping" "id":1}', '/* c */{"op":"ping","id":1}', '\u0000', '{"op":"ping","id":1}{"op":"ping","id":2}', this.#oddString(30)]);
      case 'raw-nul': {
        const at = text.indexOf('"', 1);
        return at < 0 ? `${text}\u0000` : `${text.slice(0, at + 1)}\u0000${text.slice(at + 1)}`;
      }
      case 'duplicate-id':
        // JSON.parse keeps the last: `{"id":A, … "id":B}` is owed a reply with B, never one with A.
        return text.startsWith('{') && text.length > 2 ? `{"id":${this.freshId()},${text.slice(1)}` : text;
      case 'id-spelling':
        return text.replace(/"id":(\d+)/, (_whole, n: string) => `"id":${this.#pick([`${n}.0`, `${n}e0`, `${n}.000`, ` ${n} `, `${n}E+0`, `${Number(n) * 10}e-1`])}`);
      case 'proto-key':
        return text.startsWith('{') && text.length > 2 ? `{"__proto__":{"id":${this.freshId()},"op":"ping"},${text.slice(1)}` : text;
      case 'padding':
        return this.#pick(['\ufeff', ' \t\r\n', '\n'.repeat(100)]) + text + this.#pick(['', ' ', '\n', '\u0000', 'x']);
    }
  }

  // ----- Values

  #id(): number {
    return this.freshId();
  }

  #oddId(): unknown {
    const fresh = this.freshId();
    const choice = this.#int(14);
    switch (choice) {
      case 0:
        return -fresh;
      case 1:
        return fresh + 0.5;
      case 2:
        return 2 ** 53;
      case 3:
        return 2 ** 53 + 2;
      case 4:
        return 1e21;
      case 5:
        return String(fresh);
      case 6:
        return null;
      case 7:
        return true;
      case 8:
        return [fresh];
      case 9:
        return { id: fresh };
      case 10:
        return -1e308;
      case 11: {
        // Usable, near the top of the range; unique because fresh ids stay far below it.
        const high = Number.MAX_SAFE_INTEGER - fresh;
        this.#used.add(high);
        return high;
      }
      case 12:
        return this.#deep(1 + this.#int(50));
      default:
        return fresh; // a usable id after all
    }
  }

  #channel(): string {
    return this.#chance(0.85) ? this.#pick(PLAIN_CHANNELS) : this.#edgeChannel();
  }

  /** Channel names at and just past each limit (namespace 32, key 200, total 233, schema 1024). */
  #edgeChannel(): string {
    const key = (n: number) => Array.from({ length: n }, () => KEY_CHARS[this.#int(KEY_CHARS.length)]).join('');
    return this.#pick([
      `room:${key(200)}`,
      `room:${key(201)}`,
      `${'a'.repeat(32)}:x`,
      `${'a'.repeat(33)}:x`,
      `${'a'.repeat(32)}:${key(200)}`,
      `room:${key(1019)}`,
      `room:${key(1020)}`,
      '',
      ':',
      'room:',
      'room::x',
      'Room:x',
      '1room:x',
      'room:a b',
      'room:\u0000',
      'room:é',
      'room:🙂',
      'room:\ud800',
      `room:${key(10)}`,
      'room:../../etc',
      'room:%00',
    ]);
  }

  #position(): unknown {
    const epoch = this.#epochs.length > 0 && this.#chance(0.6) ? this.#pick(this.#epochs) : this.#string(1 + this.#int(10));
    return { epoch, offset: this.#pick([0, 1, 2, 5, 49, 50, 51, 100]) };
  }

  #oddPosition(): unknown {
    const epoch = this.#epochs.length > 0 && this.#chance(0.5) ? this.#pick(this.#epochs) : 'x';
    return this.#pick([
      { epoch, offset: -1 },
      { epoch, offset: 1.5 },
      { epoch, offset: 2 ** 53 },
      { epoch, offset: 1e308 },
      { epoch, offset: '3' },
      { epoch, offset: -0 },
      { epoch: '', offset: 0 },
      { epoch: 'e'.repeat(128), offset: 0 },
      { epoch: 'e'.repeat(129), offset: 0 },
      { epoch: 5, offset: 0 },
      { epoch: '\ud800\u0000', offset: 1 },
      { epoch },
      { offset: 1 },
      {},
      [],
      [epoch, 1],
      'x',
      null,
      0,
    ]);
  }

  #event(): unknown {
    return this.#pick(['e', 'a'.repeat(64), 'a'.repeat(65), '', 'a b', 'é', 'a\u0000', 'ok.name:x-y_z', '🙂', 5, null, ['e']]);
  }

  /** A random JSON value, nesting at most `depth`. */
  #value(depth: number): unknown {
    const choice = this.#int(depth > 0 ? 10 : 7);
    switch (choice) {
      case 0:
        return this.#int(1000);
      case 1:
        return this.#pick([-0, -1, 0.1, 1e308, -1e308, 2 ** 53, 2 ** 53 + 2, 5e-324, 123456789.123456789]);
      case 2:
        return this.#string(this.#int(20));
      case 3:
        return this.#oddString(this.#int(20));
      case 4:
        return this.#pick([true, false, null]);
      case 5:
        return this.#chance(0.02) ? this.#longString() : this.#string(this.#int(200));
      case 6:
        return this.#chance(0.1) ? this.#deep(1 + this.#int(2000)) : {};
      case 7:
        return Array.from({ length: this.#int(5) }, () => this.#value(depth - 1));
      default:
        return Object.fromEntries(Array.from({ length: this.#int(5) }, () => [this.#chance(0.2) ? this.#oddString(3) : this.#string(1 + this.#int(8)), this.#value(depth - 1)]));
    }
  }

  #weird(): unknown {
    return this.#pick([null, true, false, 0, -1, 1.5, 1e308, -1e308, '', 'x', [], {}, [1, 2], { a: 1 }, -0, 2 ** 53, '1', this.#oddString(5), this.#deep(30)]);
  }

  /** Nesting `depth` levels deep, arrays and objects mixed. */
  #deep(depth: number): unknown {
    let value: unknown = this.#pick([1, 'x', null, [], {}]);
    const arrays = this.#chance(0.5);
    for (let i = 0; i < depth; i++) value = arrays || this.#chance(0.2) ? [value] : { [this.#pick(['a', 'id', 'op', 'data'])]: value };
    return value;
  }

  #string(length: number): string {
    let s = '';
    for (let i = 0; i < length; i++) s += KEY_CHARS[this.#int(KEY_CHARS.length)];
    return s;
  }

  #oddString(parts: number): string {
    let s = '';
    for (let i = 0; i < parts; i++) s += this.#chance(0.5) ? this.#pick(ODD_BITS) : this.#string(1 + this.#int(4));
    return s;
  }

  /** 1,000 to 50,000 characters (multi-byte ones fewer, to stay under the frame limit). */
  #longString(): string {
    const length = 1000 + this.#int(49_000);
    if (this.#chance(0.7)) return 'x'.repeat(length);
    const bit = this.#pick(['é', '中', '🙂', '\ud800', '\u0000', '"', '\\']);
    return bit.repeat(Math.floor(length / 6));
  }

  #int(n: number): number {
    return Math.floor(this.#random() * n);
  }

  #chance(p: number): boolean {
    return this.#random() < p;
  }

  #pick<T>(items: readonly T[]): T {
    return items[this.#int(items.length)]!;
  }
}
