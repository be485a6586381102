import { spawn, type ChildProcess } from 'node:child_process';
import { Agent, request } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { TokenService } from '../../src/core/auth/tokens.js';
import { listeningUrl } from './cli.js';
import { REDIS_URL, deleteKeys, uniquePrefix } from './redis.js';
import { TEST_API_KEY, TEST_SECRET } from './server.js';
import { delay } from './wait.js';

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));

/** One `switchboard serve` process on a free loopback port. */
export interface NodeProcess {
  name: string;
  pid: number;
  /** http://127.0.0.1:<port> */
  url: string;
  wsUrl: string;
  child: ChildProcess;
  output(): { stdout: string; stderr: string };
  /** Whether the process has exited. */
  readonly exited: boolean;
}

/** A WebSocket connection that publishes with many requests in flight (cheaper than HTTP). */
export interface Publisher {
  publish(channel: string, event: string, data: unknown): Promise<{ epoch: string; offset: number }>;
  close(): void;
}

export interface ClusterOptions {
  /** Extra environment for every node (limits, history size, presence timeout). */
  env?: Record<string, string>;
}

/**
 * Real Switchboard processes (`node dist/src/cli.js serve`) sharing one Redis under a key prefix
 * of their own, with a shared JWT secret and API key. Each listens on port 0 and reports its URL in
 * its log; `stop()` ends every process by its PID (SIGTERM, then SIGKILL) and deletes the keys.
 */
export class Cluster {
  readonly nodes: NodeProcess[] = [];
  readonly tokens = new TokenService(TEST_SECRET);
  readonly prefix = uniquePrefix('cluster');
  /** Keep-alive connections for the publish API: far cheaper per request than fetch. */
  readonly #agent = new Agent({ keepAlive: true, maxSockets: 64 });
  #dataDir: string | null = null;

  private constructor(readonly options: ClusterOptions) {}

