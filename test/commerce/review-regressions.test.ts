/** Regressions found reviewing the persistence and commerce modules; each test failed before its fix. */
import assert from 'node:assert/strict';
import { CloseCodes } from '@switchboard/client/protocol';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { openDatabase, type Database } from '../../src/core/db/database.js';
import { migrateToLatest } from '../../src/core/db/migrate.js';
import type { DatabaseSchema } from '../../src/core/db/schema.js';
import type { Trx } from '../../src/core/domain/context.js';
import { LayerUnavailableError } from '../../src/core/layer/channel-layer.js';
import { createLogger } from '../../src/core/logger.js';
import { OutboxDispatcher } from '../../src/core/outbox/dispatcher.js';
import { enqueue } from '../../src/core/outbox/outbox.js';
import { forEachEngine, type ApiAnswer, paymentsOf } from '../helpers/app.js';
import { dropSchema, PG_URL, postgresUnavailable } from '../helpers/services.js';
import { allOrders, approve, createFromCart, waitUntil, whoAmI, type Checkout, type OrderView, type PaymentView } from '../outbox/support.js';
import { addItem, catalogue, expectError, expectStatus, getCart, insertProduct, suiteApp, type Catalogue } from './support.js';
import { WsTestClient } from '../helpers/ws-client.js';

const newKey = (): string => `key-${randomBytes(8).toString('hex')}`;
type Settled = { payment: PaymentView; order: OrderView | null };

