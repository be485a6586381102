/**
 * A seeded frame fuzzer (frame-fuzzer.ts): tens of thousands of mutated requests of every op, sent
 * in-process through TestClient and then over a real WebSocket to a listening node, on an
 * authenticated connection whose limits keep the rate limiter and the slow-consumer bound out of
 * the way. Frames stay under the frame size limit and are never binary: nothing the fuzzer sends
 * has a documented close, so the connection must live through all of it.
 *
 * Checked: no uncaught exception or unhandled rejection; every frame with a usable id (a
 * non-negative safe integer, as the server's JSON.parse reads it) gets exactly one reply with that
 * id, in any order; frames without one get at most an `{"op":"error"}` frame each; no reply names
 * an id no frame was owed; and the connection still answers a ping at the end. Which error a frame
 * gets is not checked (a nesting bound may answer bad_frame where zod answers bad_request today).
 *
 * FUZZ_SEED=<n> replays a run (the seed is printed); FUZZ_FRAMES=<n> sets the in-process count
 * (default 30,000; the WebSocket run sends a tenth of it).
 */
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { after, before, describe, test, type TestContext } from 'node:test';
import type { ServerFrame } from '@switchboard/client/protocol';
import { TestClient } from '../../src/core/testing/index.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { WsTestClient } from '../helpers/ws-client.js';
import { rawToken } from '../protocol/support.js';
import { FrameFuzzer, type FuzzFrame } from './frame-fuzzer.js';

function envInt(name: string, fallback: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 0 || value > max) throw new Error(`${name} must be an integer from 0 to ${max}, not '${raw}'`);
  return value;
}

const SEED = envInt('FUZZ_SEED', randomInt(2 ** 32), 2 ** 32 - 1);
const FRAMES = envInt('FUZZ_FRAMES', 30_000, 10_000_000);
const WS_FRAMES = Math.max(1, Math.round(FRAMES / 10));
/** Frames sent before waiting for their replies: pipelined, but bounded (requests in flight may be capped). */
const BATCH = 200;
const BATCH_TIMEOUT_MS = 20_000;
/** Under the node's 64 KiB frame limit (close 1009). */
const MAX_BYTES = 60_000;
const USER = 'fuzzer';
const TENANT = 't1';

/** One connection, in-process or over a socket, as the fuzz loop sees it. */
interface Link {
  send(text: string): void;
  /** The next frame, or null when none came within `ms`; throws once the connection is closed. */
  next(ms: number): Promise<ServerFrame | null>;
}

function testClientLink(client: TestClient): Link {
  return {
    send: (text) => client.sendText(text),
    next: async (ms) => {
      try {
        return await client.receive(ms);
      } catch (err) {
        const closed = await client.closed(1).catch(() => null);
        if (closed) throw new Error(`the server closed the connection: ${closed.code} ${closed.reason}`, { cause: err });
        return null;
      }
    },
  };
}

function wsLink(client: WsTestClient): Link {
  return {
    send: (text) => client.sendText(text),
    next: async (ms) => {
      try {
        return await client.next(ms);
      } catch (err) {
        if (client.isClosed) {
          const closed = await client.closed();
          throw new Error(`the server closed the connection: ${closed.code} ${closed.reason}`, { cause: err });
        }
        return null;
      }
    },
  };
}

/** What was sent and what came back: who is still owed a reply, and everything that broke a rule. */
class Ledger {
  readonly owed = new Map<number, FuzzFrame>();
  readonly optional = new Map<number, FuzzFrame>();
  readonly answered = new Map<number, boolean>();
  readonly problems: string[] = [];
  readonly codes = new Map<string, number>();
  sent = 0;
  withoutId = 0;
  errorFrames = 0;

  record(frame: FuzzFrame): void {
    this.sent++;
    if (frame.id === null) this.withoutId++;
    else if (frame.replyOptional) this.optional.set(frame.id, frame);
    else this.owed.set(frame.id, frame);
  }

  receive(frame: ServerFrame): void {
    if (frame.op === 'error') {
      this.errorFrames++;
      this.#count(`error frame: ${frame.error?.code}`);
      return;
    }
    if (frame.op !== 'reply') return; // publications, presence, heartbeats
    this.#count(frame.ok ? 'ok' : frame.error.code);
    const { id } = frame;
    if (this.answered.has(id)) this.#problem(`a second reply to id ${id}: ${JSON.stringify(frame).slice(0, 200)}`);
    else if (this.owed.delete(id) || this.optional.delete(id)) this.answered.set(id, frame.ok);
    else this.#problem(`a reply to id ${id}, which no frame was owed: ${JSON.stringify(frame).slice(0, 200)}`);
  }

  #count(key: string): void {
    this.codes.set(key, (this.codes.get(key) ?? 0) + 1);
  }

  #problem(text: string): void {
    if (this.problems.length < 20) this.problems.push(text);
  }
}

/** Takes frames until `done()`; fails, naming what is missing, when none comes for `timeoutMs`. */
async function drain(link: Link, ledger: Ledger, fuzzer: FrameFuzzer, done: () => boolean, timeoutMs: number): Promise<void> {
  while (!done()) {
    const frame = await link.next(timeoutMs);
    if (frame === null) {
      const missing = [...ledger.owed.values()].slice(0, 5).map((f) => `id ${f.id} (${f.mutations.join(', ') || 'valid'}): ${f.text.slice(0, 160)}`);
      assert.fail(`no frame for ${timeoutMs} ms while ${ledger.owed.size} frames still wait for a reply (FUZZ_SEED=${SEED} replays this run), e.g.\n  ${missing.join('\n  ')}`);
    }
    ledger.receive(frame);
    fuzzer.observe(frame as { op?: unknown; result?: unknown });
  }
}

