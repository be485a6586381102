/**
 * Cluster benchmark: several Switchboard nodes on one Redis, many connections, mixed personal and
 * group publications. Per run:
 *
 * 1. a fresh Redis key prefix; `--servers` nodes (`node dist/src/cli.js serve`, production mode,
 *    REDIS_URL, the prefix, shared JWT secret and API key, a temporary data folder each, default
 *    limits), each preloaded with server-hook (full GC + memoryUsage over IPC, exit when the bench
 *    goes away); a GC'd VmRSS reading of each: "before";
 * 2. one load process per node (bench/cluster-load) opens its share of `--connections`, each its
 *    own user `u<i>`, subscribed to `user:u<i>` and to the group channel `<ns>:g<i mod groups>`
 *    (groups of `--group-size`, members spread over every node). Batches of `--concurrency` per
 *    load process, retries with backoff, the phase bounded by `--connect-timeout`;
 * 3. settle; the nodes' own gauges (connections, subscriptions); GC'd VmRSS again: "after".
 *    RSS per connection = (after - before) / connections on that node;
 * 4. publish open loop at `--rate` publications/s in total (a third through each node's
 *    `POST /api/publish`), `--personal-share` to a random personal channel and the rest to a random
 *    group, for `--warmup` + `--seconds`; CPU of every node, load process and Redis (`INFO cpu`),
 *    and of the whole machine, over the measured seconds;
 * 5. drain (bounded), then delivered / expected per connection (expected = acknowledged
 *    publications on its two channels), duplicates, publish-to-receive latency (p50/p99/max, from
 *    the scheduled send time on the shared monotonic clock);
 * 6. stop every process by its pid, delete the run's Redis keys (SCAN + UNLINK by prefix).
 *
 *   npm run bench:cluster                                   # 40,000 connections, 3 nodes, 2 runs
 *   npm run bench:cluster -- --connections 300 --seconds 3 --runs 1   # smoke
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import {
  BENCH_API_KEY,
  BENCH_SECRET,
  Histogram,
  cpuMs,
  fmt,
  forkLoad,
  freePort,
  guardProcess,
  intFlag,
  machine,
  machineBusyMs,
  median,
  nextMessage,
  numFlag,
  openFilesLimit,
  parseArgs,
  rssBytes,
  sleep,
  startServer,
  stopChild,
  runBench,
  table,
  tallyText,
  waitForQuiet,
  withTimeout,
  type HistogramJson,
  type LatencySummary,
  type ServerProcess,
} from './common.js';
import {
  monoMs,
  type ClusterLoadMessage,
  type ConnectCommand,
  type ConnectReport,
  type DeliveryReport,
  type ExpectCommand,
  type PublishCommand,
  type PublishReport,
} from './cluster-load.js';

const flags = parseArgs(
  process.argv.slice(2),
  {
    connections: { default: '40000', help: 'connections in total, spread evenly over the nodes' },
    servers: { default: '3', help: 'Switchboard nodes, each with its own load process' },
    'group-size': { default: '10', help: 'connections per group channel (groups: connections / group-size)' },
    'group-namespace': { default: 'tenant', help: 'namespace of the group channels: tenant (members only, presence tracked) or public' },
    rate: { default: '500', help: 'publications per second in total (open loop, fixed schedule)' },
    'personal-share': { default: '0.5', help: 'share of publications to a personal channel (the rest go to a group)' },
    seconds: { default: '30', help: 'measured seconds of publishing' },
    warmup: { default: '5', help: 'seconds of publishing before the measured window' },
    drain: { default: '10', help: 'seconds to wait for stragglers after publishing stops' },
    settle: { default: '10', help: 'seconds between the connect phase and the readings / publishing (idle CPU is measured over it)' },
    payload: { default: '64', help: "bytes of padding in each publication's data" },
    concurrency: { default: '100', help: 'connections being opened at once, per load process' },
    'connect-timeout': { default: '900', help: 'seconds the connect phase may take; connections not open by then are reported as not reached' },
    attempts: { default: '6', help: 'attempts per connection before it counts as not reached' },
    'max-in-flight': { default: '256', help: 'publish requests in flight per load process; past it the publisher falls behind (shows as latency)' },
    runs: { default: '2', help: 'independent runs (fresh nodes, load processes and key prefix each)' },
    'redis-url': { default: 'redis://127.0.0.1:6379', help: 'the Redis every node shares' },
    'quiet-wait': { default: '300', help: 'seconds to wait before each run (and each repeated window) for other processes to leave the CPUs (0: do not wait)' },
    'quiet-below': { default: '15', help: 'the machine counts as quiet below this CPU use (% of all CPUs)' },
    'max-others': { default: '30', help: 'a publish window during which other processes used more CPU than this (% of one CPU) is discarded and repeated on the same connections' },
    retries: { default: '3', help: 'at most this many repeats of a discarded window (then it is kept and marked noisy)' },
    'cpu-prof': { default: '', help: 'directory: run the nodes with --cpu-prof writing there (node<i>-r<run>.cpuprofile, and .window.json: the kept measured window, for cpuprofile-top)' },
    json: { default: '', help: "also write every run's raw results to this file" },
    'max-seconds': { default: '5400', help: 'give up (and stop every process, delete the keys) after this long' },
  },
  'usage: node dist/bench/cluster.js [flags]',
);

const servers = intFlag(flags, 'servers', 1, 16);
const connections = intFlag(flags, 'connections', servers, 400_000);
const groupSize = intFlag(flags, 'group-size', 1, 100_000);
const groups = Math.ceil(connections / groupSize);
const groupNamespace = flags['group-namespace'];
if (groupNamespace !== 'tenant' && groupNamespace !== 'public') throw new Error(`--group-namespace must be tenant or public (got '${groupNamespace}')`);
const rate = numFlag(flags, 'rate', 1, 1_000_000);
const personalShare = numFlag(flags, 'personal-share', 0, 1);
const durationMs = numFlag(flags, 'seconds', 1, 3600) * 1000;
const warmupMs = numFlag(flags, 'warmup', 0, 600) * 1000;
const drainMs = numFlag(flags, 'drain', 0, 600) * 1000;
const settleMs = numFlag(flags, 'settle', 0, 600) * 1000;
const payloadBytes = intFlag(flags, 'payload', 0, 60_000);
const concurrency = intFlag(flags, 'concurrency', 1, 10_000);
const connectTimeoutMs = numFlag(flags, 'connect-timeout', 10, 24 * 3600) * 1000;
const attempts = intFlag(flags, 'attempts', 1, 100);
const maxInFlight = intFlag(flags, 'max-in-flight', 1, 100_000);
const runs = intFlag(flags, 'runs', 1, 20);
const redisUrl = flags['redis-url'];
const quietWaitMs = numFlag(flags, 'quiet-wait', 0, 3600) * 1000;
const quietBelow = numFlag(flags, 'quiet-below', 1, 100);
const maxOthers = numFlag(flags, 'max-others', 1, 10_000);
const retries = intFlag(flags, 'retries', 0, 20);
const maxSeconds = numFlag(flags, 'max-seconds', 10, 24 * 3600);

/** Everything else is the default: message rate and burst, connections per user (each connection
 * is its own user), slow-consumer bound, history, heartbeat, presence timeout. */
