/**
 * Idle-memory benchmark: what one idle connection costs the server, in resident memory.
 * For each target (the real CLI, and the plain `ws` baseline for comparison) in its own process:
 *
 * 1. start the server; open `--warm` connections and keep them. They take the one-off costs a
 *    first burst of connections brings (JIT, V8 young generation growing to its working size,
 *    allocator arenas) out of the per-connection figure;
 * 2. settle, two full GCs in the server (server-hook, over IPC), read VmRSS: "before";
 * 3. open `--connections` more in `--steps` equal steps, each connection authenticated (connect
 *    frame with its own token) and subscribed to `--subscriptions` channels (`user:<id>` and a
 *    shared `public:` channel), from `--load-processes` load processes; after each step settle,
 *    GC and read again;
 * 4. report (after - before) / connections (the target's measure), and the least-squares slope
 *    of RSS over the steps (the same thing, less sensitive to one reading's GC luck).
 *
 *   npm run bench:idle
 *   npm run bench:idle -- --connections 10000 --load-processes 2 --rounds 3
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import {
  fmt,
  forkLoad,
  freePort,
  guardProcess,
  intFlag,
  machine,
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
  waitForQuiet,
  type ServerProcess,
  type Target,
} from './common.js';
import type { IdleLoadMessage, OpenCommand } from './idle-load.js';

const flags = parseArgs(
  process.argv.slice(2),
  {
    connections: { default: '5000', help: 'idle connections measured' },
    subscriptions: { default: '2', help: 'channels each connection subscribes to (0, 1: user:<id>, 2: and a shared public: channel)' },
    warm: { default: '1000', help: 'connections opened (and kept) before the "before" reading' },
    steps: { default: '5', help: 'open the measured connections in this many steps, reading RSS after each' },
    'load-processes': { default: '1', help: 'client processes to spread the connections over' },
    settle: { default: '3', help: 'seconds to wait after each step, before GC and the reading' },
    rounds: { default: '2', help: 'measurements per target; the order alternates each round' },
    targets: { default: 'both', help: 'switchboard, baseline, or both' },
    'quiet-wait': { default: '30', help: 'seconds to wait before each round for other processes to leave the CPUs (0: do not wait)' },
    'heap-snapshots': {
      default: '',
      help: 'directory: write heap snapshots of each server at the before and after readings (for heapsnapshot-diff; taking them inflates RSS, so no verdict)',
    },
    json: { default: '', help: 'also write the raw results to this file' },
    'max-seconds': { default: '1200', help: 'give up (and stop every process) after this long' },
  },
  'usage: node dist/bench/idle-memory.js [flags]',
);

const connections = intFlag(flags, 'connections', 1, 200_000);
const subscriptions = intFlag(flags, 'subscriptions', 0, 2) as 0 | 1 | 2;
const warm = intFlag(flags, 'warm', 0, 100_000);
const steps = intFlag(flags, 'steps', 1, 100);
const loadProcesses = intFlag(flags, 'load-processes', 1, 16);
const settleMs = numFlag(flags, 'settle', 0, 600) * 1000;
const rounds = intFlag(flags, 'rounds', 1, 20);
const quietWaitMs = numFlag(flags, 'quiet-wait', 0, 3600) * 1000;
const snapshotDir = flags['heap-snapshots'];
const targets: Target[] = flags.targets === 'both' ? ['switchboard', 'baseline'] : flags.targets === 'switchboard' || flags.targets === 'baseline' ? [flags.targets] : [];
if (targets.length === 0) throw new Error(`--targets must be switchboard, baseline or both (got '${flags.targets}')`);
const TARGET_KIB = 12;

const SWITCHBOARD_ENV = {
  SWITCHBOARD_MAX_CONNECTIONS_PER_USER: '100000',
  SWITCHBOARD_SHUTDOWN_GRACE_MS: '500',
};

interface Reading {
  /** Connections open (warm ones included). */
  connections: number;
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
}

interface IdleResult {
  target: Target;
  round: number;
  connections: number;
  readings: Reading[];
  /** (after - before) / connections, KiB. */
  rssKiBPerConnection: number;
  /** Least-squares slope of RSS over the readings, KiB per connection. */
  rssSlopeKiB: number;
  heapKiBPerConnection: number;
  heapTotalKiBPerConnection: number;
  externalKiBPerConnection: number;
  openMs: number;
  serverSessions: number | null;
  serverSubscriptions: number | null;
  stillOpen: number;
}

