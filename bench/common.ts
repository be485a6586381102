/**
 * Shared pieces of the benchmarks: flags, the processes under test (spawned, awaited, always
 * stopped by their pid), /proc readings, tokens, a latency histogram, and table output.
 * Nothing here is imported by the server; the server under test is the real CLI in its own process.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SignJWT } from 'jose';
import type WebSocket from 'ws';

/** dist/bench, where the compiled bench files live. */
export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
/** The repository root (dist/bench/../..). */
export const ROOT = join(BENCH_DIR, '..', '..');
export const CLI = join(ROOT, 'dist', 'src', 'cli.js');
export const BASELINE = join(BENCH_DIR, 'baseline-ws-server.js');
export const SERVER_HOOK = join(BENCH_DIR, 'server-hook.js');

export const BENCH_SECRET = 'bench-secret-0123456789abcdef-0123456789';
export const BENCH_API_KEY = 'bench-api-key-0123456789abcdef';

export type Target = 'switchboard' | 'baseline';

// ----- flags

export type FlagSpec = Record<string, { default: string; help: string }>;

/** `--name value` or `--name=value`; unknown flags and `--help` print the usage and exit. */
export function parseArgs<S extends FlagSpec>(argv: string[], spec: S, usage: string): { [K in keyof S]: string } {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(spec)) out[k] = v.default;
  const help = () => {
    const lines = Object.entries(spec).map(([k, v]) => `  --${k.padEnd(18)} ${v.help} (default: ${v.default || 'none'})`);
    process.stdout.write(`${usage}\n\nflags:\n${lines.join('\n')}\n`);
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') {
      help();
      process.exit(0);
    }
    if (!arg.startsWith('--')) fail(`unexpected argument '${arg}'`, help);
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(2, eq) : arg.slice(2);
    if (!Object.hasOwn(spec, name)) fail(`unknown flag --${name}`, help);
    if (eq > 0) out[name] = arg.slice(eq + 1);
    else if (argv[i + 1] !== undefined && !argv[i + 1]!.startsWith('--')) out[name] = argv[++i]!;
    else out[name] = 'true';
  }
  return out as { [K in keyof S]: string };
}

function fail(message: string, help: () => void): never {
  process.stderr.write(`${message}\n\n`);
  help();
  process.exit(2);
}

