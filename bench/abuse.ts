/**
 * Abuse benchmark: what an outsider with an ordinary self-registered customer account (or none)
 * can do to one Switchboard node, and what a well-behaved client on the same node sees meanwhile.
 *
 * 1. One server: `node dist/src/cli.js serve` (common.ts startServer: 127.0.0.1, a free port, a
 *    fresh temporary data folder, LOG_LEVEL=warn) in development mode, so the demo shop loads and
 *    the server generates its publish API key into `<data dir>/api-key`, which the bench reads.
 *    Every limit is the default. VmRSS from /proc/<pid>/status every 250 ms, all run long. Before
 *    it starts, the bench waits (bounded by `--quiet-wait`) for other processes to leave the CPUs.
 * 2. The well-behaved client (bench/abuse-client.ts, its own process and its own registered
 *    account) runs throughout: pings every 20 ms, a publication every 50 ms on its `user:<id>`
 *    channel through the publish API checked for loss, duplicates and order, /healthz every 250 ms.
 * 3. Phases, each attack followed by a settle pause (the attack's connections are torn down there):
 *    - baseline: `--baseline` s of quiet;
 *    - attack 1, reply amplification: one self-registered customer fills `--channel` (history of
 *      100) with `--amp-fill` publications of `--amp-payload` bytes over the WebSocket publish op,
 *      then opens `--amp-connections` (32, the per-user cap) connections that authenticate and then
 *      never read (the socket is paused), and on each writes `--amp-requests` (50) `history`
 *      requests with limit 1000 in a single write; held `--amp-hold` s. Not reading does not stop
 *      them writing: each sends a pong every 10 s, so the server cannot close them for silence
 *      (two heartbeats, 50 s). The TCP state of both ends of each connection (/proc/net/tcp) shows
 *      whether and when the server closed it; after the hold they are read for `--amp-drain` s
 *      (close frames) and destroyed;
 *    - attack 2, nested JSON: `--nested-sockets` (40) unauthenticated WebSockets are opened, then
 *      each writes `--nested-frames` (100) frames of 64 KiB of nested JSON at once (half pure
 *      `[[[…]]]`, half a ping request carrying it) and is read until the server closes it, while
 *      `--nested-workers` (20) parallel `POST /api/auth/login` of a 1 MiB body of ~500,000 nested
 *      arrays run for `--nested-seconds` s;
 *    - attack 3, idle sockets: `--idle-connections` (1,000) TCP connections that never send a
 *      byte, held until the server closes them or `--idle-hold` s pass.
 *    If an attack kills the server, that is recorded (exit, the fatal line of its stderr), and the
 *    next attack gets a fresh server, accounts and good client after a baseline of its own.
 * 4. Per phase: server RSS peak minus its RSS at the phase start, the good client's ping
 *    p50/p99/max, /healthz max, lost and duplicated publications, server and other CPU, the
 *    closes the server made by code (its /metrics); per attack what happened to the attacker's
 *    connections and requests.
 *
 * Safety: attack 1 can make the server allocate more than the machine has (32 x 50 replies of
 * 5.7 MiB). The server builds every reply of a burst once it has read it, so the bursts go out one
 * connection at a time: the next once the server has read the previous one (its receive queue for
 * that socket, in /proc/net/tcp, is empty) and at least `--amp-stagger` ms later. Before each burst
 * and during the hold, a server over `--rss-cap` MiB or a machine under `--min-available` MiB
 * available ends the attack at once (its sockets destroyed), and the figures say so, with the RSS
 * per burst and what all bursts would have taken. Every wait is bounded, every process is stopped
 * by its pid.
 *
 *   npm run bench:abuse                 # ~4 min
 *   npm run bench:abuse -- --quick      # every phase short and every attack small: the pipeline in ~1.5 min
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { connect as tcpConnect, type Socket } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { ChildProcess } from 'node:child_process';
import {
  DEVELOPMENT_ENV,
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
  runBench,
  sleep,
  startServer,
  stopChild,
  table,
  tally,
  tallyText,
  waitForQuiet,
  type HistogramJson,
  type LatencySummary,
  type ServerProcess,
} from './common.js';
import { httpRequest, outcomeOf, register, type Account } from './http.js';
import { clientFrame, openRawWs, type RawWs } from './raw-ws.js';
import type { GoodClientCommand, GoodClientMessage, GoodClientResult, PhaseFigures } from './abuse-client.js';

const spec = {
  quick: { default: 'false', help: 'a quick check of the pipeline: every phase short, attack 1 with 4 connections x 10 requests, 200 idle sockets (flags given explicitly win)' },
  attacks: { default: '1,2,3', help: 'which attacks to run, comma-separated' },
  baseline: { default: '10', help: 'seconds of the quiet baseline phase' },
  settle: { default: '5', help: 'seconds after each attack (its connections are torn down at the start of it)' },
  channel: { default: 'chat:abuse', help: 'attack 1: the channel the attacker fills and asks the history of (one a customer may publish to and read)' },
  'amp-fill': { default: '100', help: 'attack 1: publications put in the channel first (the default history keeps 100)' },
  'amp-payload': { default: '60000', help: "attack 1: bytes of each publication's data" },
  'amp-connections': { default: '32', help: 'attack 1: connections of the attacking user (the default per-user cap is 32)' },
  'amp-requests': { default: '50', help: 'attack 1: history requests (limit 1000) each connection writes at once' },
  'amp-stagger': { default: '50', help: 'attack 1: at least this many ms between one connection\'s burst and the next (the next also waits until the server has read the previous one; the safety cap is checked in between)' },
  'amp-hold': { default: '20', help: 'attack 1: seconds the connections are held without reading, after the last burst' },
  'amp-drain': { default: '3', help: 'attack 1: seconds the attacking sockets are read at the end (close frames) before they are destroyed' },
  'server-cpus': { default: '', help: 'pin the server to these CPUs (taskset list, e.g. 0); with --client-cpus and the bench itself run under `taskset -c 1`, the attacker gets a core of its own, as it would on another machine' },
  'client-cpus': { default: '', help: 'pin the well-behaved client to these CPUs (e.g. 0)' },
  'attacker-address': { default: '127.0.0.2', help: 'local address the attacks come from; the good client and the health probes use 127.0.0.1, as a health checker has its own address in production (per-address caps apply to the attacker, not to them)' },
  'nested-seconds': { default: '10', help: 'attack 2: seconds of nested-JSON login requests' },
  'nested-workers': { default: '20', help: 'attack 2: parallel login requests' },
  'nested-depth': { default: '500000', help: 'attack 2: nesting depth of the login body (2 bytes per level: 500,000 is 1,000,000 bytes, under the 1 MiB body limit)' },
  'nested-sockets': { default: '40', help: 'attack 2: unauthenticated WebSockets' },
  'nested-frames': { default: '100', help: 'attack 2: frames each socket writes at once' },
  'nested-frame-bytes': { default: '65536', help: 'attack 2: bytes of nested JSON per frame (the frame limit is 64 KiB)' },
  'nested-wait': { default: '20', help: 'attack 2: seconds to wait for the server to close the sockets (auth timeout is 10 s)' },
  'idle-connections': { default: '1000', help: 'attack 3: TCP connections that never send a byte' },
  'idle-hold': { default: '120', help: 'attack 3: seconds to hold them at most, waiting for the server to close them' },
  'ping-ms': { default: '20', help: 'good client: ms between pings' },
  'publish-ms': { default: '50', help: 'good client: ms between publications' },
  'health-ms': { default: '250', help: 'ms between /healthz probes' },
  'rss-cap': { default: '8192', help: 'safety: end an attack at once when the server RSS passes this many MiB' },
  'min-available': { default: '4096', help: 'safety: end an attack at once when the machine has less than this many MiB available (MemAvailable)' },
  'quiet-wait': { default: '120', help: 'seconds to wait at the start for other processes to leave the CPUs (0: do not wait)' },
  'quiet-below': { default: '25', help: 'the machine counts as quiet below this CPU use (% of all CPUs)' },
  json: { default: '', help: 'write the raw figures (every phase, every RSS sample) to this file' },
  'max-seconds': { default: '1200', help: 'give up (and stop every process) after this long' },
};
const flags = parseArgs(process.argv.slice(2), spec, 'usage: node dist/bench/abuse.js [flags]');

/** Flags given on the command line (the rest may take their --quick value). */
const given = new Set(process.argv.slice(2).filter((a) => a.startsWith('--')).map((a) => a.slice(2).split('=')[0]!));
const quick = flags.quick === 'true';
const QUICK: Partial<Record<keyof typeof spec, string>> = {
  baseline: '3',
  settle: '3',
  'amp-connections': '4',
  'amp-requests': '10',
  'amp-hold': '5',
  'amp-drain': '1',
  'nested-seconds': '3',
  'nested-sockets': '10',
  'nested-frames': '20',
  'nested-wait': '15',
  'idle-connections': '200',
  'idle-hold': '15',
};
if (quick) for (const [k, v] of Object.entries(QUICK)) if (!given.has(k)) flags[k as keyof typeof spec] = v;