/** After a settle: full GC in the server, a short pause for the allocator, then VmRSS (median of 3). */
async function read(server: ServerProcess, open: number): Promise<Reading> {
  await sleep(settleMs);
  const memory = await server.gc();
  await sleep(500);
  const samples: number[] = [];
  for (let i = 0; i < 3; i++) {
    samples.push(rssBytes(server.pid));
    await sleep(200);
  }
  return { connections: open, rss: median(samples), heapUsed: memory.heapUsed, heapTotal: memory.heapTotal, external: memory.external };
}

function isLoadReply(msg: unknown): msg is IdleLoadMessage {
  return typeof msg === 'object' && msg !== null && ('opened' in msg || 'error' in msg);
}

function isStatus(msg: unknown): msg is { status: { open: number; closedByServer: number } } {
  return typeof msg === 'object' && msg !== null && 'status' in msg;
}

async function openConnections(loads: ChildProcess[], url: string, from: number, count: number): Promise<number> {
  const per = Math.ceil(count / loads.length);
  const replies = await Promise.all(
    loads.map((load, k) => {
      const first = from + k * per;
      const n = Math.max(0, Math.min(per, from + count - first));
      const cmd: OpenCommand = { url, from: first, count: n, subscriptions, sharedChannel: 'public:bench-idle', concurrency: 100, timeoutMs: 60_000 + n * 20 };
      const reply = nextMessage(load, isLoadReply, cmd.timeoutMs + 10_000, 'opening connections');
      load.send({ open: cmd });
      return reply;
    }),
  );
  let opened = 0;
  for (const r of replies) {
    if ('error' in r) throw new Error(`load process: ${r.error}`);
    if (r.failed > 0) throw new Error(`${r.failed} connections failed, e.g.: ${r.firstError}`);
    opened += r.opened;
  }
  return opened;
}

/** Switchboard's own gauges, to confirm the server holds what the clients think it holds. */
function gauges(port: number): Promise<{ connections: number; subscriptions: number } | null> {
  return new Promise((resolve) => {
    const req = get({ host: '127.0.0.1', port, path: '/metrics', timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => {
        const value = (name: string) => Number(new RegExp(`^${name} (\\d+)`, 'm').exec(body)?.[1] ?? Number.NaN);
        resolve({ connections: value('switchboard_connections'), subscriptions: value('switchboard_subscriptions') });
      });
    });
    req.on('error', () => resolve(null));
    req.on('timeout', () => req.destroy());
  });
}

/** Least-squares slope of y over x. */
function slope(points: { x: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) return Number.NaN;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.x - mx) * (p.y - my);
    den += (p.x - mx) ** 2;
  }
  return num / den;
}

async function measure(target: Target, round: number): Promise<IdleResult> {
  const port = await freePort();
  const server = await startServer(target, { port, env: SWITCHBOARD_ENV });
  const url = `ws://127.0.0.1:${port}/ws`;
  const loads = Array.from({ length: loadProcesses }, () => forkLoad('idle-load.js'));
  try {
    let open = 0;
    if (warm > 0) open += await openConnections(loads, url, 0, warm);
    const readings = [await read(server, open)];
    if (snapshotDir) await server.snapshot(join(snapshotDir, `${target}-r${round}-before.heapsnapshot`));
    const started = Date.now();
    for (let step = 0; step < steps; step++) {
      const count = Math.floor((connections * (step + 1)) / steps) - Math.floor((connections * step) / steps);
      open += await openConnections(loads, url, open, count);
      readings.push(await read(server, open));
    }
    const openMs = Date.now() - started;
    if (snapshotDir) await server.snapshot(join(snapshotDir, `${target}-r${round}-after.heapsnapshot`));
    const g = target === 'switchboard' ? await gauges(port) : null;
    const statuses = await Promise.all(
      loads.map((load) => {
        const reply = nextMessage(load, isStatus, 10_000, 'load status');
        load.send({ status: true });
        return reply;
      }),
    );
    const stillOpen = statuses.reduce((n, s) => n + s.status.open, 0);
    const closedByServer = statuses.reduce((n, s) => n + s.status.closedByServer, 0);
    if (closedByServer > 0) throw new Error(`${closedByServer} connections were closed by the server during the measurement`);
    const before = readings[0]!;
    const after = readings[readings.length - 1]!;
    const measured = after.connections - before.connections;
    const kib = (bytes: number) => bytes / 1024 / measured;
    return {
      target,
      round,
      connections: measured,
      readings,
      rssKiBPerConnection: kib(after.rss - before.rss),
      rssSlopeKiB: slope(readings.map((r) => ({ x: r.connections, y: r.rss }))) / 1024,
      heapKiBPerConnection: kib(after.heapUsed - before.heapUsed),
      heapTotalKiBPerConnection: kib(after.heapTotal - before.heapTotal),
      externalKiBPerConnection: kib(after.external - before.external),
      openMs,
      serverSessions: g?.connections ?? null,
      serverSubscriptions: g?.subscriptions ?? null,
      stillOpen,
    };
  } catch (err) {
    process.stderr.write(`${target} server stderr:\n${server.stderr()}\n`);
    throw err;
  } finally {
    for (const load of loads) {
      if (load.connected) load.send({ close: true });
    }
    for (const load of loads) await stopChild(load);
    await server.stop();
  }
}

