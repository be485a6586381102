import { randomBytes } from 'node:crypto';
import {
  LayerUnavailableError,
  idempotencyTtlMs,
  publicationChars,
  type ChannelLayer,
  type HistoryOptions,
  type HistoryPage,
  type LayerHandlers,
  type PresenceEvent,
  type Publication,
  type PublishOptions,
  type StreamPosition,
} from './channel-layer.js';

export interface MemoryLayerOptions {
  /** A channel with no publications and no activity for this long is forgotten (its epoch too). */
  streamMetaTtlMs?: number;
  /** How often expired history and idle streams are swept. */
  sweepIntervalMs?: number;
  /** Clock, for tests of age limits. */
  now?: () => number;
  /** Node-wide bound on retained history, in characters of publication data. Per-channel limits
   * alone let a client that may publish to many channels (e.g. `chat:*`) hold memory without
   * bound; past this budget the oldest publications of any channel go first. */
  maxHistoryChars?: number;
}

interface StoredPublication {
  pub: Publication;
  expiresAt: number;
  /** Set once the entry left its stream's history (size, age, budget or sweep). */
  dropped: boolean;
}

/** Every stored publication in the order it was stored, for the node-wide budget. */
interface BudgetEntry {
  stream: Stream;
  stored: StoredPublication;
}

interface Stream {
  epoch: string;
  top: number;
  /** Oldest first; `head` is the index of the first live entry (a cheap deque). */
  entries: StoredPublication[];
  head: number;
  touchedAt: number;
  /** Idempotency keys seen, in the order they were first used; made on first use. */
  keys: Map<string, { offset: number; expiresAt: number }> | null;
}

/**
 * The single-process channel layer: history and fan-out in this process's memory.
 *
 * Epochs: one random id per layer instance plus a generation that rises whenever the sweeper drops
 * a stream that had publications. A restart changes every epoch (clients are told to refetch); a
 * dropped stream comes back under a new generation, so a position from before never matches. Reads
 * of a channel that was never published to answer `{epoch: current, offset: 0}` without storing
 * anything, so clients cannot grow this map by asking about channels.
 */
export class MemoryLayer implements ChannelLayer {
  #streams = new Map<string, Stream>();
  readonly #instance = randomBytes(6).toString('base64url');
  #generation = 0;
  #subscribed = new Set<string>();
  #handlers: LayerHandlers | null = null;
  #closed = false;
  #sweeper: NodeJS.Timeout;
  #metaTtlMs: number;
  #now: () => number;
  #maxChars: number;
  #chars = 0;
  #order: BudgetEntry[] = [];
  #orderHead = 0;
  /** Entries of #order still in history. */
  #retained = 0;

  constructor(options: MemoryLayerOptions = {}) {
    this.#metaTtlMs = options.streamMetaTtlMs ?? 24 * 3600_000;
    this.#maxChars = options.maxHistoryChars ?? 256 * 1024 * 1024;
    this.#now = options.now ?? Date.now;
    this.#sweeper = setInterval(() => this.#sweep(), options.sweepIntervalMs ?? 60_000);
    this.#sweeper.unref();
  }

  async start(handlers: LayerHandlers): Promise<void> {
    this.#handlers = handlers;
  }

  async publish(channel: string, event: string, json: string, options: PublishOptions): Promise<StreamPosition> {
    this.#checkOpen();
    const now = this.#now();
    const stream = this.#stream(channel, now);
    const key = options.idempotencyKey;
    if (key !== undefined) {
      pruneKeys(stream, now);
      const seen = stream.keys?.get(key);
      if (seen) return { epoch: stream.epoch, offset: seen.offset };
    }
    stream.top += 1;
    const pub: Publication = Object.freeze({ channel, event, json, epoch: stream.epoch, offset: stream.top, time: now });
    if (options.historySize > 0 && options.historyTtlMs > 0) {
      const stored: StoredPublication = { pub, expiresAt: now + options.historyTtlMs, dropped: false };
      stream.entries.push(stored);
      this.#order.push({ stream, stored });
      this.#retained += 1;
      this.#chars += json.length;
      const excess = stream.entries.length - stream.head - options.historySize;
      for (let i = 0; i < excess; i++) this.#dropHead(stream);
    }
    this.#prune(stream, now);
    this.#enforceBudget();
    if (key !== undefined) (stream.keys ??= new Map()).set(key, { offset: stream.top, expiresAt: now + idempotencyTtlMs(options) });
    if (this.#subscribed.has(channel)) this.#handlers?.publication(pub);
    return { epoch: stream.epoch, offset: stream.top };
  }

  async history(channel: string, options: HistoryOptions = {}): Promise<HistoryPage> {
    this.#checkOpen();
    const now = this.#now();
    const stream = this.#streams.get(channel) ?? { epoch: this.#epoch(), top: 0, entries: [], head: 0, touchedAt: now, keys: null };
    this.#prune(stream, now);
    const position = { epoch: stream.epoch, offset: stream.top };
    const { entries, head } = stream;
    const limit = Math.min(options.limit ?? Number.POSITIVE_INFINITY, entries.length - head);
    const { since } = options;
    // Only the returned range is copied: every subscribe reads the position with limit 0.
    const maxChars = options.maxChars ?? Number.POSITIVE_INFINITY;
    if (!since) {
      // The newest that fit, still oldest first.
      let from = entries.length;
      let chars = 0;
      while (from > entries.length - limit) {
        chars += publicationChars(entries[from - 1]!.pub);
        if (chars > maxChars && from < entries.length) break;
        from--;
      }
      return { publications: pubsIn(entries, from, entries.length), position, complete: true };
    }
    const oldest = entries[head]?.pub.offset ?? stream.top + 1;
    const reachable = since.epoch === stream.epoch && since.offset <= stream.top && since.offset + 1 >= oldest;
    if (!reachable) return { publications: [], position, complete: false };
    const start = firstAfter(entries, head, since.offset);
    const last = Math.min(entries.length, start + limit);
    let to = start;
    let chars = 0;
    while (to < last) {
      chars += publicationChars(entries[to]!.pub);
      if (chars > maxChars && to > start) break;
      to++;
    }
    return { publications: pubsIn(entries, start, to), position, complete: true };
  }

  async subscribe(channel: string): Promise<void> {
    this.#checkOpen();
    this.#subscribed.add(channel);
    // Pin the epoch its subscribers were told, so a sweep elsewhere cannot change it under them.
    this.#stream(channel, this.#now());
  }

  /** Streams held in memory (for tests and metrics). */
  get streamCount(): number {
    return this.#streams.size;
  }

  async unsubscribe(channel: string): Promise<void> {
    this.#subscribed.delete(channel);
  }

  async publishPresence(event: PresenceEvent): Promise<void> {
    this.#checkOpen();
    if (this.#subscribed.has(event.channel)) this.#handlers?.presence({ ...event });
  }

  ready(): boolean {
    return !this.#closed;
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#sweeper);
    this.#subscribed.clear();
  }

  #checkOpen(): void {
    if (this.#closed) throw new LayerUnavailableError('the memory layer is closed');
  }

  #stream(channel: string, now: number): Stream {
    let stream = this.#streams.get(channel);
    if (!stream) {
      stream = { epoch: this.#epoch(), top: 0, entries: [], head: 0, touchedAt: now, keys: null };
      this.#streams.set(channel, stream);
    }
    stream.touchedAt = now;
    return stream;
  }

  #epoch(): string {
    return `${this.#instance}.${this.#generation}`;
  }

  /** Retained history, in characters of data (for tests and metrics). */
  get historyChars(): number {
    return this.#chars;
  }

  /** Entries the budget's bookkeeping list holds in memory, consumed prefix included (for tests). */
  get budgetListLength(): number {
    return this.#order.length;
  }

  #dropHead(stream: Stream): void {
    const stored = stream.entries[stream.head];
    if (!stored) return;
    stored.dropped = true;
    this.#retained -= 1;
    this.#chars -= stored.pub.json.length;
    stream.head += 1;
  }