const attacks = new Set(flags.attacks.split(',').map((s) => s.trim()).filter(Boolean));
for (const a of attacks) if (!['1', '2', '3'].includes(a)) throw new Error(`--attacks takes 1, 2 and 3 (got '${a}')`);
const baselineMs = numFlag(flags, 'baseline', 1, 600) * 1000;
const settleMs = numFlag(flags, 'settle', 0, 600) * 1000;
const channel = flags.channel;
const attackerAddress = flags['attacker-address'];
const serverCpus = flags['server-cpus'] ?? '';
const clientCpus = flags['client-cpus'] ?? '';
for (const cpus of [serverCpus, clientCpus]) if (!/^[0-9,-]*$/.test(cpus)) throw new Error(`--server-cpus and --client-cpus take a CPU list such as 0 or 0-1 (got '${cpus}')`);
if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(attackerAddress ?? '')) throw new Error(`--attacker-address must be a loopback address (127.x.y.z), got '${attackerAddress}'`);
if (!/^[a-z][a-z0-9_-]{0,31}:[A-Za-z0-9_\-.@=#/,]{1,200}$/.test(channel)) throw new Error(`--channel '${channel}' is not a namespace:key channel name`);
const ampFill = intFlag(flags, 'amp-fill', 0, 10_000);
const ampPayload = intFlag(flags, 'amp-payload', 1, 1_000_000);
const ampConnections = intFlag(flags, 'amp-connections', 1, 10_000);
const ampRequests = intFlag(flags, 'amp-requests', 1, 10_000);
const ampStaggerMs = numFlag(flags, 'amp-stagger', 0, 10_000);
const ampHoldMs = numFlag(flags, 'amp-hold', 0, 3600) * 1000;
const ampDrainMs = numFlag(flags, 'amp-drain', 0, 600) * 1000;
const nestedMs = numFlag(flags, 'nested-seconds', 0, 3600) * 1000;
const nestedWorkers = intFlag(flags, 'nested-workers', 0, 1000);
const nestedDepth = intFlag(flags, 'nested-depth', 1, 10_000_000);
const nestedSockets = intFlag(flags, 'nested-sockets', 0, 10_000);
const nestedFrames = intFlag(flags, 'nested-frames', 1, 100_000);
const nestedFrameBytes = intFlag(flags, 'nested-frame-bytes', 16, 16 * 1024 * 1024);
const nestedWaitMs = numFlag(flags, 'nested-wait', 0, 600) * 1000;
const idleConnections = intFlag(flags, 'idle-connections', 0, 100_000);
const idleHoldMs = numFlag(flags, 'idle-hold', 1, 3600) * 1000;
const pingMs = numFlag(flags, 'ping-ms', 1, 10_000);
const publishMs = numFlag(flags, 'publish-ms', 1, 60_000);
const healthMs = numFlag(flags, 'health-ms', 10, 60_000);
const rssCap = numFlag(flags, 'rss-cap', 64, 1_000_000) * 2 ** 20;
const minAvailable = numFlag(flags, 'min-available', 0, 1_000_000) * 2 ** 20;
const maxSeconds = numFlag(flags, 'max-seconds', 30, 24 * 3600);
const quietWaitMs = numFlag(flags, 'quiet-wait', 0, 3600) * 1000;
const quietBelow = numFlag(flags, 'quiet-below', 1, 100);

const TIMEOUT_MS = 10_000;
const SAMPLE_MS = 250;
const MIB = 2 ** 20;
const TARGET_RSS_MIB = 64;
const TARGET_P99_MS = 50;

guardProcess(maxSeconds);
const t0 = performance.now();
const now = () => performance.now() - t0;
const say = (line: string) => process.stdout.write(`[${fmt(now() / 1000, 1)} s] ${line}\n`);
const mib = (bytes: number, digits = 0) => fmt(bytes / MIB, digits);
const tallyOf = (keys: string[]) => {
  const m: Record<string, number> = {};
  for (const k of keys) tally(m, k);
  return m;
};

// ----- readings from /proc

function memAvailable(): number {
  const m = /^MemAvailable:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'));
  return m ? Number(m[1]) * 1024 : Number.NaN;
}

function fdCount(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return Number.NaN;
  }
}

interface TcpEntry {
  localPort: number;
  remotePort: number;
  state: number;
  txQueue: number;
  rxQueue: number;
}

/** IPv4 TCP sockets on loopback with `port` at one end (/proc/net/tcp; every socket of this network namespace). */
function tcpEntries(port: number): TcpEntry[] {
  const out: TcpEntry[] = [];
  const lines = readFileSync('/proc/net/tcp', 'utf8').split('\n');
  for (let i = 1; i < lines.length; i++) {
    const f = lines[i]!.trim().split(/\s+/);
    if (f.length < 5) continue;
    const localPort = parseInt(f[1]!.split(':')[1]!, 16);
    const remotePort = parseInt(f[2]!.split(':')[1]!, 16);
    if (localPort !== port && remotePort !== port) continue;
    const [tx, rx] = f[4]!.split(':');
    out.push({ localPort, remotePort, state: parseInt(f[3]!, 16), txQueue: parseInt(tx!, 16), rxQueue: parseInt(rx!, 16) });
  }
  return out;
}

/** The server's own counters from GET /metrics: closes it made and request errors, by code. */
interface ServerCounters {
  closes: Record<string, number>;
  requestErrors: Record<string, number>;
  connections: number;
}

async function scrapeCounters(port: number): Promise<ServerCounters | null> {
  const r = await httpRequest({ port, method: 'GET', path: '/metrics', timeoutMs: 15_000, agent: false, maxBody: 4 * MIB });
  if (r.status !== 200) return null;
  const out: ServerCounters = { closes: {}, requestErrors: {}, connections: Number.NaN };
  for (const line of r.body.split('\n')) {
    const m = /^(switchboard_closes_total|switchboard_request_errors_total)\{code="([^"]*)"\} ([\d.e+]+)$/.exec(line);
    if (m) (m[1] === 'switchboard_closes_total' ? out.closes : out.requestErrors)[m[2]!] = Number(m[3]);
    const c = /^switchboard_connections ([\d.e+]+)$/.exec(line);
    if (c) out.connections = Number(c[1]);
  }
  return out;
}