const SERVER_ENV = {
  SWITCHBOARD_DEMO_DATA: 'false',
  SWITCHBOARD_SHUTDOWN_GRACE_MS: '1000',
  REDIS_URL: redisUrl,
};

// ----- process and key clean-up, on every way out

/** Prefixes of runs whose keys are not deleted yet. */
const livePrefixes = new Set<string>();

/** On a signal, a failure or the deadline: every process killed by pid (common.ts), then the keys
 * of runs still open deleted (bounded), then exit. */
guardProcess(maxSeconds, async () => {
  for (const prefix of livePrefixes) {
    const n = await withTimeout(deleteKeys(prefix), 20_000, 'deleting keys').catch((err: unknown) => {
      process.stderr.write(`could not delete keys under ${prefix}: ${String(err)}\n`);
      return 0;
    });
    process.stderr.write(`deleted ${n} keys under ${prefix}\n`);
  }
});

// ----- Redis

function redisClient(): Redis {
  return new Redis(redisUrl, { maxRetriesPerRequest: 1, connectTimeout: 5000, lazyConnect: true });
}

async function withRedis<T>(fn: (r: Redis) => Promise<T>): Promise<T> {
  const r = redisClient();
  r.on('error', () => undefined);
  try {
    await r.connect();
    return await fn(r);
  } finally {
    r.disconnect();
  }
}

interface RedisReading {
  /** used_cpu_sys + used_cpu_user, ms. */
  cpuMs: number;
  usedMemory: number;
  clients: number;
}

async function redisReading(r: Redis): Promise<RedisReading> {
  const text = (await r.info('cpu')) + (await r.info('memory')) + (await r.info('clients'));
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(text)?.[1] ?? Number.NaN);
  return { cpuMs: (field('used_cpu_sys') + field('used_cpu_user')) * 1000, usedMemory: field('used_memory'), clients: field('connected_clients') };
}

