/**
 * The fan-out load process (forked by bench/fanout.ts, one per run). It opens N subscriber
 * connections and one publisher connection with the raw `ws` package, speaking the JSON protocol
 * (connect frame with a token, subscribe, publish), against either server. The work and the
 * bytes are identical for both targets.
 *
 * Every publication carries `{"s": seq, "t": sendTimeMs, "p": padding}` in its data. Subscribers
 * take latency as (receive time - t) on the same monotonic clock (publisher and subscribers share
 * this process), and count what they got per sequence number (loss and duplicates).
 *
 * Modes:
 * - `max`: windowed, closed loop. At most `window` publications are in flight, where in flight
 *   means published but not yet received by every live subscriber. This drives the server at
 *   saturation without letting queues grow without bound: the delivered rate is the throughput.
 * - `rate`: open loop at a fixed publication rate. `t` is the scheduled send time, so a late
 *   publisher (a busy load process) shows up as latency instead of hiding it.
 */
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import type { MessageFrame } from '@switchboard/client/protocol';
import { Histogram, mintToken, sleep, withTimeout, type HistogramJson } from './common.js';

export interface LoadConfig {
  url: string;
  subscribers: number;
  mode: 'max' | 'rate';
  /** Publications per second (rate mode). */
  rate: number;
  /** Publications in flight (max mode). */
  window: number;
  warmupMs: number;
  durationMs: number;
  drainMs: number;
  payloadBytes: number;
  channel: string;
  connectConcurrency: number;
  setupTimeoutMs: number;
  settleMs: number;
}

export interface LoadResult {
  subscribers: number;
  aliveAtEnd: number;
  closes: Record<string, number>;
  published: number;
  publishedInWindow: number;
  publishErrors: Record<string, number>;
  acks: number;
  expected: number;
  received: number;
  duplicates: number;
  lost: number;
  /** Subscribers that missed at least one publication. */
  subscribersWithLoss: number;
  /** Frames of op message whose JSON did not have the expected shape (checked on each subscriber's first). */
  shapeErrors: number;
  /** Deliveries counted inside the measured window, and the window's length. */
  windowDeliveries: number;
  windowMs: number;
  deliveredPerSecond: number;
  publicationsPerSecond: number;
  latency: HistogramJson;
  /** Max mode: times the window was force-advanced because nothing completed for a second. */
  stalls: number;
  /** Rate mode: the most publications the publisher was behind its schedule. */
  maxBehind: number;
  loadCpuMs: number;
  setupMs: number;
  frameBytes: number;
}

export type LoadMessage = { phase: 'ready'; setupMs: number } | { phase: 'measure-start' } | { phase: 'measure-end' } | { result: LoadResult } | { error: string };

/** The keys of Switchboard's message frame, in order; the baseline must produce the same. */
const MESSAGE_KEYS = ['op', 'channel', 'event', 'data', 'epoch', 'offset', 'time'] as const satisfies readonly (keyof MessageFrame)[];

const MESSAGE_PREFIX = Buffer.from('{"op":"message",');
const SEQ_MARK = Buffer.from('"data":{"s":');
const TIME_MARK_LEN = ',"t":'.length;
const COMMA = 0x2c;
const RING = 1 << 16;
const RING_MASK = RING - 1;

class Subscriber {
  ws!: WebSocket;
  /** Bit i set: seq i received. Grows on demand. */
  seen = new Uint8Array(1024);
  unique = 0;
  duplicates = 0;
  checkedShape = false;
  alive = false;
  closeCode = 0;
}

type Reply = { op: 'reply'; id: number; ok: boolean; error?: { code: string } };

function send(msg: LoadMessage): void {
  process.send?.(msg);
}

