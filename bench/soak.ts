/**
 * Soak benchmark: steady mixed load on one node for `--minutes`, to see whether its memory keeps
 * growing and whether anything is lost or refused over time.
 *
 * - The server: `node dist/src/cli.js serve` (common.ts startServer: 127.0.0.1, a free port, a fresh
 *   temporary data folder, LOG_LEVEL=warn) in development mode, so the demo shop loads and the
 *   publish API key is generated into the data folder, where the bench reads it. Default limits.
 * - Connection churn: `--connections` (200) WebSockets (`ws`), each with a minted token for user
 *   `soak-<slot>`, subscribed to one of `--channels` (20) channels `chat:soak-<k>`; every
 *   1/`--churn` s (5 per second) one at random is closed (1000) and its slot reconnected. Each
 *   checks that the publications after its subscribe position arrive with consecutive offsets (a
 *   gap is lost deliveries, an offset again a duplicate).
 * - Publishes: `--rate` (100) per second, open loop, through `POST /api/publish` to those channels
 *   in turn (so every publication has ~10 subscribers), data `{s, t}`.
 * - Carts: `--customers` (5) registered customers each add, change and remove lines of their cart
 *   through the REST API (products with enough stock from `GET /api/products`), together
 *   `--cart-rate` (10) writes per second; one WebSocket per customer subscribed to `cart:<id>`
 *   checks that a `cart_update` with the version of every successful write arrives, and that the
 *   channel's offsets have no gap.
 * - Memory: VmRSS every `--sample` (10) s. After the warm-up (the first 2 minutes, or 20% of a
 *   shorter run) a least-squares line through the samples: slope in MiB per 10 minutes (target
 *   ≤ 1 MB per 10 min). With `--gc-every` > 0, every that many seconds a full GC in the server
 *   (server-hook over IPC) and its heap used after it: the same slope for the live heap, which GC
 *   timing does not blur.
 * - Counts: non-2xx answers and request failures, unexpected closes by code, failed connects,
 *   lost and duplicated deliveries, throughput of each kind.
 *
 *   npm run bench:soak -- --minutes 30
 *   npm run bench:soak -- --minutes 3 --json /tmp/soak.json
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import {
  DEVELOPMENT_ENV,
  Histogram,
  cpuMs,
  fmt,
  freePort,
  guardProcess,
  intFlag,
  machine,
  machineBusyMs,
  mintToken,
  numFlag,
  openFilesLimit,
  parseArgs,
  rssBytes,
  runBench,
  sleep,
  startServer,
  table,
  tally,
  tallyText,
  withTimeout,
  wsOpened,
  wsRequest,
  type ServerProcess,
} from './common.js';
import { jsonRequest, outcomeOf, register, type Account } from './http.js';

const flags = parseArgs(
  process.argv.slice(2),
  {
    minutes: { default: '30', help: 'minutes of steady load' },
    connections: { default: '200', help: 'churning WebSocket connections held open' },
    churn: { default: '5', help: 'connections closed and reopened per second' },
    channels: { default: '20', help: 'chat:soak-<k> channels the connections subscribe to and the publisher publishes to' },
    rate: { default: '100', help: 'publications per second through the publish API (open loop)' },
    customers: { default: '5', help: 'registered customers writing their carts' },
    'cart-rate': { default: '10', help: 'cart writes per second, all customers together' },
    sample: { default: '10', help: 'seconds between RSS samples' },
    warmup: { default: '', help: 'seconds of warm-up left out of the slope (default: 2 minutes, or 20% of a shorter run)' },
    'gc-every': { default: '60', help: 'seconds between full GCs in the server to read its live heap (0: never; RSS samples are taken without)' },
    drain: { default: '10', help: 'seconds to wait for stragglers after the load stops' },
    json: { default: '', help: 'write the raw samples and counts to this file' },
    'max-seconds': { default: '', help: 'give up (and stop every process) after this long (default: the run plus 10 minutes)' },
  },
  'usage: node dist/bench/soak.js [flags]',
);

const minutes = numFlag(flags, 'minutes', 0.2, 24 * 60);
const durationMs = minutes * 60_000;
const connections = intFlag(flags, 'connections', 0, 50_000);
const churn = numFlag(flags, 'churn', 0, 1000);
const channelCount = intFlag(flags, 'channels', 1, 10_000);
const rate = numFlag(flags, 'rate', 0, 100_000);
const customerCount = intFlag(flags, 'customers', 0, 1000);
const cartRate = numFlag(flags, 'cart-rate', 0, 10_000);
const sampleMs = numFlag(flags, 'sample', 1, 3600) * 1000;
const warmupMs = flags.warmup ? numFlag(flags, 'warmup', 0, 24 * 3600) * 1000 : Math.min(120_000, 0.2 * durationMs);
const gcEveryMs = numFlag(flags, 'gc-every', 0, 24 * 3600) * 1000;
const drainMs = numFlag(flags, 'drain', 0, 600) * 1000;
const maxSeconds = flags['max-seconds'] ? numFlag(flags, 'max-seconds', 30, 7 * 24 * 3600) : durationMs / 1000 + 600;

const TIMEOUT_MS = 10_000;
const MIB = 2 ** 20;
const TARGET_MB_PER_10_MIN = 1;

guardProcess(maxSeconds);
const t0 = performance.now();
const now = () => performance.now() - t0;
const say = (line: string) => process.stdout.write(`[${fmt(now() / 1000, 0)} s] ${line}\n`);

// ----- counts

const counts = {
  connects: 0,
  connectFailures: {} as Record<string, number>,
  disconnects: 0,
  unexpectedCloses: {} as Record<string, number>,
  published: 0,
  publishOutcomes: {} as Record<string, number>,
  publishBehind: 0,
  chatDelivered: 0,
  chatLost: 0,
  chatDuplicated: 0,
  cartWrites: 0,
  cartOutcomes: {} as Record<string, number>,
  cartUpdatesExpected: 0,
  cartUpdatesReceived: 0,
  cartUpdatesLost: 0,
  cartGaps: 0,
  cartDuplicated: 0,
};
const deliveryLatency = new Histogram();
const publishLatency = new Histogram();
const cartLatency = new Histogram();

type Frame = {
  op: string;
  id?: number;
  ok?: boolean;
  error?: { code?: string };
  result?: { offset?: number; epoch?: string };
  channel?: string;
  event?: string;
  offset?: number;
  data?: { t?: number; version?: number };
};

/** A WebSocket that connects, subscribes to one channel and checks the offsets that follow. */
class Subscriber {
  ws: WebSocket | null = null;
  next: number | null = null;
  closedByUs = false;
  ready = false;
  onMessage: ((f: Frame) => void) | null = null;