const globOf = (prefix: string) => `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;

/** SCAN + UNLINK every key under `prefix`; returns how many. */
async function deleteKeys(prefix: string): Promise<number> {
  return withRedis(async (r) => {
    let deleted = 0;
    let cursor = '0';
    for (let i = 0; i < 1_000_000; i++) {
      const [next, keys] = await r.scan(cursor, 'MATCH', globOf(prefix), 'COUNT', 2000);
      if (keys.length > 0) deleted += await r.unlink(...keys);
      cursor = next;
      if (cursor === '0') break;
    }
    livePrefixes.delete(prefix);
    return deleted;
  });
}

/** How many keys are under `prefix` (SCAN; the shared Redis may hold other runs' keys). */
async function countKeys(r: Redis, prefix: string): Promise<number> {
  let n = 0;
  let cursor = '0';
  for (let i = 0; i < 1_000_000; i++) {
    const [next, keys] = await r.scan(cursor, 'MATCH', globOf(prefix), 'COUNT', 2000);
    n += keys.length;
    cursor = next;
    if (cursor === '0') break;
  }
  return n;
}

// ----- readings

interface Sample {
  at: number;
  servers: number[];
  loads: number[];
  redisCpuMs: number;
  busyMs: number;
  selfMs: number;
}

async function sample(r: Redis, nodes: ServerProcess[], loads: ChildProcess[]): Promise<Sample> {
  const self = process.cpuUsage();
  return {
    at: monoMs(),
    servers: nodes.map((s) => cpuMs(s.pid)),
    loads: loads.map((l) => cpuMs(l.pid!)),
    redisCpuMs: (await redisReading(r)).cpuMs,
    busyMs: machineBusyMs(),
    selfMs: (self.user + self.system) / 1000,
  };
}

interface CpuWindow {
  seconds: number;
  /** % of one CPU. */
  servers: number[];
  loads: number[];
  redis: number;
  /** Every other process on the machine (including other sessions' work), % of one CPU. */
  others: number;
  /** The whole machine, % of all CPUs. */
  machine: number;
}

function cpuWindow(a: Sample, b: Sample, ncpu: number): CpuWindow {
  const ms = b.at - a.at;
  const pct = (x: number) => (x / ms) * 100;
  const servers = b.servers.map((v, i) => v - a.servers[i]!);
  const loads = b.loads.map((v, i) => v - a.loads[i]!);
  const redis = b.redisCpuMs - a.redisCpuMs;
  const busy = b.busyMs - a.busyMs;
  const sum = (xs: number[]) => xs.reduce((s, x) => s + x, 0);
  const others = busy - sum(servers) - sum(loads) - redis - (b.selfMs - a.selfMs);
  return { seconds: ms / 1000, servers: servers.map(pct), loads: loads.map(pct), redis: pct(redis), others: Math.max(0, pct(others)), machine: pct(busy) / ncpu };
}

interface MemoryReading {
  rss: number;
  heapUsed: number;
}

/** Two full GCs in the node (server-hook), a pause for the allocator, then VmRSS (median of 3). */
async function settledMemory(server: ServerProcess): Promise<MemoryReading> {
  const memory = await server.gc();
  await sleep(500);
  const samples: number[] = [];
  for (let i = 0; i < 3; i++) {
    samples.push(rssBytes(server.pid));
    await sleep(200);
  }
  return { rss: median(samples), heapUsed: memory.heapUsed };
}

/** A node's /metrics text (null if it did not answer within 10 s). */
function scrape(port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const req = get({ host: '127.0.0.1', port, path: '/metrics', timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve(body));
      res.on('error', () => resolve(null));
    });
    req.on('error', () => resolve(null));
    req.on('timeout', () => req.destroy());
  });
}

/** The sum of every sample of a metric (all label sets), NaN if absent. */
function metric(text: string | null, name: string): number {
  if (text === null) return Number.NaN;
  let sum = Number.NaN;
  for (const match of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? ([-+\\deE.]+)$`, 'gm'))) sum = (Number.isNaN(sum) ? 0 : sum) + Number(match[1]);
  return sum;
}

interface Gauges {
  connections: number;
  subscriptions: number;
  channels: number;
}

const gaugesOf = (text: string | null): Gauges | null =>
  text === null
    ? null
    : { connections: metric(text, 'switchboard_connections'), subscriptions: metric(text, 'switchboard_subscriptions'), channels: metric(text, 'switchboard_channels') };

/** What a node's own metrics say about a window: prom-client's event-loop delay histogram is reset
 * by every scrape, so a scrape at the start and one at the end bound it to the window. */
interface NodeWindow {
  /** Event-loop delay over the window (monitorEventLoopDelay, 10 ms resolution), ms. */
  loopLagMaxMs: number;
  loopLagP99Ms: number;
  /** V8 GC pause time in the window, ms, and per second. */
  gcMs: number;
  /** Frames written to clients in the window (publications and presence). */
  framesOut: number;
}

function nodeWindow(a: string | null, b: string | null): NodeWindow {
  return {
    loopLagMaxMs: metric(b, 'nodejs_eventloop_lag_max_seconds') * 1000,
    loopLagP99Ms: metric(b, 'nodejs_eventloop_lag_p99_seconds') * 1000,
    gcMs: (metric(b, 'nodejs_gc_duration_seconds_sum') - metric(a, 'nodejs_gc_duration_seconds_sum')) * 1000,
    framesOut: metric(b, 'switchboard_messages_out_total') - metric(a, 'switchboard_messages_out_total'),
  };
}

const is =
  <K extends string>(key: K) =>
  (msg: unknown): msg is Record<K, unknown> =>
    typeof msg === 'object' && msg !== null && (key in msg || 'error' in msg);

function unwrap<T>(msg: Record<string, unknown>, key: string, what: string): T {
  if ('error' in msg) throw new Error(`load process, ${what}: ${String(msg.error)}`);
  return msg[key] as T;
}