async function run(cfg: LoadConfig): Promise<LoadResult> {
  const setupStart = performance.now();
  const latency = new Histogram();
  const closes: Record<string, number> = {};
  const subs: Subscriber[] = [];
  let alive = 0;
  let shapeErrors = 0;
  let delivered = 0;

  // Publication bookkeeping shared by the subscribers and the publisher.
  let published = 0;
  let firstMeasuredSeq = Number.POSITIVE_INFINITY;
  let lastMeasuredSeq = Number.POSITIVE_INFINITY; // exclusive
  /** Max mode: deliveries per seq (ring) and the lowest seq not yet received by every live subscriber. */
  const counts = new Int32Array(RING);
  let lowest = 0;
  let lowestMovedAt = 0;
  let topUp: () => void = () => undefined;

  const advance = () => {
    while (lowest < published && counts[lowest & RING_MASK]! >= alive) {
      lowest += 1;
      lowestMovedAt = performance.now();
    }
  };

  const onMessage = (sub: Subscriber, buf: Buffer) => {
    if (buf.length > MESSAGE_PREFIX.length && buf.compare(MESSAGE_PREFIX, 0, MESSAGE_PREFIX.length, 0, MESSAGE_PREFIX.length) === 0) {
      const now = performance.now();
      const at = buf.indexOf(SEQ_MARK, MESSAGE_PREFIX.length);
      if (at < 0) {
        shapeErrors += 1;
        return;
      }
      let j = at + SEQ_MARK.length;
      let seq = 0;
      for (let c = buf[j]!; c >= 0x30 && c <= 0x39; c = buf[++j]!) seq = seq * 10 + (c - 0x30);
      j += TIME_MARK_LEN;
      const sentAt = Number(buf.toString('latin1', j, buf.indexOf(COMMA, j)));
      if (!sub.checkedShape) {
        sub.checkedShape = true;
        if (!hasMessageShape(buf, seq, sentAt)) shapeErrors += 1;
      }
      const byte = seq >> 3;
      if (byte >= sub.seen.length) {
        const grown = new Uint8Array(Math.max(sub.seen.length * 2, byte + 1024));
        grown.set(sub.seen);
        sub.seen = grown;
      }
      const bit = 1 << (seq & 7);
      if (sub.seen[byte]! & bit) {
        sub.duplicates += 1;
        return;
      }
      sub.seen[byte]! |= bit;
      sub.unique += 1;
      delivered += 1;
      if (seq >= firstMeasuredSeq && seq < lastMeasuredSeq) latency.record(now - sentAt);
      if (cfg.mode === 'max') {
        counts[seq & RING_MASK]! += 1;
        if (seq === lowest) {
          advance();
          topUp();
        }
      }
      return;
    }
    // Anything else is rare (replies, pings, presence join/leave): parse it properly.
    const frame = JSON.parse(buf.toString('utf8')) as { op: string };
    if (frame.op === 'ping') sub.ws.send('{"op":"pong"}');
  };

  // ----- subscribers
  const tokens = await Promise.all(Array.from({ length: cfg.subscribers }, (_, i) => mintToken(`sub-${i}`)));
  const openSubscriber = async (i: number): Promise<void> => {
    const sub = new Subscriber();
    subs.push(sub);
    // skipUTF8Validation: the client only reads ASCII fields it knows; this keeps the load process cheap for both targets.
    const ws = new WebSocket(cfg.url, { perMessageDeflate: false, skipUTF8Validation: true });
    sub.ws = ws;
    const replies = new Map<number, (r: Reply) => void>();
    let ready = false;
    ws.on('message', (data: Buffer) => {
      if (ready) return onMessage(sub, data);
      const frame = JSON.parse(data.toString('utf8')) as Reply | { op: string };
      if (frame.op === 'reply') replies.get((frame as Reply).id)?.((frame as Reply));
      else if (frame.op === 'ping') ws.send('{"op":"pong"}');
    });
    ws.on('error', () => undefined);
    ws.on('close', (code) => {
      if (sub.alive) {
        sub.alive = false;
        alive -= 1;
        if (cfg.mode === 'max') advance();
      }
      sub.closeCode = code;
      closes[String(code)] = (closes[String(code)] ?? 0) + 1;
    });
    const request = (id: number, body: string) =>
      new Promise<Reply>((resolve) => {
        replies.set(id, resolve);
        ws.send(body);
      });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
      ws.once('close', (code) => reject(new Error(`subscriber ${i} closed (${code}) while connecting`)));
    });
    const connected = await request(1, JSON.stringify({ op: 'connect', id: 1, token: tokens[i] }));
    if (!connected.ok) throw new Error(`subscriber ${i}: connect refused (${connected.error?.code})`);
    const subscribed = await request(2, JSON.stringify({ op: 'subscribe', id: 2, channel: cfg.channel }));
    if (!subscribed.ok) throw new Error(`subscriber ${i}: subscribe refused (${subscribed.error?.code})`);
    ready = true;
    sub.alive = true;
    alive += 1;
  };
  let next = 0;
  const worker = async () => {
    while (next < cfg.subscribers) await openSubscriber(next++);
  };
  await withTimeout(Promise.all(Array.from({ length: Math.min(cfg.connectConcurrency, cfg.subscribers) }, worker)), cfg.setupTimeoutMs, 'subscriber setup');

  // ----- publisher
  const pub = new WebSocket(cfg.url, { perMessageDeflate: false });
  pub.on('error', () => undefined);
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      pub.once('open', resolve);
      pub.once('error', reject);
    }),
    10_000,
    'publisher connect',
  );
  const publishErrors: Record<string, number> = {};
  let acks = 0;
  let connectReply: ((r: Reply) => void) | null = null;
  pub.on('message', (data: Buffer) => {
    const frame = JSON.parse(data.toString('utf8')) as Reply | { op: string };
    if (frame.op === 'ping') pub.send('{"op":"pong"}');
    if (frame.op !== 'reply') return;
    const reply = frame as Reply;
    if (reply.id === 0 && connectReply) return connectReply(reply);
    if (reply.ok) acks += 1;
    else publishErrors[reply.error?.code ?? 'unknown'] = (publishErrors[reply.error?.code ?? 'unknown'] ?? 0) + 1;
  });
  const pubToken = await mintToken('bench-publisher');
  const pubConnected = await withTimeout(
    new Promise<Reply>((resolve) => {
      connectReply = resolve;
      pub.send(JSON.stringify({ op: 'connect', id: 0, token: pubToken }));
    }),
    10_000,
    'publisher connect reply',
  );
  connectReply = null;
  if (!pubConnected.ok) throw new Error(`publisher: connect refused (${pubConnected.error?.code})`);

  const padding = 'x'.repeat(cfg.payloadBytes);
  const channelJson = JSON.stringify(cfg.channel);
  // Publish ids start at 1 (0 was the connect); seq = id - 1.
  const publish = (seq: number, sentAt: number) => {
    pub.send(`{"op":"publish","id":${seq + 1},"channel":${channelJson},"event":"tick","data":{"s":${seq},"t":${sentAt},"p":"${padding}"}}`);
  };
  const frameBytes = Buffer.byteLength(
    `{"op":"message","channel":${channelJson},"event":"tick","data":{"s":12345,"t":123456.789,"p":"${padding}"},"epoch":"AAAAAAAA","offset":12345,"time":"2025-01-01T00:00:00.000Z"}`,
  );

  const setupMs = performance.now() - setupStart;
  send({ phase: 'ready', setupMs });
  await sleep(cfg.settleMs); // presence join events and connection set-up settle

  // ----- run: warm-up, measured window, drain
  let running = true;
  let maxBehind = 0;
  let stalls = 0;
  const t0 = performance.now();
  const measureAt = t0 + cfg.warmupMs;
  const endAt = measureAt + cfg.durationMs;
  let timer: NodeJS.Timeout | undefined;

  if (cfg.mode === 'max') {
    lowest = 0;
    lowestMovedAt = t0;
    topUp = () => {
      while (running && published - lowest < cfg.window) {
        publish(published, performance.now());
        counts[published & RING_MASK] = 0;
        published += 1;
      }
    };
    // Nothing completed for a second (a subscriber lost a publication): move on and count it.
    timer = setInterval(() => {
      if (running && lowest < published && performance.now() - lowestMovedAt > 1000) {
        stalls += 1;
        lowest += 1;
        lowestMovedAt = performance.now();
        advance();
        topUp();
      }
    }, 100);
    topUp();
  } else {
    const interval = 1000 / cfg.rate;
    const tick = () => {
      if (!running) return;
      const due = Math.floor((performance.now() - t0) / interval) + 1;
      const behind = due - published;
      if (behind > maxBehind) maxBehind = behind;
      for (let n = 0; n < 10_000 && published < due; n++) {
        publish(published, t0 + published * interval);
        published += 1;
      }
    };
    timer = setInterval(tick, 1);
    tick();
  }

  let windowStart = 0;
  let windowStartCount = 0;
  let cpuWindowStart = process.cpuUsage();
  await sleep(measureAt - performance.now());
  firstMeasuredSeq = published;
  windowStart = performance.now();
  windowStartCount = delivered;
  cpuWindowStart = process.cpuUsage();
  send({ phase: 'measure-start' });
  await sleep(endAt - performance.now());
  running = false;
  clearInterval(timer);
  const windowEnd = performance.now();
  const windowDeliveries = delivered - windowStartCount;
  const cpuWindow = process.cpuUsage(cpuWindowStart);
  lastMeasuredSeq = published;
  send({ phase: 'measure-end' });

  // Drain: wait until every live subscriber has every publication, bounded by drainMs.
  const drainUntil = performance.now() + cfg.drainMs;
  for (let i = 0; i < 10_000 && performance.now() < drainUntil; i++) {
    if (subs.every((s) => !s.alive || s.unique >= published)) break;
    await sleep(20);
  }

  const expected = published * cfg.subscribers;
  let received = 0;
  let duplicates = 0;
  let subscribersWithLoss = 0;
  for (const s of subs) {
    received += s.unique;
    duplicates += s.duplicates;
    if (s.unique < published) subscribersWithLoss += 1;
  }
  const aliveAtEnd = alive;
  for (const s of subs) s.ws.terminate();
  pub.terminate();
  const windowMs = windowEnd - windowStart;
  return {
    subscribers: cfg.subscribers,
    aliveAtEnd,
    closes,
    published,
    publishedInWindow: lastMeasuredSeq - firstMeasuredSeq,
    publishErrors,
    acks,
    expected,
    received,
    duplicates,
    lost: expected - received,
    subscribersWithLoss,
    shapeErrors,
    windowDeliveries,
    windowMs,
    deliveredPerSecond: (windowDeliveries * 1000) / windowMs,
    publicationsPerSecond: (windowDeliveries * 1000) / windowMs / cfg.subscribers,
    latency: latency.toJSON(),
    stalls,
    maxBehind,
    loadCpuMs: (cpuWindow.user + cpuWindow.system) / 1000,
    setupMs,
    frameBytes,
  };
}

/** The full check, once per subscriber: the frame parses and has exactly the protocol's keys. */
function hasMessageShape(buf: Buffer, seq: number, sentAt: number): boolean {
  try {
    const frame = JSON.parse(buf.toString('utf8')) as Record<string, unknown>;
    const data = frame.data as { s?: unknown; t?: unknown } | null;
    return (
      Object.keys(frame).join() === MESSAGE_KEYS.join() &&
      typeof frame.channel === 'string' &&
      frame.event === 'tick' &&
      data !== null &&
      data.s === seq &&
      data.t === sentAt &&
      typeof frame.epoch === 'string' &&
      typeof frame.offset === 'number' &&
      typeof frame.time === 'string' &&
      !Number.isNaN(Date.parse(frame.time))
    );
  } catch {
    return false;
  }
}

process.on('disconnect', () => process.exit(0));
process.once('message', (msg: { run?: LoadConfig }) => {
  if (!msg.run) return;
  run(msg.run).then(
    (result) => {
      process.send?.({ result } satisfies LoadMessage, () => process.exit(0));
    },
    (err: unknown) => {
      process.send?.({ error: err instanceof Error ? (err.stack ?? err.message) : String(err) } satisfies LoadMessage, () => process.exit(1));
    },
  );
});
