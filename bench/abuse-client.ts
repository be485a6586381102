/**
 * The well-behaved client of the abuse bench, in a process of its own (forked by bench/abuse.ts)
 * so that the attacks, which run in the bench process, cannot delay its timers or its reading.
 *
 * - One WebSocket (`ws`), authenticated with its own registered account's token, subscribed to a
 *   channel it may read (`user:<its id>`); it answers the server's heartbeats.
 * - `{"op":"ping","id":n}` every `pingMs` (20 ms); each reply's round trip goes to the phase the
 *   ping was sent in. At most `maxOutstanding` pings are in flight: the server counts every frame
 *   against the connection's rate limit (50/s, bursts of 100) when it reads it, so during a stall
 *   an unbounded queue of pings would be read as a burst and get the good client rate-limited and
 *   closed. Pings not sent because of that bound are counted ("held back"); the round trip of the
 *   ones in flight shows the stall. A ping unanswered after `timeoutMs` counts as timed out.
 * - A publisher: `POST /api/publish` (the API key from the server's data folder) of one
 *   publication per `publishMs` (50 ms) to that channel, data `{s, t}`. Every acknowledged
 *   publication (its offset) must arrive exactly once and in offset order: after the drain,
 *   lost = acknowledged offsets never received (counted in the phase they were published in),
 *   duplicated = an offset received again, out of order = an offset lower than one already seen.
 * - `GET /healthz` every `healthMs` (250 ms) on a fresh connection, `timeoutMs` (10 s) bound: a
 *   probe without a 200 in time counts as failed.
 * - Its own event-loop delay per phase, to tell a slow server from a slow measuring process.
 *
 * IPC: `{start}` → `{ready}`; `{phase: name}` switches the phase figures are counted in;
 * `{finish: {drainMs}}` stops sending, waits for stragglers, answers `{result}`.
 */
import { Agent } from 'node:http';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { Histogram, sleep, tally, wsOpened, wsRequest, type HistogramJson } from './common.js';
import { httpRequest, outcomeOf } from './http.js';

export interface GoodClientConfig {
  port: number;
  token: string;
  channel: string;
  apiKey: string;
  pingMs: number;
  publishMs: number;
  healthMs: number;
  maxOutstanding: number;
  timeoutMs: number;
  firstPhase: string;
}

export interface PhaseFigures {
  phase: string;
  ping: HistogramJson;
  pingsSent: number;
  pingsAnswered: number;
  pingsTimedOut: number;
  pingsHeldBack: number;
  pingErrors: Record<string, number>;
  health: HistogramJson;
  healthProbes: number;
  healthFailed: number;
  healthOutcomes: Record<string, number>;
  published: number;
  acked: number;
  publishOutcomes: Record<string, number>;
  publishLatency: HistogramJson;
  /** Publications of this phase that arrived (by publish phase), and latency publish → receive. */
  delivered: number;
  deliveryLatency: HistogramJson;
  lost: number;
  /** Counted in the phase they were received in. */
  duplicated: number;
  outOfOrder: number;
  /** Deliveries of publications whose publish request got no 200 (it timed out or failed, yet the
   * publication went through). */
  unacknowledged: number;
  loopDelayMaxMs: number;
  closes: string[];
}

export interface GoodClientResult {
  phases: PhaseFigures[];
  startOffset: number;
  epoch: string;
  epochChanges: number;
  closedAt: string | null;
}

export type GoodClientCommand = { start: GoodClientConfig } | { phase: string } | { finish: { drainMs: number } };
export type GoodClientMessage = { ready: true } | { result: GoodClientResult } | { error: string };

class Figures {
  ping = new Histogram();
  pingsSent = 0;
  pingsAnswered = 0;
  pingsTimedOut = 0;
  pingsHeldBack = 0;
  pingErrors: Record<string, number> = {};
  health = new Histogram();
  healthProbes = 0;
  healthFailed = 0;
  healthOutcomes: Record<string, number> = {};
  published = 0;
  acked = 0;
  publishOutcomes: Record<string, number> = {};
  publishLatency = new Histogram();
  delivered = 0;
  deliveryLatency = new Histogram();
  lost = 0;
  duplicated = 0;
  outOfOrder = 0;
  unacknowledged = 0;
  loopDelayMaxMs = 0;
  closes: string[] = [];
  constructor(readonly phase: string) {}