export function intFlag(flags: Record<string, string>, name: string, min: number, max: number): number {
  const n = Number(flags[name]);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} must be a whole number in [${min}, ${max}] (got '${flags[name]}')`);
  return n;
}

export function numFlag(flags: Record<string, string>, name: string, min: number, max: number): number {
  const n = Number(flags[name]);
  if (!Number.isFinite(n) || n < min || n > max) throw new Error(`--${name} must be a number in [${min}, ${max}] (got '${flags[name]}')`);
  return n;
}

// ----- time

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Rejects after `ms` unless `promise` settles first; the timer never keeps the process alive. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// ----- a client's WebSocket (ws)

/** Waits for a WebSocket to open; rejects when it fails or closes first, or after `ms`. */
export function wsOpened(ws: WebSocket, ms: number, what: string): Promise<void> {
  return withTimeout(
    new Promise<void>((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
      ws.once('close', (code: number) => reject(new Error(`closed ${code} while opening`)));
    }),
    ms,
    what,
  );
}

/**
 * Sends a request with `id` and resolves with its reply, which the socket's message handler hands
 * to `waiting` (under its id); rejects when it is refused, or after `ms`.
 */
export async function wsRequest<F extends { ok?: boolean; error?: { code?: string } }>(
  ws: WebSocket,
  waiting: Map<number, (reply: F) => void>,
  id: number,
  frame: Record<string, unknown>,
  ms: number,
  what: string,
): Promise<F> {
  try {
    const reply = await withTimeout(
      new Promise<F>((resolve) => {
        waiting.set(id, resolve);
        ws.send(JSON.stringify({ ...frame, id }));
      }),
      ms,
      `${what}: ${String(frame.op)}`,
    );
    if (!reply.ok) throw new Error(`${what}: ${String(frame.op)} refused: ${reply.error?.code ?? 'unknown'}`);
    return reply;
  } finally {
    waiting.delete(id);
  }
}

// ----- processes

const children = new Set<ChildProcess>();

/** Stops one child by its pid: SIGTERM, then SIGKILL if it is still there after `graceMs`. */
export async function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) {
    children.delete(child);
    return;
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    process.kill(child.pid, 'SIGTERM');
  } catch {
    children.delete(child);
    return; // already gone
  }
  const timer = setTimeout(() => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        /* gone meanwhile */
      }
    }
  }, graceMs);
  await exited;
  clearTimeout(timer);
  // Tracked until it is gone, so a signal or the deadline meanwhile still kills it.
  children.delete(child);
}

/** Waits up to `ms` for a child to exit by itself (true if it did). */
export function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** Kills every child still tracked, by pid, synchronously (for exit paths). */
function killAllTracked(): void {
  for (const child of children) {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
  children.clear();
}

let bailOut: ((reason: string, code: number) => Promise<void>) | undefined;

/**
 * Runs a bench's `main`: exits 0 when it resolves. When it rejects, prints why (and `context`, e.g.
 * the server's stderr) and exits 1, stopping every process under test first.
 */
export function runBench(name: string, main: () => Promise<void>, context?: () => string): void {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`${name} bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      const more = context?.();
      if (more) process.stderr.write(more);
      if (bailOut) void bailOut('failure', 1);
      else process.exit(1);
    },
  );
}
/**
 * Every child is killed if this process ends for any reason, and the whole run is bounded: after
 * `maxSeconds` the bench gives up, kills its children and exits with 3 (130 on a signal). `cleanup`
 * (bounded by the caller) runs after the kill on those ways out, e.g. to delete a run's Redis keys.
 * Returns the way out itself, for a bench's own failure path: `void bail('failure', 1)`.
 */
export function guardProcess(maxSeconds: number, cleanup?: () => Promise<void>): (reason: string, code: number) => Promise<void> {
  if (bailOut) return bailOut;
  let exiting = false;
  const bail = async (reason: string, code: number): Promise<void> => {
    if (exiting) return;
    exiting = true;
    process.stderr.write(`\n${reason}: stopping the processes under test\n`);
    killAllTracked();
    if (cleanup) await cleanup().catch((err: unknown) => process.stderr.write(`clean-up failed: ${String(err)}\n`));
    process.exit(code);
  };
  bailOut = bail;
  process.on('exit', killAllTracked);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void bail(signal, 130));
  setTimeout(() => void bail(`the bench ran past --max-seconds ${maxSeconds}`, 3), maxSeconds * 1000).unref();
  return bail;
}

export interface ServerProcess {
  target: Target;
  child: ChildProcess;
  pid: number;
  port: number;
  /** The server's temporary data folder (SWITCHBOARD_DATA; removed by stop()). In development
   * the server generates its API key into `<dataDir>/api-key` when none is given. */
  dataDir: string;
  stop(): Promise<void>;
  /** Asks the process for a full GC (handled by server-hook) and returns its memoryUsage. */
  gc(): Promise<NodeJS.MemoryUsage>;
  /** Asks the process to write a heap snapshot to `path` (handled by server-hook). */
  snapshot(path: string): Promise<string>;
  /** Lines written to stderr, for failure reports. */
  stderr(): string;
}

export interface ServerOptions {
  port: number;
  /** Extra environment (limits). */
  env?: Record<string, string>;
  /** Node flags before the script, e.g. --cpu-prof. */
  nodeArgs?: string[];
  /** taskset CPU list, e.g. '0'. */
  cpus?: string;
}