forEachEngine('review regressions', (engine) => {
  const t = suiteApp(engine);
  let cat: Catalogue;
  before(async () => {
    cat = await catalogue(t, await t.loginAs('customer'));
  });

  void test('a NUL character in any field answers 400 naming the field, on both engines (PostgreSQL answered 500)', async () => {
    const { token } = await t.newCustomer();
    expectError(await addItem(t, token, { productId: 'prd_\u0000', quantity: 1 }), 400, 'invalid_body', 'productId');
    expectError(await t.request('GET', '/api/products/a%00b', { token }), 400, 'invalid_path', 'id');
    expectError(await t.request('GET', '/api/orders/a%00b', { token }), 400, 'invalid_path', 'id');
    expectError(await t.request('GET', '/api/payments/a%00b', { token }), 400, 'invalid_path', 'id');
    const manager = await t.loginAs('manager');
    expectError(await t.request('PATCH', '/api/orders/ord_x', { token: manager, body: { workerId: 'usr_\u0000' } }), 400, 'invalid_body', 'workerId');
    const email = `c-${randomBytes(5).toString('hex')}@test.example`;
    expectError(await t.request('POST', '/api/auth/register', { body: { email, password: 'password-123', name: 'Nul\u0000Name' } }), 400, 'invalid_body', 'name');
    expectError(await t.request('POST', '/api/auth/register', { body: { email, password: 'password-123', name: 'Ok', tenant: 'demo\u0000' } }), 400, 'invalid_body', 'tenant');
    expectError(await t.request('GET', `/api/orders?cursor=%00`, { token }), 400, 'invalid_query', 'cursor');
  });

  void test('an order list cursor of the wrong shape answers 400 invalid_query, not an empty page', async () => {
    const { token } = await t.newCustomer();
    for (const parts of [[], ['2020-01-01T00:00:00.000Z'], [1, 2]]) {
      const cursor = Buffer.from(JSON.stringify(parts)).toString('base64url');
      expectError(await t.request('GET', `/api/orders?cursor=${cursor}`, { token }), 400, 'invalid_query', 'cursor');
    }
    expectError(await t.request('GET', `/api/products?cursor=${Buffer.from('[]').toString('base64url')}`, { token }), 400, 'invalid_query', 'cursor');
  });

  void test('retries racing with one key and a version both answer the first answer (the late one got 409 version_conflict)', async () => {
    const { token } = await t.newCustomer();
    const mug = cat.product('MUG-01');
    const key = newKey();
    const body = { productId: mug.id, quantity: 1, version: 0 };
    const answers = await Promise.all(Array.from({ length: 4 }, () => addItem(t, token, body, { 'idempotency-key': key })));
    for (const [i, res] of answers.entries()) assert.equal(res.status, 201, `request ${i}: ${res.status} ${JSON.stringify(res.body)}`);
    for (const res of answers) assert.deepEqual(res.body, answers[0]!.body);
    assert.equal(answers.filter((r) => r.headers['idempotent-replayed'] !== 'true').length, 1, 'one did the work, the others replayed it');
    const cart = await getCart(t, token);
    assert.equal(cart.items[0]?.quantity, 1);
    assert.equal(cart.version, 1);
  });

  void test('checkouts racing with one key answer the same status and body', async () => {
    const { token } = await t.newCustomer();
    expectStatus(await addItem(t, token, { productId: cat.product('MUG-01').id, quantity: 1 }), 201);
    const key = newKey();
    const answers = await Promise.all(Array.from({ length: 3 }, () => t.request<Checkout>('POST', '/api/payments/create-from-cart', { token, body: {}, headers: { 'idempotency-key': key } })));
    // One of them created the payment (201) and the others found it (200): whichever answer was
    // stored first is every request's answer, as a later retry's.
    for (const res of answers) assert.equal(res.status, answers[0]!.status, JSON.stringify(answers.map((a) => [a.status, a.body])));
    for (const res of answers) assert.deepEqual(res.body, answers[0]!.body);
    const replay = await t.request<Checkout>('POST', '/api/payments/create-from-cart', { token, body: {}, headers: { 'idempotency-key': key } });
    assert.equal(replay.status, answers[0]!.status);
    assert.deepEqual(replay.body, answers[0]!.body);
  });

  void test('after a declined payment the same cart can be checked out again and paid (it got the failed payment back)', async () => {
    const { token } = await t.newCustomer();
    const mug = cat.product('MUG-01');
    expectStatus(await addItem(t, token, { productId: mug.id, quantity: 1 }), 201);
    const first = expectStatus(await createFromCart(t, token), 201).payment;
    assert.equal(expectStatus(await approve(t, token, first.id, 'failed'), 200).payment.status, 'failed');
    const before = await getCart(t, token);

    const retry = expectStatus(await createFromCart(t, token), 201, 'checkout after the decline');
    assert.notEqual(retry.payment.id, first.id, 'a new payment');
    assert.equal(retry.payment.status, 'pending');
    assert.equal(retry.payment.amountMinor, first.amountMinor);
    const after = await getCart(t, token);
    assert.ok(after.version > before.version, 'the new payment is for a new cart version');
    assert.deepEqual(after.items, before.items, 'with the same items');
    // The retry found by another tab is that same new payment.
    assert.equal(expectStatus(await createFromCart(t, token), 200).payment.id, retry.payment.id);

    const settled = expectStatus(await approve(t, token, retry.payment.id), 200);
    assert.ok(settled.order, 'the second attempt makes the order');
    assert.equal(settled.order.priceMinor, first.amountMinor);
    assert.equal((await allOrders(t, token)).length, 1);
  });

  void test('a checkout that finds this cart version\'s payment starts it with its own provider, not the one the request names', async () => {
    paymentsOf(t.app).register({ name: 'other', start: async (payment) => ({ providerRef: `oth_${payment.id}`, next: { type: 'other' } }), verify: () => null });
    const { token } = await t.newCustomer();
    expectStatus(await addItem(t, token, { productId: cat.product('MUG-01').id, quantity: 1 }), 201);
    const first = expectStatus(await createFromCart(t, token), 201);
    const again = expectStatus(await t.request<Checkout>('POST', '/api/payments/create-from-cart', { token, body: { provider: 'other' } }), 200);
    assert.equal(again.payment.id, first.payment.id);
    assert.equal(again.payment.provider, 'sandbox');
    assert.deepEqual(again.next, first.next, 'the sandbox\'s next step');
    assert.equal(await paymentsOf(t.app).providerRef(first.payment.id), `sbx_${first.payment.id}`, 'the sandbox\'s reference kept, so its callback finds the payment');
  });

  void test('assigned → paid by status takes the worker off, as docs/api.md says', async () => {
    const { token } = await t.newCustomer();
    expectStatus(await addItem(t, token, { productId: cat.product('FLT-100').id, quantity: 1 }), 201);
    const payment = expectStatus(await createFromCart(t, token), 201).payment;
    const order = expectStatus(await approve(t, token, payment.id), 200).order!;
    const manager = await t.loginAs('manager');
    const workerToken = await t.loginAs('worker');
    const worker = await whoAmI(t, workerToken);
    const assigned = expectStatus(await t.request<OrderView>('PATCH', `/api/orders/${order.id}`, { token: manager, body: { workerId: worker.id } }), 200);
    assert.equal(assigned.status, 'assigned');
    const back = expectStatus(await t.request<OrderView>('PATCH', `/api/orders/${order.id}`, { token: manager, body: { status: 'paid' } }), 200);
    assert.equal(back.status, 'paid');
    assert.equal(back.worker, null, 'no worker on a paid order');
    expectError(await t.request('GET', `/api/orders/${order.id}`, { token: workerToken }), 404, 'not_found');
    // Paid with a worker named at once is a contradiction, not a silent assignment.
    expectError(await t.request('PATCH', `/api/orders/${order.id}`, { token: manager, body: { status: 'paid', workerId: worker.id } }), 409, 'invalid_transition', 'workerId');
  });

  void test('the sandbox approval is the owner\'s, as documented: staff answer 403, another customer 404', async () => {
    const { token } = await t.newCustomer();
    expectStatus(await addItem(t, token, { productId: cat.product('MUG-01').id, quantity: 1 }), 201);
    const payment = expectStatus(await createFromCart(t, token), 201).payment;
    expectError(await approve(t, await t.loginAs('manager'), payment.id), 403, 'forbidden');
    expectError(await approve(t, (await t.newCustomer()).token, payment.id), 404, 'not_found');
    assert.equal(expectStatus(await t.request<PaymentView>('GET', `/api/payments/${payment.id}`, { token }), 200).status, 'pending');
  });

  void test('a token whose account is gone (or changed) answers 401 invalid_token: cart writes answered 500, a deleted admin kept acting', async () => {
    const { db } = t.app.database;
    const tenant = (await db.selectFrom('tenants').select('id').where('slug', '=', 'demo').executeTakeFirstOrThrow()).id;
    const gone = await t.app.sb.mintToken({ user: 'usr_deleted', role: 'customer', tenant, ttlSeconds: 600 });
    expectError(await t.request('GET', '/api/cart', { token: gone }), 401, 'invalid_token');
    expectError(await addItem(t, gone, { productId: cat.product('MUG-01').id, quantity: 1 }), 401, 'invalid_token');
    const goneAdmin = await t.app.sb.mintToken({ user: 'usr_deleted_admin', role: 'admin', tenant, ttlSeconds: 600 });
    const email = `c-${randomBytes(5).toString('hex')}@test.example`;
    expectError(await t.request('POST', '/api/users', { token: goneAdmin, body: { email, password: 'password-123', name: 'X', role: 'manager' } }), 401, 'invalid_token');
    // A token claiming more than the account holds.
    const customer = await t.newCustomer();
    const promoted = await t.app.sb.mintToken({ user: customer.id, role: 'admin', tenant, ttlSeconds: 600 });
    expectError(await t.request('GET', '/api/orders', { token: promoted }), 401, 'invalid_token');
    // The account's own token still works.
    expectStatus(await t.request('GET', '/api/cart', { token: customer.token }), 200);
  });

  void test('over the WebSocket too, a token whose account is gone (or claims more) is refused at connect (4504), not an internal error', async () => {
    const { db } = t.app.database;
    const tenant = (await db.selectFrom('tenants').select('id').where('slug', '=', 'demo').executeTakeFirstOrThrow()).id;
    const gone = await t.app.sb.mintToken({ user: 'usr_gone_ws', role: 'customer', tenant, ttlSeconds: 600 });
    const customer = await t.newCustomer();
    const promoted = await t.app.sb.mintToken({ user: customer.id, role: 'admin', tenant, ttlSeconds: 600 });
    const cases: [string, string][] = [
      [gone, 'cart:usr_gone_ws'],
      [gone, 'my-orders:usr_gone_ws'],
      [promoted, `alerts:${tenant}`],
      [promoted, `staff-orders:${tenant}`],
    ];
    for (const [token] of cases) {
      // The account check runs once, at connect, for every namespace: no welcome, no channel.
      const client = await WsTestClient.open(t.wsUrl, { token });
      assert.equal((await client.closed()).code, CloseCodes.accountRevoked);
      assert.ok(!client.pending.some((r) => r.frame.op === 'welcome'));
    }
    // The account's own token still subscribes its cart.
    const own = await WsTestClient.open(t.wsUrl, { token: customer.token });
    await own.expectOp('welcome');
    assert.equal((await own.request({ op: 'subscribe', channel: `cart:${customer.id}` })).ok, true);
    await own.disconnect();
  });

  if (engine !== 'postgres') return;

  /**
   * Holds a row lock in a transaction of its own while `during` runs; `waiting(n)` resolves once n
   * backends wait, directly or in a chain, behind this one.
   */
  async function holdingLock(lock: (trx: Trx) => Promise<unknown>, during: (waiting: (n: number) => Promise<void>) => Promise<void>): Promise<void> {
    const { db } = t.app.database;
    await db.transaction().execute(async (trx) => {
      const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(trx);
      const pid = rows[0]!.pid;
      await lock(trx);
      const waiting = (n: number) =>
        waitUntil(
          async () => {
            const r = await sql<{ n: number }>`with recursive w(pid) as (
              select pid from pg_stat_activity where ${pid}::int = any(pg_blocking_pids(pid))
              union select a.pid from pg_stat_activity a join w on w.pid = any(pg_blocking_pids(a.pid)))
              select count(*)::int as n from w`.execute(db);
            return r.rows[0]!.n >= n;
          },
          10_000,
          `${n} backends waiting`,
        );
      await during(waiting);
    });
  }

  void test('two settlements taking the same products in opposite cart order do not deadlock', async () => {
    const a = await insertProduct(t, { stock: 10 });
    const b = await insertProduct(t, { stock: 10 });
    const x = await t.newCustomer();
    const y = await t.newCustomer();
    for (const id of [a.id, b.id]) expectStatus(await addItem(t, x.token, { productId: id, quantity: 1 }), 201);
    for (const id of [b.id, a.id]) expectStatus(await addItem(t, y.token, { productId: id, quantity: 1 }), 201);
    const px = expectStatus(await createFromCart(t, x.token), 201).payment;
    const py = expectStatus(await createFromCart(t, y.token), 201).payment;
    let answers: ApiAnswer<Settled>[] = [];
    await holdingLock(
      (trx) => trx.updateTable('products').set((eb) => ({ stock: eb('stock', '+', 0) })).where('id', '=', b.id).execute(),
      async (waiting) => {
        // y queues for b first; x then takes a and queues for b behind y, who will want a next.
        const ys = approve(t, y.token, py.id);
        await waiting(1);
        const xs = approve(t, x.token, px.id);
        await waiting(2);
        // Not awaited here: both wait for this transaction, which commits on return.
        void Promise.all([ys, xs]).then((r) => (answers = r));
      },
    );
    await waitUntil(async () => answers.length === 2, 20_000, 'both approvals');
    for (const res of answers) assert.equal(res.status, 200, JSON.stringify(res.body));
    for (const res of answers) assert.ok(res.body.order, `an order: ${JSON.stringify(res.body)}`);
  });

  void test('a checkout superseding a payment while it settles does not deadlock with it', async () => {
    const a = await insertProduct(t, { stock: 10 });
    const c = cat.product('COF-250');
    const { token } = await t.newCustomer();
    expectStatus(await addItem(t, token, { productId: a.id, quantity: 1 }), 201);
    const older = expectStatus(await createFromCart(t, token), 201).payment;
    expectStatus(await addItem(t, token, { productId: c.id, quantity: 1 }), 201);
    let answers: [ApiAnswer<Settled>, ApiAnswer<Checkout>] | null = null;
    await holdingLock(
      (trx) => trx.updateTable('products').set((eb) => ({ stock: eb('stock', '+', 0) })).where('id', '=', a.id).execute(),
      async (waiting) => {
        const settling = approve(t, token, older.id);
        await waiting(1);
        const checkout = createFromCart(t, token);
        await waiting(2);
        // Not awaited here: both wait for this transaction, which commits on return.
        void Promise.all([settling, checkout]).then((r) => (answers = r));
      },
    );
    await waitUntil(async () => answers !== null, 20_000, 'the approval and the checkout');
    const [settled, checkout] = answers!;
    assert.equal(settled.status, 200, JSON.stringify(settled.body));
    assert.ok(settled.body.order, 'the older payment made its order');
    assert.equal(checkout.status, 201, JSON.stringify(checkout.body));
    assert.deepEqual(
      checkout.body.payment.snapshot.lines.map((l) => l.productId),
      [c.id],
      'the new payment is for what is left in the cart',
    );
  });
});