  toJSON(): PhaseFigures {
    return {
      phase: this.phase,
      ping: this.ping.toJSON(),
      pingsSent: this.pingsSent,
      pingsAnswered: this.pingsAnswered,
      pingsTimedOut: this.pingsTimedOut,
      pingsHeldBack: this.pingsHeldBack,
      pingErrors: this.pingErrors,
      health: this.health.toJSON(),
      healthProbes: this.healthProbes,
      healthFailed: this.healthFailed,
      healthOutcomes: this.healthOutcomes,
      published: this.published,
      acked: this.acked,
      publishOutcomes: this.publishOutcomes,
      publishLatency: this.publishLatency.toJSON(),
      delivered: this.delivered,
      deliveryLatency: this.deliveryLatency.toJSON(),
      lost: this.lost,
      duplicated: this.duplicated,
      outOfOrder: this.outOfOrder,
      unacknowledged: this.unacknowledged,
      loopDelayMaxMs: this.loopDelayMaxMs,
      closes: this.closes,
    };
  }
}

type Frame = { op: string; id?: number; ok?: boolean; error?: { code?: string }; result?: { epoch?: string; offset?: number }; channel?: string; offset?: number; epoch?: string; data?: { s?: number; t?: number } };

async function run(cfg: GoodClientConfig): Promise<void> {
  const phases = new Map<string, Figures>();
  let current = new Figures(cfg.firstPhase);
  phases.set(current.phase, current);
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const setPhase = (name: string) => {
    current.loopDelayMaxMs = Math.max(current.loopDelayMaxMs, loop.max / 1e6);
    loop.reset();
    current = phases.get(name) ?? new Figures(name);
    phases.set(name, current);
  };

  // ----- the WebSocket
  const ws = new WebSocket(`ws://127.0.0.1:${cfg.port}/ws`, { perMessageDeflate: false });
  const waiting = new Map<number, (f: Frame) => void>();
  /** Ping id → [send time, phase]. */
  const pings = new Map<number, [number, Figures]>();
  /** Offset → phase it was published in, for acknowledged publications. */
  const acked = new Map<number, Figures>();
  /** Offset → latency publish → receive (ms), for every publication received on the channel. */
  const received = new Map<number, number>();
  let maxOffset = -1;
  let epoch = '';
  let epochChanges = 0;
  let closedAt: string | null = null;
  ws.on('message', (data: Buffer) => {
    const frame = JSON.parse(data.toString('utf8')) as Frame;
    if (frame.op === 'ping') {
      ws.send('{"op":"pong"}');
      return;
    }
    if (frame.op === 'reply' && frame.id !== undefined) {
      const ping = pings.get(frame.id);
      if (ping) {
        pings.delete(frame.id);
        const [sentAt, figures] = ping;
        if (frame.ok) {
          figures.pingsAnswered += 1;
          figures.ping.record(performance.now() - sentAt);
        } else tally(figures.pingErrors, frame.error?.code ?? 'unknown');
        return;
      }
      waiting.get(frame.id)?.(frame);
      return;
    }
    if (frame.op === 'message' && frame.channel === cfg.channel && typeof frame.offset === 'number') {
      if (frame.epoch !== epoch) {
        epochChanges += 1;
        epoch = frame.epoch ?? epoch;
      }
      const offset = frame.offset;
      if (received.has(offset)) {
        current.duplicated += 1;
        return;
      }
      if (offset < maxOffset) current.outOfOrder += 1;
      const latency = typeof frame.data?.t === 'number' ? Date.now() - frame.data.t : Number.NaN;
      received.set(offset, latency);
      maxOffset = Math.max(maxOffset, offset);
      const figures = acked.get(offset);
      if (figures) {
        figures.delivered += 1;
        if (Number.isFinite(latency)) figures.deliveryLatency.record(latency);
      }
    }
  });
  ws.on('error', () => undefined);
  ws.on('close', (code, reason) => {
    closedAt = `${code} ${reason.toString()} during ${current.phase}`;
    current.closes.push(`${code} ${reason.toString()}`);
  });
  await wsOpened(ws, cfg.timeoutMs, 'good client: open');
  const call = (id: number, frame: Record<string, unknown>): Promise<Frame> => wsRequest(ws, waiting, id, frame, cfg.timeoutMs, 'good client');
  await call(1, { op: 'connect', token: cfg.token });
  const sub = await call(2, { op: 'subscribe', channel: cfg.channel });
  epoch = sub.result?.epoch ?? '';
  const startOffset = sub.result?.offset ?? 0;
  maxOffset = startOffset;

  // ----- pings
  let nextId = 10;
  const pingTimer = setInterval(() => {
    if (ws.readyState !== WebSocket.OPEN) return;
    const now = performance.now();
    for (const [id, [sentAt, figures]] of pings) {
      if (now - sentAt > cfg.timeoutMs) {
        pings.delete(id);
        figures.pingsTimedOut += 1;
      }
    }
    if (pings.size >= cfg.maxOutstanding) {
      current.pingsHeldBack += 1;
      return;
    }
    const id = nextId++;
    pings.set(id, [now, current]);
    current.pingsSent += 1;
    ws.send(`{"op":"ping","id":${id}}`);
  }, cfg.pingMs);

  // ----- publisher
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  let seq = 0;
  const inFlight = new Set<Promise<void>>();
  const publishTimer = setInterval(() => {
    const figures = current;
    const s = seq++;
    figures.published += 1;
    const p = httpRequest({
      port: cfg.port,
      method: 'POST',
      path: '/api/publish',
      headers: { authorization: `Bearer ${cfg.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ channel: cfg.channel, event: 'tick', data: { s, t: Date.now() } }),
      timeoutMs: cfg.timeoutMs,
      agent,
    }).then((r) => {
      tally(figures.publishOutcomes, outcomeOf(r));
      figures.publishLatency.record(r.ms);
      if (r.status !== 200) return;
      const offset = (JSON.parse(r.body) as { offset?: number }).offset;
      if (typeof offset !== 'number') return;
      figures.acked += 1;
      acked.set(offset, figures);
      const latency = received.get(offset);
      if (latency !== undefined) {
        // It arrived before its acknowledgement (fan-out runs before the HTTP answer): count it now.
        figures.delivered += 1;
        if (Number.isFinite(latency)) figures.deliveryLatency.record(latency);
      }
    });
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  }, cfg.publishMs);

  // ----- health probes
  const healthTimer = setInterval(() => {
    const figures = current;
    figures.healthProbes += 1;
    const p = httpRequest({ port: cfg.port, method: 'GET', path: '/healthz', timeoutMs: cfg.timeoutMs, agent: false }).then((r) => {
      tally(figures.healthOutcomes, outcomeOf(r));
      if (r.status === 200) figures.health.record(r.ms);
      else figures.healthFailed += 1;
    });
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  }, cfg.healthMs);

  process.on('message', (msg: GoodClientCommand) => {
    if ('phase' in msg) setPhase(msg.phase);
    else if ('finish' in msg) void finish(msg.finish.drainMs);
  });
  process.send!({ ready: true } satisfies GoodClientMessage);

  const finish = async (drainMs: number) => {
    clearInterval(pingTimer);
    clearInterval(publishTimer);
    clearInterval(healthTimer);
    current.loopDelayMaxMs = Math.max(current.loopDelayMaxMs, loop.max / 1e6);
    // Requests in flight end by their own deadline; then every acknowledged offset should be in.
    for (let i = 0; i < 100 && inFlight.size > 0; i++) await Promise.race([Promise.allSettled([...inFlight]), sleep(200)]);
    const until = performance.now() + drainMs;
    const missing = () => [...acked.keys()].some((o) => !received.has(o));
    while (performance.now() < until && missing() && ws.readyState === WebSocket.OPEN) await sleep(50);
    const until2 = performance.now() + Math.min(drainMs, 2000);
    while (performance.now() < until2 && pings.size > 0 && ws.readyState === WebSocket.OPEN) await sleep(20);
    for (const [offset, figures] of acked) if (!received.has(offset)) figures.lost += 1;
    for (const offset of received.keys()) {
      if (offset > startOffset && !acked.has(offset)) current.unacknowledged += 1;
    }
    for (const [, [, figures]] of pings) figures.pingsTimedOut += 1;
    ws.close(1000);
    agent.destroy();
    const result: GoodClientResult = { phases: [...phases.values()].map((f) => f.toJSON()), startOffset, epoch, epochChanges, closedAt };
    process.send!({ result } satisfies GoodClientMessage, () => process.exit(0));
  };
}

process.once('message', (msg: GoodClientCommand) => {
  if (!('start' in msg)) return;
  run(msg.start).catch((err: unknown) => {
    process.send!({ error: err instanceof Error ? err.message : String(err) } satisfies GoodClientMessage, () => process.exit(1));
  });
});
// The bench went away: nothing left to report to.
process.on('disconnect', () => process.exit(0));