async function main(): Promise<void> {
  guardProcess(numFlag(flags, 'max-seconds', 10, 24 * 3600));
  const m = machine();
  const fdLimit = openFilesLimit();
  const total = connections + warm;
  if (total + 100 > fdLimit) {
    throw new Error(`ulimit -n is ${fdLimit}: too low for ${total} connections in one server (raise it, e.g. ulimit -n 65536, or use fewer connections)`);
  }
  if (snapshotDir) mkdirSync(snapshotDir, { recursive: true });
  process.stdout.write(
    `idle memory: ${connections} connections in ${steps} step(s), ${subscriptions} subscription(s) each, after ${warm} warm-up connections; ` +
      `${loadProcesses} load process(es), ${rounds} round(s)\n` +
      `machine: ${m.nproc} CPUs (${m.cpu}), node ${m.node}, loadavg ${m.loadavg}, ulimit -n ${fdLimit}\n\n`,
  );
  const results: IdleResult[] = [];
  for (let round = 1; round <= rounds; round++) {
    const order = round % 2 === 1 ? targets : [...targets].reverse();
    for (const target of order) {
      if (quietWaitMs > 0) await waitForQuiet(quietWaitMs, 15, (line) => process.stdout.write(`${line}\n`));
      const r = await measure(target, round);
      results.push(r);
      const curve = r.readings.map((x) => `${x.connections}: ${fmt(x.rss / 2 ** 20, 1)}`).join(', ');
      process.stdout.write(
        `${target.padEnd(11)} round ${round}: ${fmt(r.rssKiBPerConnection, 2)} KiB RSS per connection (slope ${fmt(r.rssSlopeKiB, 2)} KiB; ` +
          `V8 heap used ${fmt(r.heapKiBPerConnection, 2)} KiB, heap committed ${fmt(r.heapTotalKiBPerConnection, 2)} KiB, external ${fmt(r.externalKiBPerConnection, 2)} KiB)\n` +
          `            RSS MiB by connections: ${curve}; ${r.stillOpen} open at the end` +
          (r.serverSessions !== null ? `, server reports ${r.serverSessions} connections / ${r.serverSubscriptions} subscriptions` : '') +
          '\n',
      );
    }
  }
  const rows = results.map((r) => [
    r.round,
    r.target,
    r.connections,
    fmt(r.readings[0]!.rss / 2 ** 20, 1),
    fmt(r.readings[r.readings.length - 1]!.rss / 2 ** 20, 1),
    fmt(r.rssKiBPerConnection, 2),
    fmt(r.rssSlopeKiB, 2),
    fmt(r.heapKiBPerConnection, 2),
    fmt(r.heapTotalKiBPerConnection, 2),
    fmt(r.externalKiBPerConnection, 2),
  ]);
  process.stdout.write(
    `\n${table(['round', 'target', 'connections', 'RSS before MiB', 'RSS after MiB', 'RSS KiB/conn', 'RSS slope KiB/conn', 'V8 heap used KiB/conn', 'V8 heap committed KiB/conn', 'external KiB/conn'], rows)}\n`,
  );
  const sb = median(results.filter((r) => r.target === 'switchboard').map((r) => r.rssKiBPerConnection));
  const bl = median(results.filter((r) => r.target === 'baseline').map((r) => r.rssKiBPerConnection));
  if (snapshotDir) {
    process.stdout.write(`\nheap snapshots in ${snapshotDir}; writing them grows the server's RSS, so these RSS figures are not a measurement (no verdict)\n`);
  } else if (Number.isFinite(sb)) {
    const verdict = subscriptions === 2 ? (sb <= TARGET_KIB ? 'PASS' : 'FAIL') : 'n/a (the target is for 2 subscriptions)';
    process.stdout.write(
      `\nswitchboard: ${fmt(sb, 2)} KiB RSS per idle connection (median of rounds)${Number.isFinite(bl) ? `, baseline ${fmt(bl, 2)} KiB` : ''}; target <= ${TARGET_KIB} KiB: ${verdict}\n`,
    );
  }
  if (flags.json) writeFileSync(flags.json, JSON.stringify({ machine: m, flags, results }, null, 2));
}

runBench('idle-memory', main);