  constructor(
    readonly url: string,
    readonly token: string,
    readonly channel: string,
    /** Counts a gap of `n` offsets / a duplicate. */
    readonly onGap: (n: number) => void,
    readonly onDuplicate: () => void,
  ) {}

  async open(): Promise<void> {
    const ws = new WebSocket(this.url, { perMessageDeflate: false });
    this.ws = ws;
    const waiting = new Map<number, (f: Frame) => void>();
    ws.on('message', (data: Buffer) => {
      const frame = JSON.parse(data.toString('utf8')) as Frame;
      if (frame.op === 'ping') {
        ws.send('{"op":"pong"}');
        return;
      }
      if (frame.op === 'reply' && frame.id !== undefined) {
        // The subscribe position is taken here, not after the awaiting code resumes: ws hands over
        // every frame of a read in the same tick, so the first publications can follow the reply
        // before any promise continuation runs.
        if (frame.id === 2 && frame.ok) this.next = (frame.result?.offset ?? 0) + 1;
        waiting.get(frame.id)?.(frame);
        return;
      }
      if (frame.op !== 'message' || frame.channel !== this.channel || typeof frame.offset !== 'number' || this.next === null || this.closedByUs) return;
      if (frame.offset < this.next) this.onDuplicate();
      else {
        if (frame.offset > this.next) this.onGap(frame.offset - this.next);
        this.next = frame.offset + 1;
        this.onMessage?.(frame);
      }
    });
    ws.on('error', () => undefined);
    ws.on('close', (code) => {
      if (!this.closedByUs) tally(counts.unexpectedCloses, String(code));
    });
    await wsOpened(ws, TIMEOUT_MS, 'open');
    const call = (id: number, frame: Record<string, unknown>) => wsRequest(ws, waiting, id, frame, TIMEOUT_MS, 'chat connection');
    await call(1, { op: 'connect', token: this.token });
    await call(2, { op: 'subscribe', channel: this.channel });
    this.ready = true;
  }