function counterDiff(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(b)) if (v - (a[k] ?? 0) > 0) out[k] = v - (a[k] ?? 0);
  return out;
}

const TCP_STATES: Record<number, string> = { 1: 'ESTABLISHED', 4: 'FIN_WAIT1', 5: 'FIN_WAIT2', 6: 'TIME_WAIT', 7: 'CLOSE', 8: 'CLOSE_WAIT', 9: 'LAST_ACK', 11: 'CLOSING' };

// ----- samples and phases

interface Sample {
  t: number;
  phase: string;
  rss: number;
  memAvailable: number;
  fds: number;
}

interface CpuMark {
  at: number;
  server: number;
  client: number;
  self: number;
  machine: number;
}

interface PhaseRecord {
  name: string;
  kind: 'baseline' | 'attack' | 'settle';
  /** Attacking accounts (the RSS target is per account); attacks 2 and 3 use none and count as one attacker. */
  accounts: number;
  start: number;
  end: number;
  rssStart: number;
  rssPeak: number;
  rssEnd: number;
  memAvailableMin: number;
  fdsStart: number;
  fdsPeak: number;
  cpu: { seconds: number; server: number; client: number; bench: number; others: number };
  stoppedEarly: string | null;
  notes: string[];
  detail: unknown;
  /** From the server's /metrics, scraped after the phase (null: the scrape failed): connections it
   * closed and requests it answered with an error during the phase, by code. */
  serverCloses: Record<string, number> | null;
  serverRequestErrors: Record<string, number> | null;
}

let server: ServerProcess | undefined;
let client: ChildProcess | undefined;
let serverGone: string | null = null;
const serverDeaths: { at: number; phase: string; exit: string; error: string }[] = [];
let stoppingServer = false;
let currentPhase = 'setup';
const samples: Sample[] = [];
let sampler: NodeJS.Timeout | undefined;

function sampleOnce(): Sample | undefined {
  if (!server || serverGone) return undefined;
  let rss: number;
  try {
    rss = rssBytes(server.pid);
  } catch {
    return undefined;
  }
  const s = { t: now() / 1000, phase: currentPhase, rss, memAvailable: memAvailable(), fds: fdCount(server.pid) };
  samples.push(s);
  return s;
}

function cpuMark(): CpuMark {
  const self = process.cpuUsage();
  const read = (pid: number | undefined) => {
    try {
      return pid ? cpuMs(pid) : Number.NaN;
    } catch {
      return Number.NaN; // the process is gone
    }
  };
  return { at: performance.now(), server: read(server?.pid), client: read(client?.pid), self: (self.user + self.system) / 1000, machine: machineBusyMs() };
}

/** Over a window: CPU of the server, the good client, the bench (attackers) and everything else,
 * in % of one CPU. */
function cpuWindow(a: CpuMark, b: CpuMark): PhaseRecord['cpu'] {
  const ms = b.at - a.at;
  const server = b.server - a.server;
  const c = b.client - a.client;
  const self = b.self - a.self;
  const others = Math.max(0, b.machine - a.machine - server - c - self);
  const pct = (x: number) => (x / ms) * 100;
  return { seconds: ms / 1000, server: pct(server), client: pct(c), bench: pct(self), others: pct(others) };
}

/** Why an attack must stop now (server too big, machine short of memory, server gone), or null. */
function unsafe(): string | null {
  if (serverGone) return `the server exited (${serverGone})`;
  const s = sampleOnce();
  if (!s) return null;
  if (s.rss > rssCap) return `server RSS ${mib(s.rss)} MiB passed --rss-cap ${mib(rssCap)} MiB`;
  if (s.memAvailable < minAvailable) return `machine MemAvailable ${mib(s.memAvailable)} MiB under --min-available ${mib(minAvailable)} MiB`;
  return null;
}

function tellClient(cmd: GoodClientCommand): void {
  if (client?.connected) client.send(cmd);
}

const phases: PhaseRecord[] = [];

interface AttackOutcome {
  detail: unknown;
  notes: string[];
  stoppedEarly: string | null;
  /** Runs at the start of the settle phase that follows: closes what the attack left open. */
  teardown: () => Promise<void>;
}

let lastCounters: ServerCounters | null = null;

async function runPhase(name: string, kind: PhaseRecord['kind'], accounts: number, body: () => Promise<AttackOutcome | void>): Promise<AttackOutcome | void> {
  const fresh = sampleOnce();
  const rssStart = fresh?.rss ?? samples.at(-1)?.rss ?? Number.NaN;
  currentPhase = name;
  tellClient({ phase: name });
  const start = now();
  const cpuA = cpuMark();
  say(`phase ${name}`);
  let outcome: AttackOutcome | void = undefined;
  try {
    outcome = await body();
  } finally {
    sampleOnce();
    const cpuB = cpuMark();
    const end = now();
    const inPhase = samples.filter((s) => s.phase === name);
    const counters = server && !serverGone ? await scrapeCounters(server.port) : null;
    const base = lastCounters;
    lastCounters = counters ?? lastCounters;
    phases.push({
      name,
      kind,
      accounts,
      start: start / 1000,
      end: end / 1000,
      rssStart,
      rssPeak: Math.max(...inPhase.map((s) => s.rss)),
      rssEnd: inPhase.at(-1)?.rss ?? Number.NaN,
      memAvailableMin: Math.min(...inPhase.map((s) => s.memAvailable)),
      fdsStart: fresh?.fds ?? Number.NaN,
      fdsPeak: Math.max(...inPhase.map((s) => s.fds)),
      cpu: cpuWindow(cpuA, cpuB),
      stoppedEarly: outcome ? outcome.stoppedEarly : null,
      notes: [...serverDeaths.filter((d) => d.phase === name).map((d) => `THE SERVER DIED ${fmt(d.at - start / 1000, 1)} s into the phase (${d.exit}): ${d.error}`), ...(outcome ? outcome.notes : [])],
      detail: outcome ? outcome.detail : null,
      serverCloses: counters && base ? counterDiff(base.closes, counters.closes) : null,
      serverRequestErrors: counters && base ? counterDiff(base.requestErrors, counters.requestErrors) : null,
    });
  }
  return outcome;
}

async function settle(after: string, outcome: AttackOutcome | void): Promise<void> {
  await runPhase(`after ${after}`, 'settle', 0, async () => {
    const until = now() + settleMs;
    if (outcome) await outcome.teardown();
    while (now() < until && !serverGone) await sleep(100);
  });
}

// ----- attack 1: reply amplification