// ----- one run

interface RunResult {
  run: number;
  prefix: string;
  loadavgBefore: string;
  loadavgAfter: string;
  busyBeforePct: number;
  redisOtherClients: number;
  connect: { reports: ConnectReport[]; opened: number; seconds: number; cpu: CpuWindow };
  /** CPU while every connection is open and nothing is published (the settle pause). */
  idleCpu: CpuWindow;
  gauges: (Gauges | null)[];
  /** The nodes' own metrics over the measured window (from 2 s before it: see the scrape). */
  nodeWindows: NodeWindow[];
  /** How long the three /metrics scrapes took (in parallel). */
  scrapeMs: number;
  memory: { before: MemoryReading; after: MemoryReading; connections: number; rssUnderLoad: number; rssKiBPerConnection: number; heapKiBPerConnection: number }[];
  publish: { reports: PublishReport[]; published: number; acked: number; personal: number; group: number; errors: Record<string, number>; maxBehind: number; requestLatency: LatencySummary };
  delivery: { reports: DeliveryReport[]; expected: number; delivered: number; duplicates: number; extra: number; connectionsWithLoss: number; gaps: number; closes: Record<string, number>; live: number; aliveAtEnd: number };
  latency: LatencySummary;
  personalLatency: LatencySummary;
  groupLatency: LatencySummary;
  maxBySecond: number[];
  cpu: CpuWindow;
  /** Other processes used more than --max-others during the kept window (out of retries). */
  noisy: boolean;
  /** Windows repeated because other processes used more than --max-others. */
  discarded: { others: number; p50: number; p99: number; delivered: number; expected: number }[];
  redisMemory: { before: number; afterConnect: number; afterPublish: number };
  /** Keys under the run's prefix after publishing, and deleted at the end (after the nodes stopped). */
  keysRunning: number;
  keys: number;
}

function merged(list: HistogramJson[]): LatencySummary {
  const h = new Histogram();
  for (const x of list) h.merge(x);
  return h.summary();
}

function addInto(into: Record<string, number>, from: Record<string, number>): Record<string, number> {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
  return into;
}

