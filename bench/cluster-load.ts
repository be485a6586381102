/**
 * A load process of the cluster bench (forked by bench/cluster.ts, one per server process). It
 * speaks to "its" Switchboard node only, with the raw `ws` package and the JSON protocol, like
 * bench/fanout-load.ts, and with node:http for the publish API.
 *
 * Commands from the orchestrator (IPC), in order:
 * - `{connect}`: open connections [from, from + count) of the whole run. Connection i is user
 *   `u<i>` with tenant `g<i mod groups>` in its HS256 token; it sends a connect frame, then
 *   subscribes to its personal channel `user:u<i>` and to its group channel `<ns>:g<i mod groups>`.
 *   Groups are numbered round-robin over the global index, so the members of a group sit on every
 *   server and a group publication crosses nodes. Attempts that fail are retried with backoff;
 *   the phase is bounded, and reports how many connections it reached.
 * - `{publish}`: publish open loop at a fixed rate through the node's `POST /api/publish`, each
 *   publication to a pseudo-random personal or group channel of the whole run, with
 *   `{"s": seq, "l": load, "t": scheduled time, "p": padding}` as data. `t` is on CLOCK_MONOTONIC
 *   (process.hrtime), which every process on the machine shares, so a receiver in another load
 *   process takes latency as (its receive time - t). Reports the publications each channel got
 *   acknowledged (200) and the errors.
 * - `{expect}`: the publications acknowledged per channel, summed over every load process. Waits
 *   (bounded) until each live connection has them all, then reports delivered / expected,
 *   duplicates, connections with loss, and the latency histograms.
 * `{publish}` and `{expect}` may come again (the orchestrator repeats a window other processes
 * disturbed); each publish phase counts from zero.
 * - `{close}`: terminate every socket and exit.
 */