interface AmpConnection {
  index: number;
  ws: RawWs | null;
  refused: string | null;
  localPort: number;
  burstAt: number | null;
  /** Seconds after its own burst that the server closed the TCP connection (from /proc/net/tcp). */
  serverClosedAfter: number | null;
  serverClosedHow: string | null;
  stateAtHoldEnd: string;
  serverStateAtHoldEnd: string;
  /** Peak bytes the kernel held for it: the server's send queue plus this socket's receive queue. */
  kernelQueuedPeak: number;
  closeCode: number | null;
  drainedBytes: number;
}

async function attackAmplification(port: number, attacker: Account): Promise<AttackOutcome> {
  const srvPort = port;
  const detail = {
    channel,
    payloadBytes: ampPayload,
    fill: { wanted: ampFill, published: 0, outcomes: {} as Record<string, number>, seconds: 0 },
    connectionsWanted: ampConnections,
    connected: 0,
    refusals: {} as Record<string, number>,
    requestsPerConnection: ampRequests,
    bursts: 0,
    requestsSent: 0,
    burstSeconds: 0,
    holdSeconds: 0,
    kernelQueuedPeak: 0,
    connections: [] as Omit<AmpConnection, 'ws'>[],
  };
  let stoppedEarly: string | null = null;

  // Fill the channel's history through the client publish op, paced under the 50/s rate limit.
  const fillStart = now();
  const filler = await openRawWs({ port, timeoutMs: TIMEOUT_MS, localAddress: attackerAddress });
  if (filler.status !== 101) throw new Error(`attack 1: the filler's upgrade was answered ${filler.refusal}`);
  await filler.call({ op: 'connect', id: 1, token: attacker.token }, TIMEOUT_MS);
  const pad = 'x'.repeat(ampPayload);
  for (let i = 0; i < ampFill && !serverGone; i++) {
    let outcome = 'ok';
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await filler.call({ op: 'publish', id: 100 + i * 10 + attempt, channel, event: 'fill', data: { i, p: pad } }, TIMEOUT_MS);
        outcome = 'ok';
        break;
      } catch (err) {
        outcome = err instanceof Error ? err.message : String(err);
        if (!outcome.includes('rate_limited')) break;
        await sleep(250);
      }
    }
    tally(detail.fill.outcomes, outcome);
    if (outcome === 'ok') detail.fill.published += 1;
    else if (!filler.open) break;
    await sleep(25);
  }
  await filler.close(1000, 2000);
  detail.fill.seconds = (now() - fillStart) / 1000;
  say(`  attack 1: ${detail.fill.published} publications of ${fmt(ampPayload)} B in ${channel} (${tallyText(detail.fill.outcomes)}); opening ${ampConnections} connections`);
  await sleep(300); // the server releases the filler's slot in the per-user count

  // The attacking connections: authenticate, then stop reading.
  const conns: AmpConnection[] = await Promise.all(
    Array.from({ length: ampConnections }, async (_, index): Promise<AmpConnection> => {
      const c: AmpConnection = { index, ws: null, refused: null, localPort: 0, burstAt: null, serverClosedAfter: null, serverClosedHow: null, stateAtHoldEnd: '', serverStateAtHoldEnd: '', kernelQueuedPeak: 0, closeCode: null, drainedBytes: 0 };
      try {
        const ws = await openRawWs({ port, timeoutMs: TIMEOUT_MS, localAddress: attackerAddress });
        if (ws.status !== 101) {
          c.refused = `upgrade ${ws.refusal}`;
          return c;
        }
        c.ws = ws;
        c.localPort = ws.socket.localPort ?? 0;
        await ws.call({ op: 'connect', id: 1, token: attacker.token }, TIMEOUT_MS);
        ws.pause();
      } catch (err) {
        const closed = c.ws?.closeCode != null ? ` (closed ${c.ws.closeCode} ${c.ws.closeReason})` : '';
        c.refused = `${err instanceof Error ? err.message : String(err)}${closed}`;
        c.ws?.destroy();
        c.ws = null;
      }
      return c;
    }),
  );
  for (const c of conns) if (c.refused) tally(detail.refusals, c.refused);
  const live = conns.filter((c) => c.ws);
  detail.connected = live.length;

  // One write of N history requests per connection; zero-masked, so one buffer serves them all.
  const burst = Buffer.concat(
    Array.from({ length: ampRequests }, (_, i) => clientFrame(JSON.stringify({ op: 'history', id: 1000 + i, channel, limit: 1000 }), { zeroMask: true })),
  );
  // The server handles everything one read brings in one go (the history reads are synchronous in
  // the memory layer), so once it has read a burst nothing stops that burst's replies being built.
  // Bursts therefore go out one at a time: the next once the server has read the previous one (its
  // receive queue for that socket is empty, bounded) and the safety check passed. The server is
  // single-threaded, so this orders the same work without changing how much of it there is.
  const serverRead = async (c: AmpConnection) => {
    for (let i = 0; i < 500; i++) {
      const e = tcpEntries(srvPort).find((x) => x.localPort === srvPort && x.remotePort === c.localPort);
      if (!e || e.rxQueue === 0) return;
      await sleep(20);
    }
  };
  // Watched after each burst and through the hold: each socket's TCP state and the kernel queues.
  const byPort = new Map(live.map((c) => [c.localPort, c]));
  // The server's side of each connection tells first: when the server closes a socket whose send
  // queue is full (nobody reads), its side goes to FIN_WAIT1 and the FIN waits behind the queued
  // bytes, so the client's side stays ESTABLISHED. Client side CLOSE_WAIT: the FIN arrived; gone
  // from the table: reset.
  const closedNow = (c: AmpConnection, how: string) => {
    if (c.serverClosedAfter === null && c.burstAt !== null) {
      c.serverClosedAfter = (now() - c.burstAt) / 1000;
      c.serverClosedHow = how;
    }
  };
  const watch = () => {
    const rx = new Map<number, number>();
    const tx = new Map<number, number>();
    const entries = server ? tcpEntries(server.port) : [];
    for (const e of entries) {
      const mine = byPort.get(e.localPort);
      const theirs = e.localPort === srvPort ? byPort.get(e.remotePort) : undefined;
      if (mine) {
        rx.set(e.localPort, e.rxQueue);
        mine.stateAtHoldEnd = TCP_STATES[e.state] ?? String(e.state);
        if (e.state !== 1) closedNow(mine, `client side ${mine.stateAtHoldEnd}`);
      } else if (theirs) {
        tx.set(e.remotePort, e.txQueue);
        theirs.serverStateAtHoldEnd = TCP_STATES[e.state] ?? String(e.state);
        if (e.state !== 1) closedNow(theirs, `server side ${theirs.serverStateAtHoldEnd}`);
      }
    }
    let queued = 0;
    for (const c of live) {
      if (!rx.has(c.localPort)) {
        c.stateAtHoldEnd = 'gone (reset)';
        closedNow(c, 'reset: the socket left the TCP table');
      }
      if (!tx.has(c.localPort)) c.serverStateAtHoldEnd = 'gone';
      const q = (rx.get(c.localPort) ?? 0) + (tx.get(c.localPort) ?? 0);
      c.kernelQueuedPeak = Math.max(c.kernelQueuedPeak, q);
      queued += q;
    }
    detail.kernelQueuedPeak = Math.max(detail.kernelQueuedPeak, queued);
  };
  // A client that reads nothing can still write: a pong now and then keeps the server from closing
  // it for silence (two heartbeats, 50 s), which the paced bursts would otherwise run into.
  const pong = clientFrame('{"op":"pong"}', { zeroMask: true });
  const keepAlive = setInterval(() => {
    for (const c of live) if (c.ws!.open) c.ws!.socket.write(pong);
  }, 10_000);
  const burstStart = now();
  for (const c of live) {
    stoppedEarly = unsafe();
    if (stoppedEarly) break;
    c.ws!.socket.write(burst);
    c.burstAt = now();
    detail.bursts += 1;
    detail.requestsSent += ampRequests;
    if (ampStaggerMs > 0) await sleep(ampStaggerMs);
    await serverRead(c);
    watch();
  }
  detail.burstSeconds = (now() - burstStart) / 1000;
  say(`  attack 1: ${live.length} connected (${tallyText(detail.refusals)} refused), ${detail.bursts} bursts of ${ampRequests} history requests sent; holding ${ampHoldMs / 1000} s`);

  const holdStart = now();
  if (!stoppedEarly) {
    while (now() - holdStart < ampHoldMs) {
      watch();
      stoppedEarly = unsafe();
      if (stoppedEarly) break;
      await sleep(SAMPLE_MS);
    }
  }
  watch();
  clearInterval(keepAlive);
  detail.holdSeconds = (now() - holdStart) / 1000;
  if (stoppedEarly) {
    say(`  attack 1 STOPPED EARLY: ${stoppedEarly}; destroying the attacking sockets`);
    for (const c of live) c.ws!.destroy();
  }
  const closedInHold = live.filter((c) => c.serverClosedAfter !== null);
  const attackSamples = samples.filter((x) => x.phase === currentPhase);
  const rssAtBurst = median(samples.filter((x) => x.t * 1000 < burstStart && x.t * 1000 >= burstStart - 1000).map((x) => x.rss));
  const rssBefore = Number.isFinite(rssAtBurst) ? rssAtBurst : (attackSamples[0]?.rss ?? Number.NaN);
  const perBurst = (Math.max(...attackSamples.map((x) => x.rss)) - rssBefore) / Math.max(1, detail.bursts);
  const died = serverDeaths.find((d) => d.phase === currentPhase);
  const notes = [
    `${live.length}/${ampConnections} connected, ${fmt(detail.requestsSent)} history requests sent in ${detail.bursts} bursts (${fmt((detail.requestsSent * detail.fill.published * ampPayload) / MIB)} MiB of replies asked for)`,
    ...(died ? [`the server died ${fmt(died.at - burstStart / 1000, 1)} s after the first burst, after ${detail.bursts} of ${live.length} bursts`] : []),
    died
      ? `connections the server closed before it died: ${closedInHold.filter((c) => c.serverClosedAfter! < died.at - c.burstAt! / 1000 - 0.5).length}`
      : `server closed ${closedInHold.length} of ${live.length} during the ${fmt(detail.holdSeconds, 0)} s hold` +
      (closedInHold.length ? ` (after ${fmt(median(closedInHold.map((c) => c.serverClosedAfter!)), 1)} s median, ${fmt(Math.max(...closedInHold.map((c) => c.serverClosedAfter!)), 1)} s max)` : ''),
    `kernel queues peak ${mib(detail.kernelQueuedPeak)} MiB`,
    ...(stoppedEarly && !serverGone && detail.bursts > 0
      ? [`≈ ${mib(perBurst)} MiB of server RSS per burst sent: all ${ampConnections} would be ≈ ${fmt((perBurst * ampConnections) / 2 ** 30, 1)} GiB`]
      : []),
    ...(died ? [] : [`TCP at the hold's end: client side ${tallyText(tallyOf(live.map((c) => c.stateAtHoldEnd)))}; server side ${tallyText(tallyOf(live.map((c) => c.serverStateAtHoldEnd)))}`]),
    ...(Object.keys(detail.refusals).length ? [`refused: ${tallyText(detail.refusals)}`] : []),
    ...(stoppedEarly ? [`STOPPED EARLY: ${stoppedEarly}`] : []),
  ];
  const teardown = async () => {
    if (!stoppedEarly && ampDrainMs > 0) {
      // Read what the server sent (close frames sit behind the replies), bounded; then destroy.
      for (const c of live) c.ws!.resume();
      const until = now() + ampDrainMs;
      while (now() < until && live.some((c) => c.ws!.open)) await sleep(50);
    }
    for (const c of live) {
      c.closeCode = c.ws!.closeCode;
      c.drainedBytes = c.ws!.reader.bytes;
      c.ws!.destroy();
    }
    const codes: Record<string, number> = {};
    for (const c of live) tally(codes, c.closeCode === null ? 'no close frame read' : String(c.closeCode));
    notes.push(`close frames read in the ${ampDrainMs / 1000} s drain: ${tallyText(codes)}; ${mib(live.reduce((n, c) => n + c.drainedBytes, 0))} MiB read`);
    detail.connections = conns.map(({ ws: _ws, ...rest }) => rest);
  };
  return { detail, notes, stoppedEarly, teardown };
}