void test('SQLite: a dispatcher that does not hold the outbox lease polls at its poll interval, not every 50 ms', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'switchboard-lease-'));
  const file = join(dir, 'switchboard.db');
  let queries = 0;
  const open = (count: boolean): Database => {
    const sqlite = new BetterSqlite3(file);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('busy_timeout = 5000');
    const db = new Kysely<DatabaseSchema>({ dialect: new SqliteDialect({ database: sqlite }), ...(count ? { log: () => void queries++ } : {}) });
    return { db, engine: 'sqlite', schema: null, where: file, close: () => db.destroy() };
  };
  const [holderDb, otherDb] = [open(false), open(true)];
  const log = createLogger('silent');
  const publish = async () => ({});
  const holder = new OutboxDispatcher(holderDb, publish, log, { pollMs: 1000 });
  const other = new OutboxDispatcher(otherDb, publish, log, { pollMs: 1000 });
  try {
    await migrateToLatest(holderDb);
    holder.start();
    await waitUntil(async () => (await holderDb.db.selectFrom('leases').select('holder').executeTakeFirst()) !== undefined, 5000, 'the first dispatcher to take the lease');
    queries = 0;
    other.start();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    // One try at start and one at the next poll; the lease is held as long as its holder runs, so
    // retrying every 50 ms (as after a busy PostgreSQL lock) only contended for the file's write lock.
    assert.ok(queries <= 4, `the non-holder ran ${queries} queries in 1.5 s`);
  } finally {
    await other.stop();
    await holder.stop();
    await otherDb.close();
    await holderDb.close();
    await rm(dir, { recursive: true, force: true });
  }
});