async function runOnce(run: number, ncpu: number): Promise<RunResult> {
  const busyBeforePct = quietWaitMs > 0 ? await waitForQuiet(quietWaitMs, quietBelow, (line) => process.stdout.write(`${line}\n`)) : Number.NaN;
  const loadavgBefore = machine().loadavg;
  const prefix = `sbbench:cluster:${process.pid}-${Date.now().toString(36)}-r${run}:`;
  livePrefixes.add(prefix);
  const redis = redisClient();
  redis.on('error', () => undefined);
  await redis.connect();
  const nodes: ServerProcess[] = [];
  const loads: ChildProcess[] = [];
  const say = (line: string) => process.stdout.write(`  [run ${run}] ${line}\n`);
  let keys = 0;
  let result: RunResult;
  try {
    const redisStart = await redisReading(redis);
    // Sequentially: three nodes migrating SQLite and connecting to Redis at once on two busy CPUs
    // could miss startServer's readiness bound.
    for (let s = 0; s < servers; s++) {
      const port = await freePort();
      const nodeArgs = flags['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', flags['cpu-prof'], '--cpu-prof-name', `node${s}-r${run}.cpuprofile`] : [];
      const node = await startServer('switchboard', { port, nodeArgs, env: { ...SERVER_ENV, SWITCHBOARD_REDIS_PREFIX: prefix } });
      nodes.push(node);
    }
    say(`${servers} nodes up (pids ${nodes.map((n) => n.pid).join(', ')}, ports ${nodes.map((n) => n.port).join(', ')}), prefix ${prefix}`);
    await sleep(2000);
    const before = await Promise.all(nodes.map(settledMemory));

    // ----- connect
    const per = Math.ceil(connections / servers);
    for (let s = 0; s < servers; s++) {
      const load = forkLoad('cluster-load.js');
      loads.push(load);
    }
    const opened = new Array<number>(servers).fill(0);
    const failed = new Array<number>(servers).fill(0);
    const onProgress = (msg: ClusterLoadMessage) => {
      if ('progress' in msg) {
        opened[msg.progress.load] = msg.progress.opened;
        failed[msg.progress.load] = msg.progress.failedAttempts;
      }
    };
    for (const load of loads) load.on('message', onProgress);
    const connectStart = await sample(redis, nodes, loads);
    const replies = loads.map((load, s) => {
      const from = s * per;
      const cmd: ConnectCommand = {
        load: s,
        wsUrl: `ws://127.0.0.1:${nodes[s]!.port}/ws`,
        secret: BENCH_SECRET,
        from,
        count: Math.max(0, Math.min(per, connections - from)),
        groups,
        groupNamespace,
        concurrency,
        phaseTimeoutMs: connectTimeoutMs,
        attemptTimeoutMs: 30_000,
        maxAttempts: attempts,
      };
      const reply = nextMessage(load, is('connected'), connectTimeoutMs + 60_000, `load ${s} connect phase`);
      load.send({ connect: cmd });
      return reply;
    });
    const ticker = setInterval(() => {
      const total = opened.reduce((a, b) => a + b, 0);
      say(`connecting: ${fmt(total)} / ${fmt(connections)} open, ${fmt(failed.reduce((a, b) => a + b, 0))} failed attempts, ${((monoMs() - connectStart.at) / 1000).toFixed(0)} s`);
    }, 10_000);
    let connectReports: ConnectReport[];
    try {
      connectReports = (await Promise.all(replies)).map((m, s) => unwrap<ConnectReport>(m, 'connected', `load ${s} connect`));
    } finally {
      clearInterval(ticker);
    }
    for (const load of loads) load.off('message', onProgress);
    const connectEnd = await sample(redis, nodes, loads);
    const openedTotal = connectReports.reduce((n, r) => n + r.opened, 0);
    say(`connected ${fmt(openedTotal)} / ${fmt(connections)} in ${((connectEnd.at - connectStart.at) / 1000).toFixed(1)} s`);

    const idleStart = await sample(redis, nodes, loads);
    await sleep(settleMs);
    const idleEnd = await sample(redis, nodes, loads);
    const nodeGauges = (await Promise.all(nodes.map((n) => scrape(n.port)))).map(gaugesOf);
    const after = await Promise.all(nodes.map(settledMemory));
    const redisAfterConnect = await redisReading(redis);

    // ----- publish (repeated, on the same connections, when other processes took the CPUs)
    const publishPhase = async (attempt: number) => {
      if (attempt > 0 && quietWaitMs > 0) await waitForQuiet(quietWaitMs, quietBelow, say);
      const startAt = monoMs() + 1000;
      const measureFrom = startAt + warmupMs;
      const endAt = measureFrom + durationMs;
      const publishReplies = loads.map((load, s) => {
        const cmd: PublishCommand = {
          httpUrl: `http://127.0.0.1:${nodes[s]!.port}`,
          apiKey: BENCH_API_KEY,
          connections,
          groups,
          groupNamespace,
          rate: rate / servers,
          personalShare,
          startAt,
          measureFrom,
          endAt,
          payloadBytes,
          maxInFlight,
          seed: run * 1000 + attempt * 10 + s + 1,
        };
        const reply = nextMessage(load, is('published'), endAt - monoMs() + 60_000, `load ${s} publish phase`);
        load.send({ publish: cmd });
        return reply;
      });
      // A scrape costs the node a few ms or more with 13,000 sockets (prom-client lists open fds and
      // handles), so the first is taken in the warm-up, before the publications whose latency counts.
      await sleep(measureFrom - Math.min(2000, warmupMs / 2) - monoMs());
      const scrapeStarted = monoMs();
      const metricsStart = await Promise.all(nodes.map((n) => scrape(n.port)));
      const scrapeMs = monoMs() - scrapeStarted;
      await sleep(measureFrom - monoMs());
      const windowStart = await sample(redis, nodes, loads);
      await sleep(endAt - monoMs());
      const windowEnd = await sample(redis, nodes, loads);
      const metricsEnd = await Promise.all(nodes.map((n) => scrape(n.port)));
      const rssUnderLoad = nodes.map((n) => rssBytes(n.pid));
      const publishReports = (await Promise.all(publishReplies)).map((m, s) => unwrap<PublishReport>(m, 'published', `load ${s} publish`));
      // Expected per channel: acknowledged publications summed over every publisher.
      const perPersonal = new Array<number>(connections).fill(0);
      const perGroup = new Array<number>(groups).fill(0);
      for (const r of publishReports) {
        r.perPersonal.forEach((n, i) => (perPersonal[i]! += n));
        r.perGroup.forEach((n, i) => (perGroup[i]! += n));
      }
      const deliveryReplies = loads.map((load, s) => {
        const from = s * per;
        const cmd: ExpectCommand = { personal: perPersonal.slice(from, from + per), group: perGroup, drainMs, measureFrom, measureUntil: endAt };
        const reply = nextMessage(load, is('delivered'), drainMs + 60_000, `load ${s} delivery count`);
        load.send({ expect: cmd });
        return reply;
      });
      const deliveryReports = (await Promise.all(deliveryReplies)).map((m, s) => unwrap<DeliveryReport>(m, 'delivered', `load ${s} delivery count`));
      return {
        publishReports,
        deliveryReports,
        rssUnderLoad,
        cpu: cpuWindow(windowStart, windowEnd, ncpu),
        nodeWindows: nodes.map((_, s) => nodeWindow(metricsStart[s]!, metricsEnd[s]!)),
        scrapeMs,
        window: { startUs: windowStart.at * 1000, endUs: windowEnd.at * 1000 },
      };
    };
    let phase = await publishPhase(0);
    const discarded: { others: number; p50: number; p99: number; delivered: number; expected: number }[] = [];
    for (let attempt = 1; phase.cpu.others > maxOthers && attempt <= retries; attempt++) {
      const l = merged(phase.deliveryReports.map((r) => r.latency));
      const d = { others: phase.cpu.others, p50: l.p50, p99: l.p99, delivered: phase.deliveryReports.reduce((n, r) => n + r.delivered, 0), expected: phase.deliveryReports.reduce((n, r) => n + r.expected, 0) };
      discarded.push(d);
      say(
        `publish window discarded: other processes used ${fmt(d.others)}% of a CPU (over --max-others ${maxOthers}); it had ${fmt(d.delivered)} / ${fmt(d.expected)} delivered, ` +
          `p50 ${fmt(d.p50, 1)} p99 ${fmt(d.p99, 1)} ms; repeating on the same connections`,
      );
      phase = await publishPhase(attempt);
    }
    const { publishReports, deliveryReports, rssUnderLoad } = phase;
    if (flags['cpu-prof']) {
      // For cpuprofile-top: only the kept window's samples, and time per frame the node wrote.
      const publications = publishReports.reduce((n, r) => n + r.acked, 0);
      for (const [s, w] of phase.nodeWindows.entries()) {
        const window = { ...phase.window, deliveries: w.framesOut, publications };
        writeFileSync(join(flags['cpu-prof'], `node${s}-r${run}.window.json`), JSON.stringify(window));
      }
    }
    say(`published ${fmt(publishReports.reduce((n, r) => n + r.acked, 0))} (acknowledged)${phase.cpu.others > maxOthers ? ' [NOISY: kept after the retries]' : ''}`);
    const redisAfterPublish = await redisReading(redis);
    const keysRunning = await countKeys(redis, prefix);

    const sum = <T>(list: T[], f: (x: T) => number) => list.reduce((n, x) => n + f(x), 0);
    result = {
      run,
      prefix,
      loadavgBefore,
      loadavgAfter: machine().loadavg,
      busyBeforePct,
      redisOtherClients: redisStart.clients - 1,
      connect: { reports: connectReports, opened: openedTotal, seconds: (connectEnd.at - connectStart.at) / 1000, cpu: cpuWindow(connectStart, connectEnd, ncpu) },
      idleCpu: cpuWindow(idleStart, idleEnd, ncpu),
      gauges: nodeGauges,
      nodeWindows: phase.nodeWindows,
      scrapeMs: phase.scrapeMs,
      memory: nodes.map((_, s) => {
        const n = connectReports[s]!.opened;
        return {
          before: before[s]!,
          after: after[s]!,
          connections: n,
          rssUnderLoad: rssUnderLoad[s]!,
          rssKiBPerConnection: (after[s]!.rss - before[s]!.rss) / 1024 / n,
          heapKiBPerConnection: (after[s]!.heapUsed - before[s]!.heapUsed) / 1024 / n,
        };
      }),
      publish: {
        reports: publishReports,
        published: sum(publishReports, (r) => r.published),
        acked: sum(publishReports, (r) => r.acked),
        personal: sum(publishReports, (r) => r.personalAcked),
        group: sum(publishReports, (r) => r.groupAcked),
        errors: publishReports.reduce((m, r) => addInto(m, r.errors), {} as Record<string, number>),
        maxBehind: Math.max(...publishReports.map((r) => r.maxBehind)),
        requestLatency: merged(publishReports.map((r) => r.requestLatency)),
      },
      delivery: {
        reports: deliveryReports,
        expected: sum(deliveryReports, (r) => r.expected),
        delivered: sum(deliveryReports, (r) => r.delivered),
        duplicates: sum(deliveryReports, (r) => r.duplicates),
        extra: sum(deliveryReports, (r) => r.extra),
        connectionsWithLoss: sum(deliveryReports, (r) => r.connectionsWithLoss),
        gaps: sum(deliveryReports, (r) => r.gaps),
        closes: deliveryReports.reduce((m, r) => addInto(m, r.closes), {} as Record<string, number>),
        live: sum(deliveryReports, (r) => r.live),
        aliveAtEnd: sum(deliveryReports, (r) => r.aliveAtEnd),
      },
      latency: merged(deliveryReports.map((r) => r.latency)),
      personalLatency: merged(deliveryReports.map((r) => r.personalLatency)),
      groupLatency: merged(deliveryReports.map((r) => r.groupLatency)),
      maxBySecond: Array.from({ length: Math.max(0, ...deliveryReports.map((r) => r.maxBySecond.length)) }, (_, i) =>
        Math.max(0, ...deliveryReports.map((r) => r.maxBySecond[i] ?? 0)),
      ),
      cpu: phase.cpu,
      noisy: phase.cpu.others > maxOthers,
      discarded,
      redisMemory: { before: redisStart.usedMemory, afterConnect: redisAfterConnect.usedMemory, afterPublish: redisAfterPublish.usedMemory },
      keysRunning,
      keys: 0,
    };
  } catch (err) {
    for (const [s, node] of nodes.entries()) process.stderr.write(`node ${s} (pid ${node.pid}) stderr:\n${node.stderr()}\n`);
    throw err;
  } finally {
    // Nodes first (graceful: each closes its sessions and removes its own presence entries), then
    // the load processes; stopChild sends SIGTERM to the pid and SIGKILL after 10 s.
    await Promise.all(nodes.map((n) => n.stop()));
    for (const load of loads) {
      if (load.connected) load.send({ close: true });
    }
    await Promise.all(loads.map((l) => stopChild(l)));
    redis.disconnect();
    keys = await deleteKeys(prefix);
    say(`stopped every process; deleted ${fmt(keys)} keys under ${prefix}`);
  }
  return { ...result, keys };
}