// ----- attack 2: nested JSON

function nestedArrays(depth: number): Buffer {
  const b = Buffer.allocUnsafe(depth * 2);
  b.fill(0x5b, 0, depth); // [
  b.fill(0x5d, depth); // ]
  return b;
}

/** `bytes` of JSON: pure nesting, or a request-shaped object carrying it (parsed in full, then refused). */
function nestedFrame(bytes: number, asRequest: boolean): Buffer {
  const prefix = asRequest ? '{"op":"ping","id":7,"x":' : '';
  const suffix = asRequest ? '}' : '';
  const room = bytes - prefix.length - suffix.length;
  const depth = Math.floor(room / 2);
  const spaces = room - depth * 2;
  return Buffer.concat([Buffer.from(prefix), nestedArrays(depth), Buffer.from(' '.repeat(spaces) + suffix)]);
}

async function attackNested(port: number): Promise<AttackOutcome> {
  const body = nestedArrays(nestedDepth);
  const detail = {
    http: { workers: nestedWorkers, bodyBytes: body.length, depth: nestedDepth, requests: 0, outcomes: {} as Record<string, number>, latency: null as LatencySummary | null },
    ws: {
      sockets: nestedSockets,
      opened: 0,
      upgradeRefusals: {} as Record<string, number>,
      framesPerSocket: nestedFrames,
      frameBytes: nestedFrameBytes,
      replyErrors: {} as Record<string, number>,
      closes: {} as Record<string, number>,
      closeAfterMedian: Number.NaN,
      closeAfterMax: Number.NaN,
      openAtEnd: 0,
    },
  };
  const latency = new Histogram();
  const agent = new Agent({ keepAlive: true, maxSockets: nestedWorkers });
  const deadline = now() + nestedMs;
  const worker = async () => {
    for (let i = 0; i < 1_000_000 && now() < deadline && !serverGone; i++) {
      const r = await httpRequest({ port, method: 'POST', path: '/api/auth/login', headers: { 'content-type': 'application/json' }, body, timeoutMs: 15_000, agent, localAddress: attackerAddress });
      detail.http.requests += 1;
      tally(detail.http.outcomes, outcomeOf(r));
      latency.record(r.ms);
    }
  };

  // The frames: half pure nesting, half a request-shaped object around it; one buffer for all sockets.
  const frames = Buffer.concat(Array.from({ length: nestedFrames }, (_, i) => clientFrame(nestedFrame(nestedFrameBytes, i % 2 === 1), { zeroMask: true })));
  const sockets: RawWs[] = [];
  const wsOpen = async () => {
    const opened = await Promise.allSettled(Array.from({ length: nestedSockets }, () => openRawWs({ port, timeoutMs: TIMEOUT_MS, maxKeep: 4096, localAddress: attackerAddress })));
    for (const o of opened) {
      if (o.status === 'rejected') {
        tally(detail.ws.upgradeRefusals, o.reason instanceof Error ? o.reason.message : String(o.reason));
        continue;
      }
      if (o.value.status !== 101) {
        tally(detail.ws.upgradeRefusals, o.value.refusal);
        continue;
      }
      sockets.push(o.value);
    }
    detail.ws.opened = sockets.length;
  };
  const wsPart = async () => {
    for (const s of sockets) s.socket.write(frames);
    const until = now() + nestedWaitMs;
    while (now() < until && sockets.some((x) => x.open) && !serverGone) await sleep(100);
  };
  // The sockets are opened before the login flood starts: during it, upgrades can take longer than
  // the 10 s bound, and the frames are the point of this half. Then frames and logins go together.
  await wsOpen();
  await Promise.all([...Array.from({ length: nestedWorkers }, worker), wsPart()]);
  agent.destroy();
  detail.http.latency = latency.summary();
  const closeAfter: number[] = [];
  for (const s of sockets) {
    for (const [k, n] of Object.entries(s.errors)) tally(detail.ws.replyErrors, k, n);
    if (s.open) detail.ws.openAtEnd += 1;
    else {
      tally(detail.ws.closes, s.closeCode !== null ? `${s.closeCode}${s.closeReason ? ` ${s.closeReason}` : ''}` : `no close frame (${s.error ?? 'ended'})`);
      closeAfter.push(((s.closeFrameAt ?? s.closedAt ?? now() + t0) - s.openedAt) / 1000);
    }
    s.destroy();
  }
  detail.ws.closeAfterMedian = median(closeAfter);
  detail.ws.closeAfterMax = closeAfter.length ? Math.max(...closeAfter) : Number.NaN;
  const notes = [
    `HTTP: ${fmt(detail.http.requests)} logins of ${mib(body.length, 2)} MiB (depth ${fmt(nestedDepth)}) from ${nestedWorkers} workers: ${tallyText(detail.http.outcomes)}; ` +
      `latency p50/p99/max ${fmt(detail.http.latency.p50)}/${fmt(detail.http.latency.p99)}/${fmt(detail.http.latency.max)} ms`,
    `WS: ${detail.ws.opened}/${nestedSockets} open, ${fmt(nestedFrames)} x ${fmt(nestedFrameBytes)} B each; replies to ${fmt(Object.values(detail.ws.replyErrors).reduce((a, b) => a + b, 0))} of ${fmt(detail.ws.opened * nestedFrames)} frames: ${tallyText(detail.ws.replyErrors)}; ` +
      `closed: ${tallyText(detail.ws.closes)} after ${fmt(detail.ws.closeAfterMedian, 1)} s median, ${fmt(detail.ws.closeAfterMax, 1)} s max; ${detail.ws.openAtEnd} still open after ${nestedWaitMs / 1000} s` +
      (Object.keys(detail.ws.upgradeRefusals).length ? `; upgrade refused: ${tallyText(detail.ws.upgradeRefusals)}` : ''),
  ];
  return { detail, notes, stoppedEarly: serverGone ? `the server exited (${serverGone})` : null, teardown: async () => undefined };
}