/** A free loopback port (there is a tiny race between closing it and the server binding it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Development mode (the demo shop, the sandbox, and an API key generated into the data folder: an
 * empty value counts as unset), with the per-address limits at their defaults, unlike the
 * throughput benches: the abuse and soak benches measure what they do. The JWT secret stays
 * BENCH_SECRET.
 */
export const DEVELOPMENT_ENV: Readonly<Record<string, string>> = {
  SWITCHBOARD_ENV: 'development',
  NODE_ENV: 'development',
  SWITCHBOARD_API_KEY: '',
  SWITCHBOARD_MAX_CONNECTIONS_PER_ADDRESS: '',
  SWITCHBOARD_MAX_PENDING_PER_ADDRESS: '',
  SWITCHBOARD_CONNECTIONS_PER_SECOND_PER_ADDRESS: '',
};

/**
 * Starts the server under test in its own process: the real CLI (`node dist/src/cli.js serve`) or
 * the plain-ws baseline. Both get the same node flags and the same small preload (server-hook:
 * exits when the bench goes away, full GC on SIGUSR2 for the memory bench).
 */
export async function startServer(target: Target, options: ServerOptions): Promise<ServerProcess> {
  const dataDir = await mkdtemp(join(tmpdir(), 'switchboard-bench-'));
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? tmpdir(),
    PORT: String(options.port),
    HOST: '127.0.0.1',
    SWITCHBOARD_ENV: 'production',
    SWITCHBOARD_ALLOWED_ORIGINS: 'http://127.0.0.1',
    SWITCHBOARD_DATA: dataDir,
    SWITCHBOARD_JWT_SECRET: BENCH_SECRET,
    SWITCHBOARD_API_KEY: BENCH_API_KEY,
    LOG_LEVEL: 'warn',
    NODE_ENV: 'production',
    // A bench's thousands of clients all come from 127.0.0.1, where a deployment's come from
    // thousands of addresses: the per-address caps would measure the bench, not the node.
    SWITCHBOARD_MAX_CONNECTIONS_PER_ADDRESS: '1000000',
    SWITCHBOARD_MAX_PENDING_PER_ADDRESS: '1000000',
    SWITCHBOARD_CONNECTIONS_PER_SECOND_PER_ADDRESS: '1000000',
    ...options.env,
  };
  const script = target === 'switchboard' ? CLI : BASELINE;
  const args = ['--expose-gc', '--import', SERVER_HOOK, ...(options.nodeArgs ?? []), script, ...(target === 'switchboard' ? ['serve'] : [])];
  const command = options.cpus ? 'taskset' : process.execPath;
  const argv = options.cpus ? ['-c', options.cpus, process.execPath, ...args] : args;
  const child = spawn(command, argv, { cwd: dataDir, env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'], serialization: 'json' });
  children.add(child);
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-8000);
  });
  child.stdout!.resume(); // LOG_LEVEL=warn keeps it quiet; drain it anyway
  const pendingGc: ((m: NodeJS.MemoryUsage) => void)[] = [];
  const pendingSnapshots: ((path: string) => void)[] = [];
  child.on('message', (msg: { memory?: NodeJS.MemoryUsage; snapshot?: string }) => {
    if (msg.memory) pendingGc.shift()?.(msg.memory);
    if (msg.snapshot) pendingSnapshots.shift()?.(msg.snapshot);
  });
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code, signal) => reject(new Error(`${target} server exited (${code ?? signal}) before it was ready:\n${stderr}`))),
  );
  exited.catch(() => undefined);
  const proc: ServerProcess = {
    target,
    child,
    pid: child.pid!,
    port: options.port,
    dataDir,
    stderr: () => stderr,
    stop: async () => {
      await stopChild(child);
      await rm(dataDir, { recursive: true, force: true });
    },
    gc: () =>
      withTimeout(
        new Promise<NodeJS.MemoryUsage>((resolve) => {
          pendingGc.push(resolve);
          child.send({ gc: true });
        }),
        10_000,
        `${target} gc`,
      ),
    snapshot: (path) =>
      withTimeout(
        new Promise<string>((resolve) => {
          pendingSnapshots.push(resolve);
          child.send({ snapshot: path });
        }),
        120_000,
        `${target} heap snapshot`,
      ),
  };
  try {
    await Promise.race([waitReady(options.port, 15_000), exited]);
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return proc;
}