// ----- output

const pct = (x: number) => `${fmt(x)}%`;
const mib = (bytes: number) => fmt(bytes / 2 ** 20, 1);
const lat = (l: LatencySummary) => `${fmt(l.p50, 1)} / ${fmt(l.p99, 1)} / ${fmt(l.max, 0)}`;

function describe(r: RunResult): string {
  const c = r.connect;
  const connectErrors = c.reports.reduce((m, x) => addInto(m, x.errors), {} as Record<string, number>);
  const d = r.delivery;
  const p = r.publish;
  const g = r.gauges;
  const lines = [
    `run ${r.run}${r.noisy ? ' [NOISY: other processes over --max-others in every window]' : ''}: loadavg ${r.loadavgBefore} before, ${r.loadavgAfter} after; machine busy before ${fmt(r.busyBeforePct)}%; other Redis clients at start: ${r.redisOtherClients}`,
    `  connect: ${fmt(c.opened)} / ${fmt(connections)} open in ${fmt(c.seconds, 1)} s (${fmt(c.opened / c.seconds)}/s); failed attempts: ${tallyText(connectErrors)}` +
      (c.opened < connections ? `; NOT REACHED: ${fmt(connections - c.opened)} (first error: ${c.reports.find((x) => x.firstError)?.firstError ?? '?'})` : ''),
    `           nodes report ${g.map((x) => (x ? `${fmt(x.connections)} conn / ${fmt(x.subscriptions)} subs / ${fmt(x.channels)} channels` : 'n/a')).join('; ')}`,
    `           CPU (% of one CPU) nodes ${c.cpu.servers.map(pct).join(' ')}, loads ${c.cpu.loads.map(pct).join(' ')}, Redis ${pct(c.cpu.redis)}, others ${pct(c.cpu.others)}`,
    ...(r.memory.some((m) => m.connections < 2000) ? ['  memory:  (fewer than 2,000 connections on a node: GC and allocator noise outweigh them, so KiB/conn means nothing here)'] : []),
    `  memory:  ${r.memory.map((m, s) => `node ${s}: ${mib(m.before.rss)} -> ${mib(m.after.rss)} MiB for ${fmt(m.connections)} conn = ${fmt(m.rssKiBPerConnection, 2)} KiB/conn (heap ${fmt(m.heapKiBPerConnection, 2)}), ${mib(m.rssUnderLoad)} MiB under load`).join('; ')}`,
    `           Redis used_memory ${mib(r.redisMemory.before)} -> ${mib(r.redisMemory.afterConnect)} MiB after connect -> ${mib(r.redisMemory.afterPublish)} MiB after publishing; ${fmt(r.keysRunning)} keys under the prefix after publishing, ${fmt(r.keys)} deleted at the end`,
    `  publish: ${fmt(p.acked)} of ${fmt(p.published)} acknowledged (${fmt(p.personal)} personal, ${fmt(p.group)} group) = ${fmt(p.acked / ((warmupMs + durationMs) / 1000), 1)}/s; errors: ${tallyText(p.errors)}; max behind schedule ${p.maxBehind}; HTTP p50/p99/max ${lat(p.requestLatency)} ms`,
    `  deliver: ${fmt(d.delivered)} / ${fmt(d.expected)} expected (${fmt((d.delivered / d.expected) * 100, 3)}%), ${fmt(d.duplicates)} duplicates, ${fmt(d.extra)} extra, ${fmt(d.connectionsWithLoss)} connections with loss, ${fmt(d.gaps)} gaps; ` +
      `${fmt(d.aliveAtEnd)} of ${fmt(d.live)} open at the end (closes: ${tallyText(d.closes)})`,
    `  latency p50 / p99 / max ms: all ${lat(r.latency)} (${fmt(r.latency.samples)} samples), personal ${lat(r.personalLatency)}, group ${lat(r.groupLatency)}`,
    `           worst latency by second of the window (ms): ${r.maxBySecond.map((x) => fmt(x)).join(' ')}`,
    `  CPU over the ${fmt(r.cpu.seconds, 1)} s measured (% of one CPU): nodes ${r.cpu.servers.map(pct).join(' ')}, loads ${r.cpu.loads.map(pct).join(' ')}, Redis ${pct(r.cpu.redis)}, others ${pct(r.cpu.others)}; machine ${pct(r.cpu.machine)} of ${machine().nproc} CPUs`,
    `           nodes' own view of the window (and the 2 s before it; /metrics took ${fmt(r.scrapeMs)} ms): event-loop delay max ${r.nodeWindows.map((w) => fmt(w.loopLagMaxMs)).join(' / ')} ms (p99 ${r.nodeWindows.map((w) => fmt(w.loopLagP99Ms)).join(' / ')}), ` +
      `GC ${r.nodeWindows.map((w) => fmt(w.gcMs)).join(' / ')} ms, frames written ${r.nodeWindows.map((w) => fmt(w.framesOut)).join(' / ')}`,
    `           load processes' own view of the window: event-loop delay max ${d.reports.map((x) => fmt(x.loopDelayMaxMs)).join(' / ')} ms (p99 ${d.reports.map((x) => fmt(x.loopDelayP99Ms)).join(' / ')}), GC ${d.reports.map((x) => fmt(x.gcMs)).join(' / ')} ms`,
    `  idle:    CPU over ${fmt(r.idleCpu.seconds, 1)} s with every connection open, nothing published: nodes ${r.idleCpu.servers.map(pct).join(' ')}, loads ${r.idleCpu.loads.map(pct).join(' ')}, Redis ${pct(r.idleCpu.redis)}, others ${pct(r.idleCpu.others)}`,
    ...r.discarded.map(
      (x, i) => `  discarded window ${i + 1}: others ${fmt(x.others)}% of a CPU; ${fmt(x.delivered)} / ${fmt(x.expected)} delivered, p50 ${fmt(x.p50, 1)} p99 ${fmt(x.p99, 1)} ms`,
    ),
  ];
  return lines.join('\n');
}

