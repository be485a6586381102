import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { delay } from './wait.js';

/**
 * A redis-server of the test's own, on a free loopback port, for tests that stop, pause or restart
 * Redis (never the shared one). Persistence is the append-only file in a temporary folder, so a
 * restart brings the data back the way a production Redis would. Stopped by PID.
 */
export class OwnRedis {
  #child: ChildProcess | null = null;

  private constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  /** Why a test cannot have its own Redis, or false when it can. */
  static unavailable(): string | false {
    const found = spawnSync('redis-server', ['--version'], { stdio: 'ignore' });
    return found.error || found.status !== 0 ? 'no redis-server binary on PATH (apt-get install redis-server)' : false;
  }

  static async start(): Promise<OwnRedis> {
    const redis = new OwnRedis(await freePort(), await mkdtemp(join(tmpdir(), 'switchboard-redis-')));
    await redis.restart();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Starts the server (again, with the same data folder) and waits until it answers PING. */
  async restart(): Promise<void> {
    if (this.#child) throw new Error('redis-server is still running');
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--dir', this.dir];
    const child = spawn('redis-server', args, { stdio: 'ignore' });
    this.#child = child;
    child.once('exit', () => {
      if (this.#child === child) this.#child = null;
    });
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (await answers(this.url)) return;
      if (Date.now() > deadline || this.#child !== child) {
        await this.stop('SIGKILL');
        throw new Error(`redis-server on port ${this.port} did not start`);
      }
      await delay(50);
    }
  }

  /** SIGTERM: Redis writes its append-only file and exits. Waits (bounded) for the exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) {
      this.#child = null;
      return;
    }
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    process.kill(child.pid!, signal);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise<void>((resolve) => (timer = setTimeout(resolve, 5000)))]);
    clearTimeout(timer);
    if (child.exitCode === null && child.signalCode === null) {
      process.kill(child.pid!, 'SIGKILL');
      await exited;
    }
    this.#child = null;
  }

  /** SIGSTOP / SIGCONT: a Redis that keeps its connections open but answers nothing. */
  pause(): void {
    if (this.#child?.pid) process.kill(this.#child.pid, 'SIGSTOP');
  }

  resume(): void {
    if (this.#child?.pid) process.kill(this.#child.pid, 'SIGCONT');
  }

  async destroy(): Promise<void> {
    this.resume();
    await this.stop('SIGKILL');
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** A free loopback port (bench/common.ts has its twin: bench and tests do not import each other). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (address && typeof address === 'object' ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

async function answers(url: string): Promise<boolean> {
  const client = new Redis(url, { lazyConnect: true, retryStrategy: () => null, connectTimeout: 500, maxRetriesPerRequest: 0, enableOfflineQueue: false });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}
