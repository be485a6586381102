import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import { waitFor } from './wait.js';

export const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));

export interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export const children = new Set<ChildProcess>();

/** A clean environment: nothing inherited but PATH, so the developer's settings cannot leak in. */
export function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', ...extra };
}

export function start(args: string[], env: Record<string, string>): { child: ChildProcess; done: Promise<Run>; output: () => { stdout: string; stderr: string } } {
  const child = spawn(process.execPath, [CLI, ...args], { env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const done = new Promise<Run>((resolve) => {
    child.on('close', (code, signal) => {
      children.delete(child);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return { child, done, output: () => ({ stdout, stderr }) };
}

/** Runs the CLI to completion, killing it if it takes longer than `timeoutMs`. */
export async function run(args: string[], env: Record<string, string>, timeoutMs = 10_000): Promise<Run> {
  const { child, done } = start(args, env);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const result = await done;
  clearTimeout(timer);
  assert.notEqual(result.signal, 'SIGKILL', `switchboard ${args.join(' ')} did not finish within ${timeoutMs} ms: ${JSON.stringify(result)}`);
  return result;
}

export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** The CLI suites' name for wait.ts's waitFor (same message on timeout). */
export const waitUntil = waitFor;

/** The URL from the `Switchboard listening on` log line (pino JSON on stdout). */
export function listeningUrl(stdout: string): string | null {
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const entry = JSON.parse(line) as { msg?: string; url?: string };
      if (entry.msg?.startsWith('Switchboard listening on') && entry.url) return entry.url;
    } catch {
      // a partial line; the next read completes it
    }
  }
  return null;
}

/** Kills every CLI process a test left running (by PID). */
export function killChildren(): void {
  for (const child of children) {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) continue;
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err; // gone before its 'close'
    }
  }
}

/**
 * A temporary data folder for the suite this is called in (or the file, at the top level): made
 * before its tests, and removed after them together with every CLI process they left running.
 */
export function suiteDataDir(prefix: string): () => string {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), prefix));
  });
  after(async () => {
    killChildren();
    await rm(dir, { recursive: true, force: true });
  });
  return () => dir;
}