// ----- attack 3: idle sockets

interface IdleSocket {
  socket: Socket;
  connectedAt: number | null;
  closedAt: number | null;
  byUs: boolean;
  firstLine: string;
  bytes: number;
  error: string | null;
}

async function attackIdle(port: number, pid: number): Promise<AttackOutcome> {
  const fdsBefore = fdCount(pid);
  const list: IdleSocket[] = [];
  const connectOne = () =>
    new Promise<void>((resolve) => {
      const socket = tcpConnect({ host: '127.0.0.1', port, localAddress: attackerAddress });
      const s: IdleSocket = { socket, connectedAt: null, closedAt: null, byUs: false, firstLine: '', bytes: 0, error: null };
      list.push(s);
      const timer = setTimeout(() => {
        s.error ??= 'connect timeout';
        s.byUs = true;
        socket.destroy();
        resolve();
      }, TIMEOUT_MS);
      socket.once('connect', () => {
        s.connectedAt = now();
        clearTimeout(timer);
        resolve();
      });
      socket.on('data', (d: Buffer) => {
        if (s.bytes === 0) s.firstLine = d.toString('latin1').split('\r\n')[0]!.slice(0, 80);
        s.bytes += d.length;
      });
      socket.on('error', (err: NodeJS.ErrnoException) => {
        s.error ??= err.code ?? err.message;
      });
      socket.on('close', () => {
        s.closedAt ??= now();
        clearTimeout(timer);
        resolve();
      });
    });
  // 100 connects at a time, so the listen backlog (511) is not what is measured.
  for (let i = 0; i < idleConnections && !serverGone; i += 100) {
    await Promise.all(Array.from({ length: Math.min(100, idleConnections - i) }, connectOne));
  }
  const connected = list.filter((s) => s.connectedAt !== null);
  say(`  attack 3: ${connected.length}/${idleConnections} connected; holding until the server closes them (at most ${idleHoldMs / 1000} s)`);
  let fdsPeak = fdCount(pid);
  const holdStart = now();
  let stoppedEarly: string | null = null;
  while (now() - holdStart < idleHoldMs && connected.some((s) => s.closedAt === null)) {
    fdsPeak = Math.max(fdsPeak, fdCount(pid));
    stoppedEarly = unsafe();
    if (stoppedEarly) break;
    await sleep(SAMPLE_MS);
  }
  fdsPeak = Math.max(fdsPeak, fdCount(pid));
  const closedByServer = connected.filter((s) => s.closedAt !== null && !s.byUs);
  const after = closedByServer.map((s) => (s.closedAt! - s.connectedAt!) / 1000);
  const stillOpen = connected.filter((s) => s.closedAt === null);
  const firstLines: Record<string, number> = {};
  for (const s of closedByServer) tally(firstLines, s.bytes > 0 ? `"${s.firstLine}"` : s.error ? `nothing sent, ${s.error}` : 'nothing sent, FIN');
  const connectErrors: Record<string, number> = {};
  for (const s of list) if (s.connectedAt === null) tally(connectErrors, s.error ?? 'unknown');
  const detail = {
    connections: idleConnections,
    connected: connected.length,
    connectErrors,
    serverFdsBefore: fdsBefore,
    serverFdsPeak: fdsPeak,
    acceptedByServer: fdsPeak - fdsBefore,
    closedByServer: closedByServer.length,
    closeAfterMedian: median(after),
    closeAfterMax: after.length ? Math.max(...after) : Number.NaN,
    stillOpenAtEnd: stillOpen.length,
    holdSeconds: (now() - holdStart) / 1000,
    whatTheServerSent: firstLines,
  };
  const notes = [
    `${fmt(detail.connected)}/${fmt(idleConnections)} connected; server took ${fmt(detail.acceptedByServer)} (its open fds ${fmt(fdsBefore)} -> ${fmt(fdsPeak)})`,
    `server closed ${fmt(detail.closedByServer)}` +
      (after.length ? ` after ${fmt(detail.closeAfterMedian, 1)} s median, ${fmt(detail.closeAfterMax, 1)} s max (${tallyText(firstLines)})` : '') +
      `; ${fmt(detail.stillOpenAtEnd)} still open after ${fmt(detail.holdSeconds, 0)} s`,
    ...(Object.keys(connectErrors).length ? [`not connected: ${tallyText(connectErrors)}`] : []),
    ...(stoppedEarly ? [`STOPPED EARLY: ${stoppedEarly}`] : []),
  ];
  const teardown = async () => {
    for (const s of list) {
      if (s.closedAt === null) s.byUs = true;
      s.socket.destroy();
    }
  };
  return { detail, notes, stoppedEarly, teardown };
}

