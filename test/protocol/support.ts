/** Shared helpers for the protocol suites (TestClient against an in-process node, no port). */
import assert from 'node:assert/strict';
import type { ErrorCode, MessageFrame, ReplyError, ReplyFrame, ServerFrame } from '@switchboard/client/protocol';
import { SignJWT } from 'jose';
import { TestClient, type TestConnectOptions } from '../../src/core/testing/index.js';
import { TEST_SECRET, type TestServer } from '../helpers/server.js';

let counter = 0;
/** A channel name nobody else in the process uses. */
export function unique(prefix: string): string {
  return `${prefix}${process.pid}-${Date.now().toString(36)}-${counter++}`;
}

/** Connects with `?token=` and consumes the welcome. */
export async function connectAs(server: TestServer, user: string, role = 'customer', options: TestConnectOptions = {}): Promise<TestClient> {
  const token = await server.token(user, role);
  const client = await TestClient.connect(server.sb, { ...options, token });
  const welcome = await client.receive();
  assert.equal(welcome.op, 'welcome', `expected a welcome, got ${JSON.stringify(welcome)}`);
  return client;
}

export function expectOk<T = Record<string, unknown>>(reply: ReplyFrame): T {
  if (!reply.ok) assert.fail(`expected ok, got error ${JSON.stringify(reply.error)}`);
  return reply.result as T;
}

export function expectError(reply: ReplyFrame, code: ErrorCode, field?: string): ReplyError {
  if (reply.ok) assert.fail(`expected ${code}, got ok ${JSON.stringify(reply.result)}`);
  assert.equal(reply.error.code, code, `expected ${code}, got ${JSON.stringify(reply.error)}`);
  if (field !== undefined) assert.equal(reply.error.field, field, `field of ${JSON.stringify(reply.error)}`);
  assert.equal(typeof reply.error.message, 'string');
  assert.equal(typeof reply.error.temporary, 'boolean');
  return reply.error;
}

/** Receives frames until one matches; frames that do not match are returned as `skipped`. */
export async function receiveUntil<F extends ServerFrame>(
  client: TestClient,
  match: (f: ServerFrame) => f is F,
  timeoutMs = 1000,
): Promise<{ frame: F; skipped: ServerFrame[] }> {
  const deadline = Date.now() + timeoutMs;
  const skipped: ServerFrame[] = [];
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`timed out; skipped ${JSON.stringify(skipped).slice(0, 500)}`);
    const frame = await client.receive(left);
    if (match(frame)) return { frame, skipped };
    skipped.push(frame);
  }
}

export const isMessage = (f: ServerFrame): f is MessageFrame => f.op === 'message';

/** Collects message frames of `channel` until one with offset >= `lastOffset` arrives. */
export async function messagesUpTo(client: TestClient, channel: string, lastOffset: number, timeoutMs = 2000): Promise<MessageFrame[]> {
  const deadline = Date.now() + timeoutMs;
  const out: MessageFrame[] = [];
  while (out.length === 0 || out[out.length - 1]!.offset < lastOffset) {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`timed out waiting for offset ${lastOffset} on ${channel}; got ${out.map((m) => m.offset).join(',')}`);
    const frame = await client.receive(left);
    if (frame.op === 'message' && frame.channel === channel) out.push(frame);
  }
  return out;
}

/** A JWT signed with the test secret, with full control over its claims (e.g. already expired). */
export async function rawToken(claims: { sub?: string; role?: string; exp?: number }, secret = TEST_SECRET): Promise<string> {
  const jwt = new SignJWT(claims.role === undefined ? {} : { role: claims.role }).setProtectedHeader({ alg: 'HS256' }).setIssuedAt();
  if (claims.sub !== undefined) jwt.setSubject(claims.sub);
  if (claims.exp !== undefined) jwt.setExpirationTime(claims.exp);
  return jwt.sign(new TextEncoder().encode(secret));
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Yields `n` microtask turns: lets a concurrent async chain advance by a few awaits. */
export async function microtasks(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await Promise.resolve();
}