function summary(results: RunResult[]): string {
  const rows = results.map((r) => {
    const m = r.memory;
    const conns = m.reduce((n, x) => n + x.connections, 0);
    const rssKiB = m.reduce((n, x) => n + (x.after.rss - x.before.rss), 0) / 1024 / conns;
    return [
      `${r.run}${r.noisy ? ' (noisy)' : ''}`,
      `${fmt(r.connect.opened)} / ${fmt(connections)}`,
      fmt(r.connect.seconds, 0),
      `${fmt(r.delivery.delivered)} / ${fmt(r.delivery.expected)}`,
      fmt(r.delivery.duplicates),
      fmt(r.latency.p50, 1),
      fmt(r.latency.p99, 1),
      fmt(r.latency.max, 0),
      fmt(rssKiB, 2),
      r.cpu.servers.map((x) => fmt(x)).join(' / '),
      fmt(r.cpu.redis),
      fmt(r.connect.cpu.redis),
      `${mib(r.redisMemory.afterConnect - r.redisMemory.before)} / ${mib(r.redisMemory.afterPublish - r.redisMemory.before)}`,
      fmt(r.cpu.others),
    ];
  });
  return table(
    [
      'run',
      'connections',
      'connect s',
      'delivered / expected',
      'dup',
      'p50 ms',
      'p99 ms',
      'max ms',
      'node RSS KiB/conn',
      'node CPU % (publish)',
      'Redis CPU % (publish)',
      'Redis CPU % (connect)',
      'Redis MiB +connect / +publish',
      'others CPU %',
    ],
    rows,
  );
}