// ----- output

const lat = (h: HistogramJson): LatencySummary => {
  const x = new Histogram();
  x.merge(h);
  return x.summary();
};

function verdictRss(p: PhaseRecord): string {
  const growth = (p.rssPeak - p.rssStart) / MIB;
  if (p.kind !== 'attack') return fmt(growth, 1);
  const limit = TARGET_RSS_MIB * Math.max(1, p.accounts);
  return `${fmt(growth, 1)} ${growth <= limit ? 'pass' : 'FAIL'}`;
}

/** Lost publications; the target (0 lost) also fails when the good client was cut off (its
 * connection closed, or the server died), since it then stops counting what it misses. */
function lostCell(p: PhaseRecord, f: PhaseFigures): string {
  const unacked = f.published - f.acked;
  const cutOff = f.closes.length > 0 || serverDeaths.some((d) => d.phase === p.name);
  const verdict = p.kind === 'attack' ? (f.lost === 0 && !cutOff ? ' pass' : ' FAIL') : '';
  return `${fmt(f.lost)}${verdict}${cutOff ? ' (cut off)' : ''}${unacked > 0 ? `; ${fmt(unacked)} not acked` : ''}`;
}

function mainTable(figures: PhaseFigures[]): string {
  const byName = new Map(figures.map((f) => [f.phase, f]));
  const rows = phases.map((p) => {
    const f = byName.get(p.name);
    const ping = f ? lat(f.ping) : null;
    const health = f ? lat(f.health) : null;
    const p99ok = ping && ping.p99 <= TARGET_P99_MS;
    const healthMax = f ? (f.healthFailed > 0 ? `${fmt(health!.max)} (${f.healthFailed} failed)` : fmt(health!.max)) : 'n/a';
    const notes = [...(p.kind === 'settle' ? [`RSS at the end ${mib(p.rssEnd)} MiB`] : []), ...p.notes];
    if (p.serverCloses && Object.keys(p.serverCloses).length) notes.push(`server closed (its /metrics): ${tallyText(p.serverCloses)}`);
    if (f && f.acked < f.published) notes.push(`good client: ${fmt(f.published - f.acked)} of ${fmt(f.published)} publications not acknowledged (${tallyText(Object.fromEntries(Object.entries(f.publishOutcomes).filter(([k]) => k !== '200')))})`);
    if (f && f.healthFailed > 0) notes.push(`healthz: ${fmt(f.healthFailed)} of ${fmt(f.healthProbes)} probes failed (${tallyText(Object.fromEntries(Object.entries(f.healthOutcomes).filter(([k]) => k !== '200')))})`);
    if (f && (f.pingsTimedOut > 0 || f.pingsHeldBack > 0)) notes.push(`good client: ${f.pingsTimedOut} pings unanswered in 10 s, ${f.pingsHeldBack} held back (25 in flight)`);
    if (f && f.closes.length) notes.push(`good client CLOSED: ${f.closes.join(', ')}`);
    return [
      p.name,
      verdictRss(p),
      ping ? `${fmt(ping.p50, 1)} / ${fmt(ping.p99, 1)}${p.kind === 'attack' ? (p99ok ? ' pass' : ' FAIL') : ''} / ${fmt(ping.max)}` : 'n/a',
      healthMax,
      f ? lostCell(p, f) : 'n/a',
      f ? fmt(f.duplicated + f.outOfOrder) : 'n/a',
      notes.join('; '),
    ];
  });
  return table(['phase', 'attacker RSS growth MiB (≤ 64 per account)', 'good ping p50 / p99 (≤ 50) / max ms', 'healthz max ms', 'lost (0)', 'duplicated', 'notes'], rows);
}

function detailTable(figures: PhaseFigures[]): string {
  const byName = new Map(figures.map((f) => [f.phase, f]));
  const rows = phases.map((p) => {
    const f = byName.get(p.name);
    const d = f ? lat(f.deliveryLatency) : null;
    return [
      p.name,
      fmt(p.end - p.start, 1),
      `${mib(p.rssStart)} / ${mib(p.rssPeak)} / ${mib(p.rssEnd)}`,
      mib(p.memAvailableMin),
      `${fmt(p.cpu.server)} / ${fmt(p.cpu.bench)} / ${fmt(p.cpu.client)} / ${fmt(p.cpu.others)}`,
      f ? `${fmt(f.pingsSent)} / ${fmt(f.pingsAnswered)} / ${fmt(f.pingsTimedOut)} / ${fmt(f.pingsHeldBack)}` : 'n/a',
      f ? `${fmt(f.healthProbes)} / ${fmt(f.healthFailed)}` : 'n/a',
      f ? `${fmt(f.published)} / ${fmt(f.acked)} / ${fmt(f.delivered)}` : 'n/a',
      d ? `${fmt(d.p50, 1)} / ${fmt(d.p99, 1)} / ${fmt(d.max)}` : 'n/a',
      f ? fmt(f.loopDelayMaxMs, 1) : 'n/a',
    ];
  });
  return table(
    [
      'phase',
      's',
      'server RSS MiB start / peak / end',
      'machine MemAvailable min MiB',
      'CPU % server / attackers / good client / others',
      'pings sent / answered / unanswered / held back',
      'healthz probes / failed',
      'published / acked / delivered',
      'delivery ms p50 / p99 / max',
      'good client loop delay max ms',
    ],
    rows,
  );
}

// ----- main

interface Environment {
  server: ServerProcess;
  client: ChildProcess;
  port: number;
  attacker: Account;
}

const isMsg = (x: unknown): x is GoodClientMessage => typeof x === 'object' && x !== null && ('ready' in x || 'result' in x || 'error' in x);

/** A fresh server, two registered accounts (the good client's, the attacker's) and the good client
 * running; sets the globals the samplers and attacks read. */