/** Polls GET /readyz until it answers 200 (bounded by `ms`). Both servers answer it. */
async function waitReady(port: number, ms: number): Promise<void> {
  const until = Date.now() + ms;
  for (let attempt = 0; attempt < 1000 && Date.now() < until; attempt++) {
    if (await httpStatus(port, '/readyz').catch(() => 0) === 200) return;
    await sleep(50);
  }
  throw new Error(`no server ready on 127.0.0.1:${port} within ${ms} ms`);
}

function httpStatus(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'GET', timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** Forks a bench load process (a compiled bench file) with an IPC channel. */
export function forkLoad(file: string, options: { cpus?: string; nodeArgs?: string[] } = {}): ChildProcess {
  const script = join(BENCH_DIR, file);
  const child = options.cpus
    ? spawn('taskset', ['-c', options.cpus, process.execPath, ...(options.nodeArgs ?? []), script], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'json' })
    : fork(script, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'json', execArgv: options.nodeArgs ?? [] });
  children.add(child);
  return child;
}

/** The next IPC message from `child` matching `accept`, bounded by `ms`; rejects if it exits. */
export function nextMessage<T>(child: ChildProcess, accept: (msg: unknown) => msg is T, ms: number, what: string): Promise<T> {
  return withTimeout(
    new Promise<T>((resolve, reject) => {
      const onMessage = (msg: unknown) => {
        if (!accept(msg)) return;
        cleanup();
        resolve(msg);
      };
      const onExit = (code: number | null, signal: string | null) => {
        cleanup();
        reject(new Error(`${what}: the process exited (${code ?? signal})`));
      };
      const cleanup = () => {
        child.off('message', onMessage);
        child.off('exit', onExit);
      };
      child.on('message', onMessage);
      child.on('exit', onExit);
    }),
    ms,
    what,
  );
}

// ----- /proc

/** Resident set size of a process in bytes (VmRSS from /proc/<pid>/status). */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!match) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]) * 1024;
}

const CLOCK_TICKS = 100; // USER_HZ on Linux

/** CPU time (user + system) a process has used, in ms, from /proc/<pid>/stat. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1000) / CLOCK_TICKS;
}

/** CPU time all processes on the machine have used (every CPU, busy states), in ms, from /proc/stat. */
export function machineBusyMs(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  return (((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) * 1000) / CLOCK_TICKS;
}

/**
 * On a shared machine other people's builds and tests steal the CPUs the bench measures. Before a
 * run, waits (in 1 s samples, at most `maxWaitMs`) until the machine is nearly idle: busy below
 * `thresholdPct` percent of all CPUs together. Returns the last sample's busy percentage.
 */
export async function waitForQuiet(maxWaitMs: number, thresholdPct: number, log: (line: string) => void): Promise<number> {
  const until = Date.now() + maxWaitMs;
  const ncpu = cpus().length;
  let busyPct = 0;
  for (let i = 0; i < 3600; i++) {
    const before = machineBusyMs();
    await sleep(1000);
    busyPct = (machineBusyMs() - before) / 10 / ncpu;
    if (busyPct < thresholdPct || Date.now() >= until) break;
    if (i === 0) log(`  waiting for the machine to quieten (other processes use ${fmt(busyPct)}% of the CPUs)`);
  }
  return busyPct;
}

/** The soft open-files limit of this process (children inherit it). */
export function openFilesLimit(): number {
  const limits = readFileSync('/proc/self/limits', 'utf8');
  const match = /^Max open files\s+(\d+|unlimited)/m.exec(limits);
  if (!match || match[1] === 'unlimited') return Number.POSITIVE_INFINITY;
  return Number(match[1]);
}

export function machine(): { nproc: number; cpu: string; node: string; loadavg: string } {
  const list = cpus();
  const loadavg = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  return { nproc: list.length, cpu: list[0]?.model ?? 'unknown', node: process.version, loadavg };
}

// ----- tokens

/** An HS256 token the server accepts (same secret, same claims as `switchboard token`). */
export async function mintToken(user: string, role = 'customer', ttlSeconds = 3600): Promise<string> {
  return new SignJWT({ role })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(user)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds)
    .sign(new TextEncoder().encode(BENCH_SECRET));
}