import { Agent, request } from 'node:http';
import WebSocket from 'ws';
import { SignJWT } from 'jose';
import { PerformanceObserver, monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { Histogram, sleep, tally, type HistogramJson } from './common.js';

export interface ConnectCommand {
  load: number;
  wsUrl: string;
  secret: string;
  /** Global connection indexes [from, from + count). */
  from: number;
  count: number;
  groups: number;
  /** Namespace of the group channels: `tenant` (members only, presence tracked) or `public`. */
  groupNamespace: string;
  /** Connections being opened at once. */
  concurrency: number;
  /** Bound on the whole phase; connections not open by then are reported as not reached. */
  phaseTimeoutMs: number;
  /** Bound on one attempt (open, connect, two subscribes). */
  attemptTimeoutMs: number;
  maxAttempts: number;
}

export interface ConnectReport {
  load: number;
  opened: number;
  notReached: number;
  /** Failed attempts by cause (each retried unless it was the last). */
  errors: Record<string, number>;
  firstError: string | null;
  ms: number;
}

export interface PublishCommand {
  httpUrl: string;
  apiKey: string;
  /** All connections and groups of the run (targets are drawn from all of them). */
  connections: number;
  groups: number;
  groupNamespace: string;
  /** Publications per second from this process. */
  rate: number;
  /** Share of publications that go to a personal channel (the rest to a group). */
  personalShare: number;
  /** CLOCK_MONOTONIC ms: first publication, start of latency recording, end. */
  startAt: number;
  measureFrom: number;
  endAt: number;
  payloadBytes: number;
  /** Publish requests in flight at most; past it the publisher falls behind its schedule. */
  maxInFlight: number;
  seed: number;
}

export interface PublishReport {
  load: number;
  published: number;
  acked: number;
  personalAcked: number;
  groupAcked: number;
  errors: Record<string, number>;
  /** Acknowledged publications per personal channel (index = connection) and per group. */
  perPersonal: number[];
  perGroup: number[];
  /** Most publications the publisher was behind its schedule (in-flight cap reached). */
  maxBehind: number;
  /** Publish request round trips (HTTP, until the node answered). */
  requestLatency: HistogramJson;
}

export interface ExpectCommand {
  /** Acknowledged publications per personal channel of this process's connections [from, from + count). */
  personal: number[];
  /** Acknowledged publications per group, all groups. */
  group: number[];
  drainMs: number;
  measureFrom: number;
  measureUntil: number;
}

export interface DeliveryReport {
  load: number;
  /** Connections open when publishing started, and still open at the end. */
  live: number;
  aliveAtEnd: number;
  /** Close codes of connections closed after they were set up. */
  closes: Record<string, number>;
  expected: number;
  delivered: number;
  duplicates: number;
  /** Distinct publications received beyond the acknowledged ones (a publish whose answer was lost but which went out). */
  extra: number;
  /** Connections that missed at least one publication. */
  connectionsWithLoss: number;
  /** Publications received with an offset past the next one expected (a gap in the channel). */
  gaps: number;
  presenceFrames: number;
  otherFrames: number;
  /** Publication-to-receipt latency for publications scheduled in the measured window. */
  latency: HistogramJson;
  personalLatency: HistogramJson;
  groupLatency: HistogramJson;
  /** Worst latency of the publications scheduled in each second of the measured window. */
  maxBySecond: number[];
  /** This load process's own event-loop delay and GC pauses over the measured window, ms: a
   * stalled receiver or publisher shows up as latency too. */
  loopDelayMaxMs: number;
  loopDelayP99Ms: number;
  gcMs: number;
  drainMs: number;
}

export type ClusterLoadMessage =
  | { progress: { load: number; opened: number; failedAttempts: number } }
  | { connected: ConnectReport }
  | { published: PublishReport }
  | { delivered: DeliveryReport }
  | { error: string };

/** CLOCK_MONOTONIC in ms: the same clock in every process on the machine. */
export function monoMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

type Reply = { op: 'reply'; id: number; ok: boolean; error?: { code: string } };

class Conn {
  ws: WebSocket | null = null;
  alive = false;
  /** Highest offset seen on the personal and the group channel. */
  personalTop = 0;
  groupTop = 0;
  unique = 0;
  duplicates = 0;
  gaps = 0;
  closeCode = 0;
  constructor(
    readonly index: number,
    readonly personal: string,
    readonly group: string,
    readonly groupIndex: number,
  ) {}
}

const conns: Conn[] = [];
const closes: Record<string, number> = {};
let loadIndex = 0;
let presenceFrames = 0;
let otherFrames = 0;
let measureFrom = Number.POSITIVE_INFINITY;
let measureUntil = Number.POSITIVE_INFINITY;
let latency = new Histogram();
let personalLatency = new Histogram();
let groupLatency = new Histogram();
let maxBySecond: number[] = [];

const loopDelay = monitorEventLoopDelay({ resolution: 10 });
let gcMs = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) if (entry.startTime >= measureFromPerf && entry.startTime < measureUntilPerf) gcMs += entry.duration;
}).observe({ entryTypes: ['gc'] });
/** The window on performance.now()'s clock (GC entries use it). */
let measureFromPerf = Number.POSITIVE_INFINITY;
let measureUntilPerf = Number.POSITIVE_INFINITY;
let loopDelayMaxMs = Number.NaN;
let loopDelayP99Ms = Number.NaN;

/** Event-loop delay and GC of this process over [from, until) on the monotonic clock. */
async function watchWindow(from: number, until: number): Promise<void> {
  const offset = performance.now() - monoMs();
  measureFromPerf = from + offset;
  measureUntilPerf = until + offset;
  gcMs = 0;
  loopDelayMaxMs = Number.NaN;
  loopDelayP99Ms = Number.NaN;
  await sleep(from - monoMs());
  loopDelay.reset();
  loopDelay.enable();
  await sleep(until - monoMs());
  loopDelay.disable();
  loopDelayMaxMs = loopDelay.max / 1e6;
  loopDelayP99Ms = loopDelay.percentile(99) / 1e6;
}

/** A new publish phase counts from zero (offsets go on: a gap across phases is still a gap). */
function resetCounts(): void {
  for (const c of conns) {
    c.unique = 0;
    c.duplicates = 0;
    c.gaps = 0;
  }
  latency = new Histogram();
  personalLatency = new Histogram();
  groupLatency = new Histogram();
  maxBySecond = [];
}