void test('a dispatch round stalled by the layer keeps what it published marked sent (PostgreSQL rolled it back, to publish again later)', async (t) => {
  for (const engine of ['sqlite', 'postgres'] as const) {
    if (engine === 'postgres') {
      const reason = await postgresUnavailable();
      if (reason) {
        t.diagnostic(`postgres part skipped: ${reason}`);
        continue;
      }
    }
    const dir = await mkdtemp(join(tmpdir(), 'switchboard-stall-'));
    const schema = engine === 'postgres' ? `t_${randomBytes(6).toString('hex')}` : undefined;
    const database = await openDatabase({ databaseUrl: engine === 'postgres' ? PG_URL : null, dataDir: dir, ...(schema ? { schema } : {}) });
    let calls = 0;
    // The layer takes two events, then goes down.
    const publish = async () => {
      if (++calls > 2) throw new LayerUnavailableError('down');
      return {};
    };
    const dispatcher = new OutboxDispatcher(database, publish, createLogger('silent'), { pollMs: 60_000 });
    try {
      await migrateToLatest(database);
      await database.db.transaction().execute((trx) => enqueue(trx, database.engine, Array.from({ length: 5 }, (_, i) => ({ channel: 'user:x', event: 'e', data: { i } }))));
      dispatcher.start();
      await waitUntil(async () => calls >= 3, 5000, 'the third publish');
      await dispatcher.stop();
      const sent = await database.db.selectFrom('outbox').select('event_id').where('sent_at', 'is not', null).execute();
      assert.equal(sent.length, 2, `${engine}: the two published events are marked sent`);
      assert.equal(await dispatcher.pending(), 3, `${engine}: three wait`);
    } finally {
      await dispatcher.stop();
      await database.close();
      if (schema) await dropSchema(schema);
      await rm(dir, { recursive: true, force: true });
    }
  }
});