/** Sends `count` fuzzed frames in batches, each batch answered before the next; then a plain ping. */
async function fuzz(t: TestContext, name: string, link: Link, fuzzer: FrameFuzzer, count: number): Promise<void> {
  const crashes: unknown[] = [];
  const onCrash = (err: unknown) => crashes.push(err);
  process.on('uncaughtException', onCrash);
  process.on('unhandledRejection', onCrash);
  const ledger = new Ledger();
  console.log(`fuzz ${name}: FUZZ_SEED=${SEED}, ${count} frames`);
  const started = performance.now();
  try {
    while (ledger.sent < count) {
      const n = Math.min(BATCH, count - ledger.sent);
      for (let i = 0; i < n; i++) {
        const frame = fuzzer.next();
        ledger.record(frame);
        link.send(frame.text);
      }
      await drain(link, ledger, fuzzer, () => ledger.owed.size === 0, BATCH_TIMEOUT_MS);
    }
    const elapsed = performance.now() - started;
    // The connection lives on and serves a normal request.
    const ping = fuzzer.freshId();
    ledger.owed.set(ping, { text: '', id: ping, replyOptional: false, mutations: ['final ping'] });
    link.send(JSON.stringify({ op: 'ping', id: ping }));
    await drain(link, ledger, fuzzer, () => ledger.answered.has(ping), 5000);
    assert.equal(ledger.answered.get(ping), true, 'the final ping is answered ok');
    // Late frames (a second reply, stray errors) have a moment to show up.
    const settle = Date.now() + 200;
    await drain(link, ledger, fuzzer, () => Date.now() >= settle, 1000).catch(() => undefined);

    const rate = Math.round(count / (elapsed / 1000));
    const codes = [...ledger.codes.entries()].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ');
    t.diagnostic(`${name}: FUZZ_SEED=${SEED}, ${count} frames in ${Math.round(elapsed)} ms (${rate} frames/s); ${count - ledger.withoutId} owed a reply, ${ledger.withoutId} without a usable id, ${ledger.errorFrames} error frames`);
    t.diagnostic(`${name} answers: ${codes}`);
    t.diagnostic(`${name} mutations: ${[...fuzzer.counts.entries()].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ')}`);

    assert.deepEqual(ledger.problems, [], `replies broke the one-reply-per-id rule (FUZZ_SEED=${SEED} replays this run)`);
    assert.ok(ledger.errorFrames <= ledger.withoutId, `${ledger.errorFrames} error frames for ${ledger.withoutId} frames without a usable id (FUZZ_SEED=${SEED})`);
  } finally {
    process.off('uncaughtException', onCrash);
    process.off('unhandledRejection', onCrash);
  }
  assert.deepEqual(crashes, [], `the process had uncaught errors (FUZZ_SEED=${SEED} replays this run)`);
}

void describe('frame fuzzer', () => {
  let server: TestServer;
  let tokens: string[];
  before(async () => {
    server = await startServer({ limits: { messagesPerSecond: 1e9, messageBurst: 1e9, maxBufferedBytes: 2 ** 30 } });
    const now = Math.floor(Date.now() / 1000);
    tokens = [
      await server.token(USER, 'customer', 3600, TENANT), // a valid refresh
      await server.token(USER, 'customer', 3600), // same user, no tenant: token_user_mismatch
      await server.token(USER, 'admin', 3600, TENANT),
      await server.token('mallory', 'customer', 3600, TENANT),
      await rawToken({ sub: USER, role: 'customer', exp: now - 60 }),
      await rawToken({ sub: USER, role: 'customer' }, 'not-the-node-secret-0123456789'),
      'eyJhbGciOiJub25lIn0.eyJzdWIiOiJmdXp6ZXIiLCJyb2xlIjoiY3VzdG9tZXIifQ.',
      '',
      'x',
      'a.b.c',
      'x'.repeat(16_384),
      'x'.repeat(16_385),
    ];
  });
  after(async () => {
    await WsTestClient.closeAll();
    await server.close();
  });

  void test(`${FRAMES} fuzzed frames in-process (TestClient)`, { timeout: 300_000 }, async (t) => {
    const client = await TestClient.connect(server.sb, { token: tokens[0]! });
    assert.equal((await client.receive()).op, 'welcome');
    await fuzz(t, 'in-process', testClientLink(client), new FrameFuzzer(SEED, { tokens, maxBytes: MAX_BYTES }), FRAMES);
    client.disconnect();
  });

  void test(`${WS_FRAMES} fuzzed frames over a real WebSocket`, { timeout: 300_000 }, async (t) => {
    const client = await WsTestClient.open(server.wsUrl, { token: tokens[0]! });
    await client.expectOp('welcome');
    // ws writes strings as UTF-8: a lone surrogate reaches the server as U+FFFD.
    const fuzzer = new FrameFuzzer(SEED ^ 0x5eed, { tokens, maxBytes: MAX_BYTES, wire: (text) => Buffer.from(text, 'utf8').toString('utf8') });
    await fuzz(t, 'websocket', wsLink(client), fuzzer, WS_FRAMES);
    assert.equal(client.isClosed, false, 'the connection is still open');
    await client.disconnect();
  });
});