function send(msg: ClusterLoadMessage): void {
  process.send?.(msg);
}

const MESSAGE_PREFIX = Buffer.from('{"op":"message",');

/** A frame on a set-up connection. Message frames are few per connection (a handful per run), so
 * each is parsed fully; the cost is the load process's, not the server's. */
function onFrame(conn: Conn, buf: Buffer): void {
  const now = monoMs();
  if (buf.length > MESSAGE_PREFIX.length && buf.compare(MESSAGE_PREFIX, 0, MESSAGE_PREFIX.length, 0, MESSAGE_PREFIX.length) === 0) {
    const frame = JSON.parse(buf.toString('utf8')) as { channel: string; offset: number; data: { t: number } };
    const personal = frame.channel === conn.personal;
    if (!personal && frame.channel !== conn.group) {
      otherFrames += 1;
      return;
    }
    const top = personal ? conn.personalTop : conn.groupTop;
    if (frame.offset <= top) {
      conn.duplicates += 1;
      return;
    }
    if (frame.offset > top + 1) conn.gaps += 1;
    if (personal) conn.personalTop = frame.offset;
    else conn.groupTop = frame.offset;
    conn.unique += 1;
    const t = frame.data.t;
    if (t >= measureFrom && t < measureUntil) {
      const ms = now - t;
      latency.record(ms);
      (personal ? personalLatency : groupLatency).record(ms);
      const second = Math.floor((t - measureFrom) / 1000);
      if (!(ms <= (maxBySecond[second] ?? 0))) maxBySecond[second] = ms;
    }
    return;
  }
  const frame = JSON.parse(buf.toString('utf8')) as { op: string };
  if (frame.op === 'ping') conn.ws?.send('{"op":"pong"}');
  else if (frame.op === 'join' || frame.op === 'leave') presenceFrames += 1;
  else otherFrames += 1;
}

/** A short, countable cause: the error code when there is one. */
function cause(err: unknown): string {
  if (err && typeof err === 'object' && 'code' in err && typeof (err as { code: unknown }).code === 'string') return (err as { code: string }).code;
  return err instanceof Error ? err.message.slice(0, 120) : String(err).slice(0, 120);
}

/** One attempt: open, connect frame, both subscribes. Rejects (and terminates the socket) on any failure or after `ms`. */
function attempt(cmd: ConnectCommand, conn: Conn, token: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const ws = new WebSocket(cmd.wsUrl, { perMessageDeflate: false, skipUTF8Validation: true });
    conn.ws = ws;
    let settled = false;
    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      ws.removeAllListeners();
      ws.on('error', () => undefined);
      ws.terminate();
      reject(err instanceof Error ? err : new Error(String(err)));
    };
    const timer = setTimeout(() => fail(new Error('attempt timed out')), cmd.attemptTimeoutMs);
    let step = 0;
    ws.on('error', (err) => fail(err));
    ws.on('close', (code) => {
      if (!settled) return fail(new Error(`closed ${code} while setting up`));
      if (conn.alive) {
        conn.alive = false;
        conn.closeCode = code;
        tally(closes, String(code));
      }
    });
    ws.on('open', () => ws.send(JSON.stringify({ op: 'connect', id: 1, token })));
    ws.on('message', (data: Buffer) => {
      if (settled) return onFrame(conn, data);
      const frame = JSON.parse(data.toString('utf8')) as Reply | { op: string };
      if (frame.op === 'ping') {
        ws.send('{"op":"pong"}');
        return;
      }
      if (frame.op !== 'reply') return; // presence of the group arriving before our reply
      const reply = frame as Reply;
      if (!reply.ok) return fail(new Error(`${['connect', 'subscribe personal', 'subscribe group'][reply.id - 1] ?? 'request'} refused: ${reply.error?.code ?? '?'}`));
      step += 1;
      if (step === 1) ws.send(JSON.stringify({ op: 'subscribe', id: 2, channel: conn.personal }));
      else if (step === 2) ws.send(JSON.stringify({ op: 'subscribe', id: 3, channel: conn.group }));
      else {
        settled = true;
        clearTimeout(timer);
        conn.alive = true;
        resolve();
      }
    });
  });
}