// ----- latency histogram

/**
 * Log-bucketed histogram of durations in ms: about 1% relative resolution from 1 µs up to
 * ~17 minutes, constant memory, mergeable across processes. Percentiles are bucket upper bounds
 * (so at most ~1% high); min, max and mean are exact.
 */
export class Histogram {
  static readonly GROWTH = 1.01;
  static readonly BUCKETS = 2100;
  static readonly LN = Math.log(Histogram.GROWTH);
  counts = new Float64Array(Histogram.BUCKETS);
  count = 0;
  sum = 0;
  min = Number.POSITIVE_INFINITY;
  max = 0;

  record(ms: number): void {
    const us = ms * 1000;
    const i = us <= 1 ? 0 : Math.min(Histogram.BUCKETS - 1, Math.ceil(Math.log(us) / Histogram.LN));
    this.counts[i]! += 1;
    this.count += 1;
    this.sum += ms;
    if (ms < this.min) this.min = ms;
    if (ms > this.max) this.max = ms;
  }

  merge(other: HistogramJson): void {
    for (const [i, c] of other.buckets) this.counts[i]! += c;
    this.count += other.count;
    this.sum += other.sum;
    if (other.count > 0) {
      this.min = Math.min(this.min, other.min);
      this.max = Math.max(this.max, other.max);
    }
  }

  /** The value at or below which `p` (0..1) of the samples fall, in ms. */
  percentile(p: number): number {
    if (this.count === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil(p * this.count));
    let seen = 0;
    for (let i = 0; i < Histogram.BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(this.max, Histogram.GROWTH ** i / 1000);
    }
    return this.max;
  }

  summary(): LatencySummary {
    return {
      samples: this.count,
      p50: this.percentile(0.5),
      p95: this.percentile(0.95),
      p99: this.percentile(0.99),
      max: this.count ? this.max : Number.NaN,
      mean: this.count ? this.sum / this.count : Number.NaN,
    };
  }

  toJSON(): HistogramJson {
    const buckets: [number, number][] = [];
    this.counts.forEach((c, i) => {
      if (c > 0) buckets.push([i, c]);
    });
    return { buckets, count: this.count, sum: this.sum, min: this.min, max: this.max };
  }
}

export interface HistogramJson {
  buckets: [number, number][];
  count: number;
  sum: number;
  min: number;
  max: number;
}

export interface LatencySummary {
  samples: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

// ----- counts and output

/** Counts an outcome by name (a status, a close code, an error): `m[k] += n`. */
export function tally(m: Record<string, number>, k: string, n = 1): void {
  m[k] = (m[k] ?? 0) + n;
}

/** Counts as text, most frequent first: `12 x 429, 3 x 200`, or `none`. */
export function tallyText(m: Record<string, number>): string {
  return (
    Object.entries(m)
      .sort((a, b) => b[1] - a[1])
      .map(([k, n]) => `${fmt(n)} x ${k}`)
      .join(', ') || 'none'
  );
}

export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = rows.map((r) => r.map(String));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]?.length ?? 0)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(headers), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.map(line)].join('\n');
}

export function fmt(n: number, digits = 0): string {
  if (!Number.isFinite(n)) return 'n/a';
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
