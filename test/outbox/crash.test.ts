import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { openDatabase, type Database } from '../../src/core/db/database.js';
import { forEachEngine, type EngineName } from '../helpers/app.js';
import { TEST_SECRET } from '../helpers/server.js';
import { killChildren, listeningUrl, start } from '../helpers/cli.js';
import { dropSchema, PG_URL } from '../helpers/services.js';
import { WsTestClient } from '../helpers/ws-client.js';
import { waitUntil } from './support.js';

/**
 * A real `switchboard serve` process killed right after a commit that wrote outbox events (the
 * SWITCHBOARD_TEST_FAULT=crash-after-commit fault, honoured only with SWITCHBOARD_ENV=test): the
 * change and its events are in the database, nothing was published. The restarted process must
 * publish what the dead one committed.
 */

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

interface Node {
  child: ChildProcess;
  url: string;
  exited: Promise<Exit>;
  output(): string;
}

/** Starts `serve` (clean environment, PORT=0: the system picks a free port, read back from the
 * log line) and waits until it listens. */
async function serve(env: Record<string, string>): Promise<Node> {
  const started = start(['serve'], { LOG_LEVEL: 'info', SWITCHBOARD_ENV: 'test', SWITCHBOARD_SHUTDOWN_GRACE_MS: '500', ...env });
  const output = (): string => {
    const { stdout, stderr } = started.output();
    return `${stdout}${stderr}`;
  };
  let exit: Exit | null = null;
  const exited = started.done.then((r) => (exit = { code: r.code, signal: r.signal }));
  try {
    await waitUntil(async () => exit !== null || listeningUrl(started.output().stdout) !== null, 30_000, 'switchboard serve to listen');
  } catch (err) {
    started.child.kill('SIGKILL');
    throw new Error(`${(err as Error).message}; output:\n${output().slice(-3000)}`);
  }
  const url = listeningUrl(started.output().stdout);
  if (!url) throw new Error(`switchboard serve exited (${JSON.stringify(exit)}) before listening; output:\n${output().slice(-3000)}`);
  return { child: started.child, url, exited, output };
}