async function connectAll(cmd: ConnectCommand): Promise<ConnectReport> {
  const started = monoMs();
  const deadline = started + cmd.phaseTimeoutMs;
  const key = new TextEncoder().encode(cmd.secret);
  const exp = Math.floor(Date.now() / 1000) + 4 * 3600;
  const errors: Record<string, number> = {};
  let firstError: string | null = null;
  let failedAttempts = 0;
  let opened = 0;
  let next = 0;
  for (let k = 0; k < cmd.count; k++) {
    const i = cmd.from + k;
    const g = i % cmd.groups;
    conns.push(new Conn(i, `user:u${i}`, `${cmd.groupNamespace}:g${g}`, g));
  }
  const progress = setInterval(() => send({ progress: { load: cmd.load, opened, failedAttempts } }), 2000);
  const worker = async () => {
    while (next < cmd.count && monoMs() < deadline) {
      const conn = conns[next++]!;
      const token = await new SignJWT({ role: 'customer', tenant: `g${conn.groupIndex}` })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(`u${conn.index}`)
        .setIssuedAt()
        .setExpirationTime(exp)
        .sign(key);
      for (let a = 1; a <= cmd.maxAttempts && monoMs() < deadline; a++) {
        try {
          await attempt(cmd, conn, token);
          opened += 1;
          break;
        } catch (err) {
          failedAttempts += 1;
          tally(errors, cause(err));
          firstError ??= err instanceof Error ? err.message : String(err);
          // Back off (this worker only; with many failing, the whole phase slows down): 0.2, 0.4, ... 5 s, jittered.
          await sleep(Math.min(5000, 200 * 2 ** (a - 1)) * (0.5 + Math.random()));
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(cmd.concurrency, cmd.count) }, worker));
  clearInterval(progress);
  return { load: cmd.load, opened, notReached: cmd.count - opened, errors, firstError, ms: monoMs() - started };
}

/** mulberry32: a small seeded PRNG, so each run draws the same targets. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function publishAll(cmd: PublishCommand): Promise<PublishReport> {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const url = new URL('/api/publish', cmd.httpUrl);
  const random = prng(cmd.seed);
  const perPersonal = new Array<number>(cmd.connections).fill(0);
  const perGroup = new Array<number>(cmd.groups).fill(0);
  const errors: Record<string, number> = {};
  const requestLatency = new Histogram();
  const padding = 'x'.repeat(cmd.payloadBytes);
  const headers = { authorization: `Bearer ${cmd.apiKey}`, 'content-type': 'application/json' };
  const interval = 1000 / cmd.rate;
  const total = Math.floor(((cmd.endAt - cmd.startAt) * cmd.rate) / 1000);
  let published = 0;
  let acked = 0;
  let personalAcked = 0;
  let groupAcked = 0;
  let inFlight = 0;
  let maxBehind = 0;
  let onIdle: (() => void) | null = null;

  const publishOne = (seq: number, t: number) => {
    const personal = random() < cmd.personalShare;
    const target = personal ? Math.floor(random() * cmd.connections) : Math.floor(random() * cmd.groups);
    const channel = personal ? `user:u${target}` : `${cmd.groupNamespace}:g${target}`;
    const body = `{"channel":"${channel}","event":"tick","data":{"s":${seq},"l":${loadIndex},"t":${t.toFixed(3)},"p":"${padding}"}}`;
    const sentAt = monoMs();
    inFlight += 1;
    const done = (error: string | null) => {
      inFlight -= 1;
      if (error === null) {
        acked += 1;
        requestLatency.record(monoMs() - sentAt);
        if (personal) {
          perPersonal[target]! += 1;
          personalAcked += 1;
        } else {
          perGroup[target]! += 1;
          groupAcked += 1;
        }
      } else tally(errors, error);
      if (inFlight === 0) onIdle?.();
    };
    const req = request(url, { method: 'POST', agent, headers: { ...headers, 'content-length': Buffer.byteLength(body) }, timeout: 30_000 }, (res) => {
      res.resume();
      res.on('end', () => done(res.statusCode === 200 ? null : `HTTP ${res.statusCode}`));
      res.on('error', (err) => done(cause(err)));
    });
    req.on('timeout', () => req.destroy(new Error('publish request timed out')));
    req.on('error', (err) => done(cause(err)));
    req.end(body);
  };

  await sleep(Math.max(0, cmd.startAt - monoMs()));
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = monoMs();
      const due = Math.min(total, Math.floor((now - cmd.startAt) / interval) + 1);
      if (due - published > maxBehind) maxBehind = due - published;
      while (published < due && inFlight < cmd.maxInFlight) {
        publishOne(published, cmd.startAt + published * interval);
        published += 1;
      }
      if (published >= total || now >= cmd.endAt + 5000) {
        clearInterval(timer);
        resolve();
      }
    };
    const timer = setInterval(tick, 1);
    tick();
  });
  // The answers still on their way (bounded by the request timeout above).
  if (inFlight > 0) await new Promise<void>((resolve) => (onIdle = resolve));
  agent.destroy();
  return { load: loadIndex, published, acked, personalAcked, groupAcked, errors, perPersonal, perGroup, maxBehind, requestLatency: requestLatency.toJSON() };
}

async function deliveries(cmd: ExpectCommand): Promise<DeliveryReport> {
  const from = conns[0]?.index ?? 0;
  const expectedOf = (c: Conn) => (cmd.personal[c.index - from] ?? 0) + (cmd.group[c.groupIndex] ?? 0);
  const started = monoMs();
  // Counted: connections set up before publishing (open then, whether or not they stayed open).
  const counted = conns.filter((c) => c.alive || c.closeCode !== 0);
  for (let i = 0; i < 100_000 && monoMs() - started < cmd.drainMs; i++) {
    if (counted.every((c) => !c.alive || c.unique >= expectedOf(c))) break;
    await sleep(50);
  }
  let expected = 0;
  let delivered = 0;
  let duplicates = 0;
  let extra = 0;
  let gaps = 0;
  let connectionsWithLoss = 0;
  let aliveAtEnd = 0;
  for (const c of counted) {
    const e = expectedOf(c);
    expected += e;
    delivered += Math.min(c.unique, e);
    duplicates += c.duplicates;
    extra += Math.max(0, c.unique - e);
    gaps += c.gaps;
    if (c.unique < e) connectionsWithLoss += 1;
    if (c.alive) aliveAtEnd += 1;
  }
  return {
    load: loadIndex,
    live: counted.length,
    aliveAtEnd,
    closes,
    expected,
    delivered,
    duplicates,
    extra,
    connectionsWithLoss,
    gaps,
    presenceFrames,
    otherFrames,
    latency: latency.toJSON(),
    personalLatency: personalLatency.toJSON(),
    groupLatency: groupLatency.toJSON(),
    maxBySecond: Array.from(maxBySecond, (x) => x ?? 0),
    loopDelayMaxMs,
    loopDelayP99Ms,
    gcMs,
    drainMs: monoMs() - started,
  };
}

function fail(err: unknown): void {
  send({ error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
}

process.on('disconnect', () => process.exit(0));
process.on('message', (msg: { connect?: ConnectCommand; publish?: PublishCommand; expect?: ExpectCommand; close?: boolean }) => {
  if (msg.connect) {
    loadIndex = msg.connect.load;
    connectAll(msg.connect).then((connected) => send({ connected }), fail);
  } else if (msg.publish) {
    resetCounts();
    measureFrom = msg.publish.measureFrom;
    measureUntil = msg.publish.endAt;
    void watchWindow(msg.publish.measureFrom, msg.publish.endAt);
    publishAll(msg.publish).then((published) => send({ published }), fail);
  } else if (msg.expect) {
    measureFrom = msg.expect.measureFrom;
    measureUntil = msg.expect.measureUntil;
    deliveries(msg.expect).then((delivered) => send({ delivered }), fail);
  } else if (msg.close) {
    for (const c of conns) {
      c.alive = false;
      c.ws?.terminate();
    }
    process.exit(0);
  }
});