  /** Drops the oldest retained publications of any channel until the budget holds. The order list
   * is trimmed of entries that already left history on the way, so it stays as long as history. */
  #enforceBudget(): void {
    while (this.#orderHead < this.#order.length) {
      const oldest = this.#order[this.#orderHead]!;
      if (!oldest.stored.dropped) {
        if (this.#chars <= this.#maxChars) break;
        // Per stream, storage order is offset order: the oldest entry overall is its stream's head.
        this.#dropHead(oldest.stream);
      }
      this.#orderHead += 1;
    }
    // Entries dropped by per-channel limits can sit behind a long-lived oldest one: once they are
    // most of the list, filter them out (amortized O(1) per publication; the list stays < 2x history).
    const length = this.#order.length - this.#orderHead;
    if (length > 1024 && length > 2 * this.#retained) {
      this.#order = this.#order.slice(this.#orderHead).filter((e) => !e.stored.dropped);
      this.#orderHead = 0;
    } else if (this.#orderHead > 1024 && this.#orderHead * 2 > this.#order.length) {
      // The consumed prefix is still referenced by the array (and with it every publication that
      // ever left history): without this, a node leaked ~25 MB of heap per 10 minutes under a
      // steady 100 publications a second (bench:soak).
      this.#order = this.#order.slice(this.#orderHead);
      this.#orderHead = 0;
    }
  }

  #prune(stream: Stream, now: number): void {
    while (stream.head < stream.entries.length && stream.entries[stream.head]!.expiresAt <= now) this.#dropHead(stream);
    // Compact once the dead prefix dominates, so pruning stays O(1) amortized.
    if (stream.head > 32 && stream.head * 2 > stream.entries.length) {
      stream.entries = stream.entries.slice(stream.head);
      stream.head = 0;
    }
  }

  #sweep(): void {
    const now = this.#now();
    for (const [channel, stream] of this.#streams) {
      this.#prune(stream, now);
      pruneKeys(stream, now);
      if (this.#subscribed.has(channel) || stream.head < stream.entries.length) continue;
      // A stream that never had a publication holds nothing but the current epoch: drop it freely.
      if (stream.top === 0) this.#streams.delete(channel);
      else if (now - stream.touchedAt > this.#metaTtlMs) {
        this.#streams.delete(channel);
        this.#generation += 1;
      }
    }
    this.#enforceBudget();
  }
}

/** Forgets expired idempotency keys. Keys are in first-use order, which is expiry order while a
 * channel keeps one history TTL; a longer-lived key ahead only delays the others a little. */
function pruneKeys(stream: Stream, now: number): void {
  if (!stream.keys) return;
  for (const [key, seen] of stream.keys) {
    if (seen.expiresAt > now) break;
    stream.keys.delete(key);
  }
  if (stream.keys.size === 0) stream.keys = null;
}

function pubsIn(entries: StoredPublication[], from: number, to: number): Publication[] {
  const out: Publication[] = [];
  for (let i = from; i < to; i++) out.push(entries[i]!.pub);
  return out;
}

/** Index of the first entry (from `head`) whose offset is above `offset`; entries are in offset order. */
function firstAfter(entries: StoredPublication[], head: number, offset: number): number {
  let lo = head;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (entries[mid]!.pub.offset <= offset) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