  static async start(names: string[], options: ClusterOptions = {}): Promise<Cluster> {
    const cluster = new Cluster(options);
    try {
      cluster.#dataDir = await mkdtemp(join(tmpdir(), 'switchboard-cluster-'));
      await Promise.all(names.map((name) => cluster.#spawn(name)));
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  node(name: string): NodeProcess {
    const found = this.nodes.find((n) => n.name === name);
    if (!found) throw new Error(`no node ${name}`);
    return found;
  }

  token(user: string, role = 'customer'): Promise<string> {
    return this.tokens.mint({ user, role, ttlSeconds: 3600 });
  }

  /** POST /api/publish on a node; rejects unless it answers 200 within 10 s. */
  publish(node: NodeProcess, channel: string, event: string, data: unknown): Promise<{ epoch: string; offset: number }> {
    const body = JSON.stringify({ channel, event, data });
    return new Promise((resolve, reject) => {
      const req = request(
        `${node.url}/api/publish`,
        { method: 'POST', agent: this.#agent, timeout: 10_000, headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json' } },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('error', reject);
          res.on('end', () => {
            if (res.statusCode === 200) resolve(JSON.parse(text) as { epoch: string; offset: number });
            else reject(new Error(`publish on ${node.name} answered ${res.statusCode}: ${text}`));
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`publish on ${node.name} timed out`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  /** A publishing client on `node`, as user `user` (the namespace must let clients publish, and
   * SWITCHBOARD_MESSAGES_PER_SECOND must allow the rate). */
  async publisher(node: NodeProcess, user: string): Promise<Publisher> {
    const ws = new WebSocket(`${node.wsUrl}?token=${encodeURIComponent(await this.token(user))}`, { perMessageDeflate: false });
    const waiting = new Map<number, { resolve: (r: { epoch: string; offset: number }) => void; reject: (e: Error) => void }>();
    let nextId = 1;
    const failAll = (err: Error): void => {
      for (const w of waiting.values()) w.reject(err);
      waiting.clear();
    };
    ws.on('message', (data: WebSocket.RawData) => {
      const frame = JSON.parse(data.toString()) as { op: string; id?: number; ok?: boolean; result?: { epoch: string; offset: number }; error?: unknown };
      if (frame.op !== 'reply' || frame.id === undefined) return;
      const w = waiting.get(frame.id);
      waiting.delete(frame.id);
      if (frame.ok) w?.resolve(frame.result!);
      else w?.reject(new Error(`publish on ${node.name} failed: ${JSON.stringify(frame.error)}`));
    });
    ws.on('close', (code) => failAll(new Error(`publisher on ${node.name} closed (${code})`)));
    ws.on('error', (err) => failAll(err));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return {
      publish: (channel, event, data) =>
        new Promise((resolve, reject) => {
          const id = nextId++;
          waiting.set(id, { resolve, reject });
          ws.send(JSON.stringify({ op: 'publish', id, channel, event, data }));
        }),
      close: () => ws.terminate(),
    };
  }

  /** SIGKILL: the node dies with no goodbye (no close frames, no presence leaves, no cleanup). */
  async kill(node: NodeProcess): Promise<void> {
    await stopProcess(node, 'SIGKILL');
  }

  /** SIGTERM: a graceful stop; resolves with the exit code. */
  async terminate(node: NodeProcess): Promise<number | null> {
    await stopProcess(node, 'SIGTERM');
    return node.child.exitCode;
  }

  /** Stops every node by PID and deletes the cluster's keys. Safe to call twice. */
  async stop(): Promise<void> {
    this.#agent.destroy();
    await Promise.all(this.nodes.map((node) => stopProcess(node, 'SIGTERM')));
    if (this.#dataDir) await rm(this.#dataDir, { recursive: true, force: true });
    await deleteKeys(this.prefix);
  }

  async #spawn(name: string): Promise<NodeProcess> {
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH ?? '',
      SWITCHBOARD_ENV: 'test',
      LOG_LEVEL: 'info',
      HOST: '127.0.0.1',
      PORT: '0',
      SWITCHBOARD_DATA: join(this.#dataDir!, name),
      SWITCHBOARD_JWT_SECRET: TEST_SECRET,
      SWITCHBOARD_API_KEY: TEST_API_KEY,
      SWITCHBOARD_SHUTDOWN_GRACE_MS: '1000',
      REDIS_URL,
      SWITCHBOARD_REDIS_PREFIX: this.prefix,
      // Every test client is 127.0.0.1, and a failover sends them all back at once.
      SWITCHBOARD_CONNECTIONS_PER_SECOND_PER_ADDRESS: '1000000',
      ...this.options.env,
    };
    const child = spawn(process.execPath, ['--enable-source-maps', CLI, 'serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const exit = { exited: false };
    child.once('exit', () => (exit.exited = true));
    const deadline = Date.now() + 15_000;
    let url: string | null = null;
    while (!(url = listeningUrl(stdout))) {
      if (exit.exited || Date.now() > deadline) {
        if (!exit.exited) process.kill(child.pid!, 'SIGKILL');
        throw new Error(`node ${name} did not start: ${JSON.stringify({ stdout: stdout.slice(-2000), stderr: stderr.slice(-2000) })}`);
      }
      await delay(20);
    }
    const node: NodeProcess = {
      name,
      pid: child.pid!,
      url,
      wsUrl: `${url.replace(/^http/, 'ws')}/ws`,
      child,
      output: () => ({ stdout, stderr }),
      get exited() {
        return exit.exited;
      },
    };
    this.nodes.push(node);
    return node;
  }
}

async function stopProcess(node: NodeProcess, signal: NodeJS.Signals): Promise<void> {
  if (node.exited) return;
  const exited = new Promise<void>((resolve) => node.child.once('exit', () => resolve()));
  process.kill(node.pid, signal);
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([exited, new Promise<void>((resolve) => (timer = setTimeout(resolve, 5000)))]);
  clearTimeout(timer);
  if (!node.exited) {
    process.kill(node.pid, 'SIGKILL');
    await exited;
  }
}