/** Resolves with the exit, or rejects after `ms` (killing the process so nothing outlives the test). */
async function exitWithin(node: Node, ms: number, what: string): Promise<Exit> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      node.exited,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          node.child.kill('SIGKILL');
          reject(new Error(`timed out after ${ms} ms waiting for ${what}; output:\n${node.output().slice(-3000)}`));
        }, ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function stop(node: Node): Promise<void> {
  node.child.kill('SIGTERM');
  const exit = await exitWithin(node, 10_000, 'a graceful stop');
  assert.deepEqual(exit, { code: 0, signal: null }, `stopped cleanly; output:\n${node.output().slice(-3000)}`);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- bodies are read loosely and asserted on
async function call(node: Node, method: string, path: string, options: { token?: string; body?: unknown } = {}): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(node.url + path, { method, headers, ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}), signal: AbortSignal.timeout(15_000) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

async function login(node: Node): Promise<{ token: string; id: string }> {
  const res = await call(node, 'POST', '/api/auth/login', { body: { email: 'customer@demo.test', password: 'customer-demo' } });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return { token: res.body.token, id: res.body.user.id };
}

forEachEngine('outbox after a crash', (engine: EngineName) => {
  let dataDir: string;
  let schema: string | null = null;
  let env: Record<string, string>;
  let database: Database | null = null;
  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'switchboard-crash-'));
    env = { SWITCHBOARD_DATA: dataDir, SWITCHBOARD_JWT_SECRET: TEST_SECRET, SWITCHBOARD_DEMO_DATA: 'true' };
    if (engine === 'postgres') {
      // The first `serve` creates and migrates it.
      schema = `t_${randomBytes(6).toString('hex')}`;
      env = { ...env, DATABASE_URL: PG_URL, SWITCHBOARD_DATABASE_SCHEMA: schema };
    }
  });
  after(async () => {
    await WsTestClient.closeAll();
    killChildren();
    await database?.close();
    if (schema) await dropSchema(schema);
    await rm(dataDir, { recursive: true, force: true });
  });

  void test('a change committed by a process killed before publishing is published by the restarted process', async () => {
    // 1. Seed without the fault: the demo orders write outbox events, and the fault would kill the
    //    seeding process at its first commit.
    const seeding = await serve(env);
    const coffee = await (async () => {
      const { token } = await login(seeding);
      const res = await call(seeding, 'GET', '/api/products?limit=100', { token });
      return (res.body.items as { id: string; sku: string }[]).find((p) => p.sku === 'COF-250')!;
    })();
    await stop(seeding);

    // 2. With the fault: the first commit that writes events kills the process before it publishes.
    const faulty = await serve({ ...env, SWITCHBOARD_TEST_FAULT: 'crash-after-commit' });
    const customer = await login(faulty);
    const cartBefore = await call(faulty, 'GET', '/api/cart', { token: customer.token });
    assert.equal(cartBefore.status, 200, 'reading the cart writes no events, so the process lives');
    await assert.rejects(call(faulty, 'POST', '/api/cart/items', { token: customer.token, body: { productId: coffee.id, quantity: 2 } }), 'the request dies with the process');
    const death = await exitWithin(faulty, 10_000, 'the process to kill itself');
    assert.deepEqual(death, { code: null, signal: 'SIGKILL' }, `killed by the fault; output:\n${faulty.output().slice(-2000)}`);

    // 3. The change and its events are committed; nothing is marked sent.
    database = await openDatabase({ databaseUrl: engine === 'postgres' ? PG_URL : null, dataDir, ...(schema ? { schema } : {}) });
    const db = database.db;
    const cart = await db.selectFrom('carts').selectAll().where('user_id', '=', customer.id).where('status', '=', 'active').executeTakeFirstOrThrow();
    const items = await db.selectFrom('cart_items').select(['product_id', 'quantity']).where('cart_id', '=', cart.id).execute();
    assert.deepEqual(items, [{ product_id: coffee.id, quantity: 2 }], 'the cart item was committed');
    const channel = `cart:${customer.id}`;
    const rows = await db.selectFrom('outbox').select(['event_id', 'event', 'data', 'sent_at']).where('channel', '=', channel).orderBy('id').execute();
    assert.deepEqual(
      rows.map((r) => [r.event, r.sent_at]),
      [
        ['cart_item_added', null],
        ['cart_update', null],
      ],
      'its events are in the outbox, unsent',
    );
    const committedUpdate = JSON.parse(rows[1]!.data) as { version: number; items: { productId: string; quantity: number }[] };
    assert.equal(committedUpdate.items[0]?.productId, coffee.id);

    // 4. Restart without the fault: its dispatcher finds the rows at start and publishes them.
    const restarted = await serve(env);
    const again = await login(restarted);
    const client = await WsTestClient.open(restarted.url.replace(/^http/, 'ws') + '/ws', { token: again.token });
    const sub = await client.ok<{ snapshot: { items: { productId: string; quantity: number }[] } }>({ op: 'subscribe', channel });
    assert.deepEqual(
      sub.snapshot.items.map((i) => [i.productId, i.quantity]),
      [[coffee.id, 2]],
    );
    await waitUntil(
      async () => (await db.selectFrom('outbox').select('sent_at').where('channel', '=', channel).execute()).every((r) => r.sent_at !== null),
      15_000,
      'the restarted node to mark the events sent',
    );
    // The restarted process has a fresh in-memory layer, so what its history holds it published
    // itself: the very events the killed process wrote, data byte for byte.
    const history = await client.ok<{ publications: { event: string; data: unknown }[] }>({ op: 'history', channel });
    assert.deepEqual(
      history.publications.map((p) => [p.event, p.data]),
      rows.map((r) => [r.event, JSON.parse(r.data)]),
      'the killed process’s events, published once, in order',
    );
    const rest = await call(restarted, 'GET', '/api/cart', { token: again.token });
    assert.deepEqual(
      (rest.body.items as { productId: string; quantity: number }[]).map((i) => [i.productId, i.quantity]),
      [[coffee.id, 2]],
    );
    assert.equal(rest.body.version, committedUpdate.version);

    // A change on the restarted node is live for the subscriber. (The recovered events may have
    // arrived live too: on SQLite the dead process's dispatcher lease has to expire first.)
    const added = await call(restarted, 'POST', '/api/cart/items', { token: again.token, body: { productId: coffee.id, quantity: 1 } });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    const live = await client.nextMatching(
      (f) => f.op === 'message' && f.channel === channel && f.event === 'cart_update' && (f.data as { version: number }).version === committedUpdate.version + 1,
      10_000,
      'the live cart_update of the new change',
    );
    assert.equal(live.op === 'message' && (live.data as { items: { quantity: number }[] }).items[0]?.quantity, 3);
    const updates = await client.ok<{ publications: { event: string }[] }>({ op: 'history', channel });
    assert.equal(updates.publications.filter((p) => p.event === 'cart_update').length, 2, 'each cart_update published once');
    await client.disconnect();
    await stop(restarted);
  });
});