async function startEnvironment(): Promise<Environment> {
  const port = await freePort();
  serverGone = null;
  stoppingServer = false;
  const srv = await startServer('switchboard', { port, env: DEVELOPMENT_ENV, ...(serverCpus ? { cpus: serverCpus } : {}) });
  server = srv;
  srv.child.once('exit', (code, signal) => {
    if (stoppingServer) return;
    serverGone = `${code ?? signal}`;
    const fatal = /^(FATAL ERROR:.*|.*Error:.*)$/m.exec(srv.stderr())?.[1] ?? 'no error line on stderr';
    serverDeaths.push({ at: now() / 1000, phase: currentPhase, exit: serverGone, error: fatal });
    say(`THE SERVER EXITED (${serverGone}): ${fatal}; last stderr:\n${srv.stderr().slice(-1500)}`);
  });
  const apiKey = readFileSync(join(srv.dataDir, 'api-key'), 'utf8').trim();
  const tag = `${process.pid}-${Date.now()}`;
  const good = await register(port, `good-${tag}@bench.test`, 'Good client');
  const attacker = await register(port, `attacker-${tag}@bench.test`, 'Attacker');
  say(`server pid ${srv.pid} on 127.0.0.1:${port} (development, data ${srv.dataDir}); good client user ${good.id}, attacker ${attacker.id}`);
  const c = forkLoad('abuse-client.js', clientCpus ? { cpus: clientCpus } : {});
  client = c;
  c.send({
    start: { port, token: good.token, channel: `user:${good.id}`, apiKey, pingMs, publishMs, healthMs, maxOutstanding: 25, timeoutMs: TIMEOUT_MS, firstPhase: 'warm-up' },
  } satisfies GoodClientCommand);
  const ready = await nextMessage(c, isMsg, 30_000, 'good client ready');
  if ('error' in ready) throw new Error(ready.error);
  await sleep(2000); // warm-up, not reported
  lastCounters = await scrapeCounters(port);
  return { server: srv, client: c, port, attacker };
}

/** Collects the good client's figures, stops it and the server (by pid). */
async function stopEnvironment(env: Environment): Promise<GoodClientResult | null> {
  let result: GoodClientResult | null = null;
  currentPhase = 'finish';
  if (env.client.connected && env.client.exitCode === null) {
    env.client.send({ finish: { drainMs: 5000 } } satisfies GoodClientCommand);
    const r = await nextMessage(env.client, isMsg, 60_000, 'good client result').catch((err: unknown) => ({ error: String(err) }));
    if ('result' in r) result = r.result;
    else if ('error' in r) say(`good client failed: ${r.error}`);
  }
  await stopChild(env.client);
  stoppingServer = true;
  await env.server.stop();
  say(`stopped the good client and the server (pid ${env.server.pid})`);
  return result;
}

async function main(): Promise<void> {
  const m = machine();
  process.stdout.write(
    `abuse: attacks ${[...attacks].join(', ')}${quick ? ' (--quick)' : ''}; baseline ${baselineMs / 1000} s, settle ${settleMs / 1000} s; ` +
      `attack 1: ${ampConnections} connections x ${ampRequests} history requests on ${channel} filled with ${ampFill} x ${fmt(ampPayload)} B, hold ${ampHoldMs / 1000} s; ` +
      `attack 2: ${nestedWorkers} x login of depth ${fmt(nestedDepth)} for ${nestedMs / 1000} s + ${nestedSockets} sockets x ${nestedFrames} frames of ${fmt(nestedFrameBytes)} B; ` +
      `attack 3: ${fmt(idleConnections)} idle sockets, hold <= ${idleHoldMs / 1000} s; safety: --rss-cap ${mib(rssCap)} MiB, --min-available ${mib(minAvailable)} MiB\n` +
      `machine: ${m.nproc} CPUs (${m.cpu}), node ${m.node}, loadavg ${m.loadavg}, MemAvailable ${mib(memAvailable())} MiB, ulimit -n ${openFilesLimit()}\n` +
      `The machine is shared: the "others" CPU column is everything that is neither the server, the attackers (this process) nor the good client.\n\n`,
  );
  if (idleConnections + 500 > openFilesLimit()) throw new Error(`ulimit -n ${openFilesLimit()} is too low for ${idleConnections} idle sockets`);
  if (quietWaitMs > 0) {
    const busy = await waitForQuiet(quietWaitMs, quietBelow, say);
    say(`machine busy ${fmt(busy)}% of all CPUs before the start${busy >= quietBelow ? ` (still over ${quietBelow}% after ${quietWaitMs / 1000} s: starting anyway, expect noise)` : ''}`);
  }
  sampler = setInterval(sampleOnce, SAMPLE_MS);
  const results: GoodClientResult[] = [];
  let env = await startEnvironment();
  try {
    await runPhase('baseline', 'baseline', 0, () => sleep(baselineMs));
    const plan: [string, string, number, (e: Environment) => Promise<AttackOutcome>][] = [
      ['1', 'attack 1: reply amplification', 1, (e) => attackAmplification(e.port, e.attacker)],
      ['2', 'attack 2: nested JSON', 0, (e) => attackNested(e.port)],
      ['3', 'attack 3: idle sockets', 0, (e) => attackIdle(e.port, e.server.pid)],
    ];
    for (const [id, name, accounts, attack] of plan) {
      if (!attacks.has(id)) continue;
      if (serverGone) {
        // The last attack took the server down: the next one gets a fresh server and good client.
        const r = await stopEnvironment(env);
        if (r) results.push(r);
        say('starting a fresh server for the next attack');
        env = await startEnvironment();
        await runPhase(`baseline (fresh server before attack ${id})`, 'baseline', 0, () => sleep(baselineMs));
      }
      const e = env;
      const o = await runPhase(name, 'attack', accounts, () => attack(e));
      if (serverGone) {
        if (o) await o.teardown();
      } else await settle(name.split(':')[0]!, o);
    }
  } finally {
    const r = await stopEnvironment(env);
    if (r) results.push(r);
    clearInterval(sampler);
  }

  const figures = results.flatMap((r) => r.phases);
  process.stdout.write(`\n## Abuse: per phase\n\n${mainTable(figures)}\n\n`);
  process.stdout.write(
    `Targets: RSS growth (peak in the phase minus RSS at its start) ≤ ${TARGET_RSS_MIB} MiB per attacking account (attacks 2 and 3 use no account and count as one attacker); good client ping p99 ≤ ${TARGET_P99_MS} ms; 0 lost.\n\n`,
  );
  process.stdout.write(`${detailTable(figures)}\n\n`);
  for (const [i, r] of results.entries()) {
    const unacked = r.phases.reduce((n, f) => n + f.unacknowledged, 0);
    process.stdout.write(
      `good client${results.length > 1 ? ` (server ${i + 1})` : ''}: channel offsets from ${r.startOffset}, epoch changes ${r.epochChanges}${r.closedAt ? `, CLOSED: ${r.closedAt}` : ', never closed'}; ` +
        `${fmt(unacked)} publications arrived whose publish request got no 200 within 10 s (published late, not lost)\n`,
    );
  }
  for (const d of serverDeaths) process.stdout.write(`THE SERVER EXITED at ${fmt(d.at, 1)} s during ${d.phase} (${d.exit}): ${d.error}\n`);
  if (flags.json) {
    writeFileSync(flags.json, JSON.stringify({ machine: m, flags, phases, goodClient: results, serverDeaths, samples }, null, 1));
    process.stdout.write(`raw figures: ${flags.json}\n`);
  }
}

runBench('abuse', main, () => (server ? `server stderr:\n${server.stderr()}\n` : ''));