async function main(): Promise<void> {
  if (flags['cpu-prof']) mkdirSync(flags['cpu-prof'], { recursive: true });
  const m = machine();
  const fdLimit = openFilesLimit();
  const per = Math.ceil(connections / servers);
  if (per + 200 > fdLimit) {
    throw new Error(`ulimit -n is ${fdLimit}: ${fmt(per)} connections per node and load process need more (raise it, or use more --servers)`);
  }
  const ports = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
  process.stdout.write(
    `cluster: ${fmt(connections)} connections over ${servers} nodes (${fmt(per)} each, one load process each), Redis ${redisUrl}; ` +
      `each on user:u<i> and ${groupNamespace}:g<i mod ${fmt(groups)}> (groups of ${groupSize}); ` +
      `${fmt(rate)} pub/s (${fmt(personalShare * 100)}% personal), ${warmupMs / 1000} s warm-up + ${durationMs / 1000} s measured, payload padding ${payloadBytes} B; ${runs} run(s)\n` +
      `machine: ${m.nproc} CPUs (${m.cpu}), node ${m.node}, loadavg ${m.loadavg}, ulimit -n ${fdLimit}, ephemeral ports ${ports.join('-')}\n\n`,
  );
  const results: RunResult[] = [];
  for (let run = 1; run <= runs; run++) {
    const r = await runOnce(run, m.nproc);
    results.push(r);
    process.stdout.write(`${describe(r)}\n\n`);
  }
  process.stdout.write(`${summary(results)}\n`);
  if (flags.json) {
    const slim = results.map((r) => ({
      ...r,
      publish: { ...r.publish, reports: r.publish.reports.map(({ perPersonal: _p, perGroup: _g, ...rest }) => rest) },
    }));
    writeFileSync(flags.json, JSON.stringify({ machine: m, flags, results: slim }, null, 2));
    process.stdout.write(`raw results: ${flags.json}\n`);
  }
}

runBench('cluster', main);