  close(): void {
    this.closedByUs = true;
    this.ready = false;
    this.ws?.close(1000);
    const ws = this.ws;
    setTimeout(() => ws?.terminate(), 3000).unref();
  }

  get open_(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }
}

// ----- the load

interface Sellable {
  productId: string;
  variantId: string | null;
}

interface CartLine {
  id: string;
  productId: string;
  variantId: string | null;
  quantity: number;
}

interface CartView {
  version: number;
  items: CartLine[];
}

interface Customer {
  account: Account;
  sub: Subscriber;
  lines: CartLine[];
  /** Versions answered by successful writes, and versions pushed in cart_update. */
  expected: Set<number>;
  pushed: Set<number>;
}

async function main(): Promise<void> {
  const m = machine();
  process.stdout.write(
    `soak: ${fmt(minutes, 1)} min on one node; ${connections} connections churning ${churn}/s over ${channelCount} channels; ${rate} pub/s; ` +
      `${customerCount} customers writing ${cartRate} cart writes/s; RSS every ${sampleMs / 1000} s, slope after ${fmt(warmupMs / 1000)} s of warm-up` +
      `${gcEveryMs ? `; full GC + heap every ${gcEveryMs / 1000} s` : ''}\n` +
      `machine: ${m.nproc} CPUs (${m.cpu}), node ${m.node}, loadavg ${m.loadavg}, ulimit -n ${openFilesLimit()} (shared machine: expect noise)\n\n`,
  );
  const port = await freePort();
  const server: ServerProcess = await startServer('switchboard', { port, env: DEVELOPMENT_ENV });
  let serverGone: string | null = null;
  let stopping = false;
  server.child.once('exit', (code, signal) => {
    if (stopping) return;
    serverGone = `${code ?? signal}`;
    say(`THE SERVER EXITED (${serverGone}); stderr:\n${server.stderr()}`);
  });
  const url = `ws://127.0.0.1:${port}/ws`;
  const apiKey = readFileSync(join(server.dataDir, 'api-key'), 'utf8').trim();
  const agent = new Agent({ keepAlive: true, maxSockets: 32 });
  const timers: NodeJS.Timeout[] = [];
  const subscribers: Subscriber[] = [];
  const customers: Customer[] = [];
  const rssSamples: { t: number; rss: number }[] = [];
  const heapSamples: { t: number; heapUsed: number; rss: number }[] = [];
  const cpuStart = { at: performance.now(), server: cpuMs(server.pid), machine: machineBusyMs() };
  let cpuEnd = cpuStart;
  let loadStart = 0;
  let loadEnd = 0;

  try {
    // Customers, the catalogue, and each customer's cart subscriber.
    const tag = `${process.pid}-${Date.now()}`;
    for (let i = 0; i < customerCount; i++) {
      const account = await register(port, `soak-${tag}-${i}@bench.test`, `Soak customer ${i}`);
      const c: Customer = { account, sub: null as unknown as Subscriber, lines: [], expected: new Set(), pushed: new Set() };
      c.sub = new Subscriber(
        url,
        account.token,
        `cart:${account.id}`,
        (n) => (counts.cartGaps += n),
        () => (counts.cartDuplicated += 1),
      );
      c.sub.onMessage = (f) => {
        if (f.event === 'cart_update' && typeof f.data?.version === 'number') {
          c.pushed.add(f.data.version);
          counts.cartUpdatesReceived += 1;
        }
      };
      await c.sub.open();
      customers.push(c);
    }
    let sellable: Sellable[] = [];
    if (customers.length > 0) {
      const r = await jsonRequest<{ items: { id: string; stock: number; variants?: { id: string; stock: number }[] }[] }>({
        port,
        method: 'GET',
        path: '/api/products?limit=100',
        headers: { authorization: `Bearer ${customers[0]!.account.token}` },
        timeoutMs: TIMEOUT_MS,
      });
      if (r.status !== 200 || !r.data) throw new Error(`GET /api/products: ${outcomeOf(r)}`);
      for (const p of r.data.items) {
        if (p.variants && p.variants.length > 0) {
          for (const v of p.variants) if (v.stock >= 50) sellable.push({ productId: p.id, variantId: v.id });
        } else if (p.stock >= 50) sellable.push({ productId: p.id, variantId: null });
      }
      sellable = sellable.slice(0, 8);
      if (sellable.length < 2) throw new Error(`the catalogue has ${sellable.length} products with stock >= 50; the cart load needs 2`);
    }

    // The churning connections.
    const tokens = await Promise.all(Array.from({ length: connections }, (_, i) => mintToken(`soak-${i}`)));
    const makeSub = (slot: number) =>
      new Subscriber(
        url,
        tokens[slot]!,
        `chat:soak-${slot % channelCount}`,
        (n) => (counts.chatLost += n),
        () => (counts.chatDuplicated += 1),
      );
    const openSlot = async (slot: number) => {
      const s = makeSub(slot);
      subscribers[slot] = s;
      s.onMessage = (f) => {
        counts.chatDelivered += 1;
        if (typeof f.data?.t === 'number') deliveryLatency.record(Date.now() - f.data.t);
      };
      try {
        await s.open();
        counts.connects += 1;
      } catch (err) {
        s.closedByUs = true;
        s.ws?.terminate();
        tally(counts.connectFailures, err instanceof Error ? err.message : String(err));
      }
    };
    for (let i = 0; i < connections; i += 20) {
      await Promise.all(Array.from({ length: Math.min(20, connections - i) }, (_, k) => openSlot(i + k)));
    }
    say(`server pid ${server.pid} on 127.0.0.1:${port}; ${customers.length} customers, ${sellable.length} products to put in carts; ${counts.connects}/${connections} connections open`);

    // Load: publisher, churn, cart writers, samplers.
    loadStart = now();
    const runUntil = loadStart + durationMs;
    let inFlight = 0;
    let seq = 0;
    const publishTick = () => {
      const due = Math.floor(((now() - loadStart) * rate) / 1000);
      for (let i = 0; seq < due && i < 10_000; i++) {
        if (inFlight >= 256) {
          counts.publishBehind = Math.max(counts.publishBehind, due - seq);
          break;
        }
        const s = seq++;
        inFlight += 1;
        counts.published += 1;
        void jsonRequest({
          port,
          method: 'POST',
          path: '/api/publish',
          headers: { authorization: `Bearer ${apiKey}` },
          json: { channel: `chat:soak-${s % channelCount}`, event: 'tick', data: { s, t: Date.now() } },
          timeoutMs: TIMEOUT_MS,
          agent,
        }).then((r) => {
          inFlight -= 1;
          tally(counts.publishOutcomes, outcomeOf(r));
          publishLatency.record(r.ms);
        });
      }
    };
    if (rate > 0) timers.push(setInterval(publishTick, 10));

    let churning = 0;
    if (churn > 0 && connections > 0) {
      timers.push(
        setInterval(
          () => {
            if (churning > 20) return; // reconnects are slow: do not pile them up
            const slot = Math.floor(Math.random() * connections);
            const old = subscribers[slot];
            if (!old || (!old.ready && !old.closedByUs)) return; // still opening
            old.close();
            counts.disconnects += 1;
            churning += 1;
            void openSlot(slot).finally(() => (churning -= 1));
          },
          1000 / churn,
        ),
      );
    }

    const cartWriter = async (c: Customer, index: number) => {
      const every = (1000 * customers.length) / cartRate;
      let next = now() + (index * every) / customers.length;
      const auth = { authorization: `Bearer ${c.account.token}` };
      for (let i = 0; i < 10_000_000 && now() < runUntil && !serverGone; i++) {
        const wait = next - now();
        if (wait > 0) await sleep(wait);
        next += every;
        const roll = Math.random();
        const inCart = new Set(c.lines.map((l) => `${l.productId}/${l.variantId ?? ''}`));
        const addable = sellable.filter((s) => !inCart.has(`${s.productId}/${s.variantId ?? ''}`));
        let req: Parameters<typeof jsonRequest>[0];
        if (c.lines.length === 0 || (addable.length > 0 && c.lines.length < 3 && roll < 0.5)) {
          const pick = addable[Math.floor(Math.random() * addable.length)]!;
          req = { port, method: 'POST', path: '/api/cart/items', json: { productId: pick.productId, ...(pick.variantId ? { variantId: pick.variantId } : {}), quantity: 1 }, timeoutMs: TIMEOUT_MS, agent, headers: auth };
        } else if (roll < 0.05) {
          req = { port, method: 'DELETE', path: '/api/cart', timeoutMs: TIMEOUT_MS, agent, headers: auth };
        } else {
          const line = c.lines[Math.floor(Math.random() * c.lines.length)]!;
          req =
            roll < 0.6
              ? { port, method: 'PATCH', path: `/api/cart/items/${line.id}`, json: { quantity: 1 + Math.floor(Math.random() * 3) }, timeoutMs: TIMEOUT_MS, agent, headers: auth }
              : { port, method: 'DELETE', path: `/api/cart/items/${line.id}`, timeoutMs: TIMEOUT_MS, agent, headers: auth };
        }
        const r = await jsonRequest<CartView>(req);
        counts.cartWrites += 1;
        cartLatency.record(r.ms);
        tally(counts.cartOutcomes, `${req.method} ${outcomeOf(r)}`);
        if (r.status >= 200 && r.status < 300 && r.data && typeof r.data.version === 'number') {
          c.expected.add(r.data.version);
          c.lines = r.data.items ?? [];
        } else if (r.status === 0 || r.status >= 400) {
          // Resync from the server's view before going on.
          const g = await jsonRequest<CartView>({ port, method: 'GET', path: '/api/cart', timeoutMs: TIMEOUT_MS, agent, headers: auth });
          if (g.status === 200 && g.data) c.lines = g.data.items ?? [];
        }
      }
    };
    const writers = cartRate > 0 ? customers.map((c, i) => cartWriter(c, i)) : [];

    let lastGc = now();
    const sampleTick = async () => {
      if (serverGone) return;
      try {
        rssSamples.push({ t: (now() - loadStart) / 1000, rss: rssBytes(server.pid) });
      } catch {
        return;
      }
      if (gcEveryMs > 0 && now() - lastGc >= gcEveryMs - 100) {
        lastGc = now();
        const mem = await server.gc().catch(() => null);
        if (mem) heapSamples.push({ t: (now() - loadStart) / 1000, heapUsed: mem.heapUsed, rss: mem.rss });
      }
      const last = rssSamples.at(-1)!;
      if (rssSamples.length % Math.max(1, Math.round(60_000 / sampleMs)) === 0) {
        say(
          `RSS ${fmt(last.rss / MIB, 1)} MiB; ${fmt(counts.published)} published, ${fmt(counts.chatDelivered)} delivered, ${fmt(counts.cartWrites)} cart writes, ` +
            `${fmt(counts.connects)} connects; lost ${counts.chatLost} + ${counts.cartGaps}, unexpected closes ${tallyText(counts.unexpectedCloses)}`,
        );
      }
    };
    await sampleTick();
    timers.push(setInterval(() => void sampleTick(), sampleMs));

    while (now() < runUntil && !serverGone) await sleep(250);
    loadEnd = now();
    for (const t of timers) clearInterval(t);
    cpuEnd = { at: performance.now(), server: serverGone ? cpuStart.server : cpuMs(server.pid), machine: machineBusyMs() };
    say('load stopped; draining');
    await withTimeout(Promise.all(writers), 30_000, 'cart writers').catch((err: unknown) => say(`cart writers: ${String(err)}`));
    for (let i = 0; i < 300 && inFlight > 0; i++) await sleep(50);
    // Every version a write answered should have been pushed as cart_update.
    const missing = () => customers.reduce((n, c) => n + [...c.expected].filter((v) => !c.pushed.has(v)).length, 0);
    const until = now() + drainMs;
    while (now() < until && missing() > 0) await sleep(100);
    await sleep(Math.min(1000, drainMs)); // the last chat publications
    for (const c of customers) counts.cartUpdatesExpected += c.expected.size;
    counts.cartUpdatesLost = missing();
  } finally {
    for (const t of timers) clearInterval(t);
    for (const s of subscribers) s?.close();
    for (const c of customers) c.sub.close();
    agent.destroy();
    stopping = true;
    await server.stop();
    say('stopped every connection and the server');
  }

  // ----- results
  const seconds = (loadEnd - loadStart) / 1000;
  const fit = (points: { t: number; y: number }[]) => {
    const n = points.length;
    if (n < 3) return { slope: Number.NaN, r2: Number.NaN, n };
    const mx = points.reduce((a, p) => a + p.t, 0) / n;
    const my = points.reduce((a, p) => a + p.y, 0) / n;
    let sxy = 0;
    let sxx = 0;
    let syy = 0;
    for (const p of points) {
      sxy += (p.t - mx) * (p.y - my);
      sxx += (p.t - mx) ** 2;
      syy += (p.y - my) ** 2;
    }
    const slope = sxy / sxx; // per second
    return { slope: slope * 600, r2: syy > 0 ? (sxy * sxy) / (sxx * syy) : 1, n };
  };
  const after = (t: number) => t * 1000 >= warmupMs;
  const rssFit = fit(rssSamples.filter((s) => after(s.t)).map((s) => ({ t: s.t, y: s.rss / 1e6 })));
  const heapFit = fit(heapSamples.filter((s) => after(s.t)).map((s) => ({ t: s.t, y: s.heapUsed / 1e6 })));
  const kept = rssSamples.filter((s) => after(s.t));
  const lat = (h: Histogram) => {
    const x = h.summary();
    return `${fmt(x.p50, 1)} / ${fmt(x.p99, 1)} / ${fmt(x.max)}`;
  };
  const okOf = (m: Record<string, number>) => Object.entries(m).reduce((n, [k, v]) => n + (/^(\w+ )?2\d\d$/.test(k) ? v : 0), 0);
  const bad = (m: Record<string, number>) => Object.fromEntries(Object.entries(m).filter(([k]) => !/^(\w+ )?2\d\d$/.test(k)));
  const cpuSeconds = (cpuEnd.at - cpuStart.at) / 1000;
  const serverCpu = cpuSeconds > 0 ? (cpuEnd.server - cpuStart.server) / 10 / cpuSeconds : Number.NaN;
  const machineCpu = cpuSeconds > 0 ? (cpuEnd.machine - cpuStart.machine) / 10 / cpuSeconds : Number.NaN;
  const verdict = (ok: boolean) => (ok ? 'pass' : 'FAIL');
  const rows: string[][] = [
    [
      'RSS slope after warm-up',
      `${fmt(rssFit.slope, 2)} MB / 10 min (R² ${fmt(rssFit.r2, 2)}, ${rssFit.n} samples from ${fmt(warmupMs / 1000)} s)`,
      `≤ ${TARGET_MB_PER_10_MIN} MB / 10 min: ${verdict(rssFit.slope <= TARGET_MB_PER_10_MIN)}`,
    ],
    ['RSS after warm-up: first / last / max', kept.length ? `${fmt(kept[0]!.rss / MIB, 1)} / ${fmt(kept.at(-1)!.rss / MIB, 1)} / ${fmt(Math.max(...kept.map((s) => s.rss)) / MIB, 1)} MiB` : 'n/a', ''],
    ...(gcEveryMs > 0
      ? [[`heap used after full GC, slope (${heapFit.n} readings)`, `${fmt(heapFit.slope, 2)} MB / 10 min (R² ${fmt(heapFit.r2, 2)}); ${heapSamples.length ? `${fmt(heapSamples[0]!.heapUsed / MIB, 1)} -> ${fmt(heapSamples.at(-1)!.heapUsed / MIB, 1)} MiB` : ''}`, '']]
      : []),
    ['publications acknowledged', `${fmt(okOf(counts.publishOutcomes))} of ${fmt(counts.published)} (${fmt(okOf(counts.publishOutcomes) / seconds, 1)}/s); HTTP p50/p99/max ${lat(publishLatency)} ms`, ''],
    ['publish errors', tallyText(bad(counts.publishOutcomes)), `none: ${verdict(Object.keys(bad(counts.publishOutcomes)).length === 0)}`],
    ['chat deliveries', `${fmt(counts.chatDelivered)} (${fmt(counts.chatDelivered / seconds)}/s); publish → receive p50/p99/max ${lat(deliveryLatency)} ms`, ''],
    ['chat lost / duplicated', `${fmt(counts.chatLost)} / ${fmt(counts.chatDuplicated)}`, `0: ${verdict(counts.chatLost === 0 && counts.chatDuplicated === 0)}`],
    ['connects / disconnects (churn)', `${fmt(counts.connects)} / ${fmt(counts.disconnects)} (${fmt(counts.disconnects / seconds, 1)}/s)`, ''],
    ['failed connects', tallyText(counts.connectFailures), `none: ${verdict(Object.keys(counts.connectFailures).length === 0)}`],
    ['unexpected closes', tallyText(counts.unexpectedCloses), `none: ${verdict(Object.keys(counts.unexpectedCloses).length === 0)}`],
    ['cart writes', `${fmt(counts.cartWrites)} (${fmt(counts.cartWrites / seconds, 1)}/s): ${tallyText(counts.cartOutcomes)}; p50/p99/max ${lat(cartLatency)} ms`, ''],
    ['cart writes not 2xx', tallyText(bad(counts.cartOutcomes)), `none: ${verdict(Object.keys(bad(counts.cartOutcomes)).length === 0)}`],
    ['cart_update: expected / received / lost', `${fmt(counts.cartUpdatesExpected)} / ${fmt(counts.cartUpdatesReceived)} / ${fmt(counts.cartUpdatesLost)}; channel gaps ${fmt(counts.cartGaps)}, duplicates ${fmt(counts.cartDuplicated)}`, `0 lost: ${verdict(counts.cartUpdatesLost === 0 && counts.cartGaps === 0)}`],
    ['CPU over the load (% of one CPU)', `server ${fmt(serverCpu)}, whole machine ${fmt(machineCpu)} of ${m.nproc * 100}`, ''],
  ];
  process.stdout.write(`\n## Soak: ${fmt(seconds / 60, 1)} min\n\n${table(['measure', 'value', 'target'], rows)}\n\n`);
  process.stdout.write(`RSS samples (MiB, every ${sampleMs / 1000} s): ${rssSamples.map((s) => fmt(s.rss / MIB, 1)).join(' ')}\n`);
  if (serverGone) process.stdout.write(`THE SERVER EXITED during the run (${serverGone})\n`);
  if (flags.json) {
    writeFileSync(
      flags.json,
      JSON.stringify(
        { machine: m, flags, seconds, warmupSeconds: warmupMs / 1000, rssFit, heapFit, counts, latency: { delivery: deliveryLatency.summary(), publish: publishLatency.summary(), cart: cartLatency.summary() }, rssSamples, heapSamples },
        null,
        1,
      ),
    );
    process.stdout.write(`raw samples: ${flags.json}\n`);
  }
}

runBench('soak', main);
