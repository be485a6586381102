/**
 * Probes every cell of the authorization matrix (authorization-matrix.ts) against a real node of
 * the full app with its demo data: the WebSocket over real sockets, the REST API over HTTP. The
 * expected values are the table's (the specification); each row is one test, and a failing row
 * lists the cells that differ, with what the server answered.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import type { ReplyFrame, ServerFrame } from '@switchboard/client/protocol';
import { createUser } from '../../src/modules/accounts/accounts.js';
import { TokenService } from '../../src/core/auth/tokens.js';
import type { NamespaceOptions } from '../../src/core/channels/namespaces.js';
import type { FrameStyle, RouteOptions, RouteResolver } from '../../src/core/channels/routes.js';
import { newId, nowIso } from '../../src/core/db/ids.js';
import { transact } from '../../src/core/domain/context.js';
import { createOrder } from '../../src/modules/orders/orders.js';
import { DEMO_ACCOUNTS } from '../../src/modules/accounts/seed.js';
import { Switchboard } from '../../src/core/switchboard.js';
import { forEachEngine, startApp, type EngineName, type TestApp } from '../helpers/app.js';
import { HttpRefused, WsTestClient } from '../helpers/ws-client.js';
import {
  PRINCIPALS,
  REST_MATRIX,
  UNAUTHENTICATED,
  WS_MATRIX,
  allows,
  matrixSection,
  renderMatrix,
  resolveTemplate,
  restRowTitle,
  wsRowTitle,
  type Placeholder,
  type Principal,
  type RestRow,
  type WsRow,
} from './authorization-matrix.js';

const PASSWORD = 'password-123';
const WAIT_MS = 5000;

/** What the server did with one probe: allowed or refused, and the answer that shows it. */
interface Outcome {
  allowed: boolean;
  detail: string;
  status?: number;
}

/** Everything the probes need: the node, a token per principal (none for anonymous), the values of
 * each principal's placeholders, one connection per principal for the channel ops, and what the
 * app declared while it started (for the coverage checks). */
interface World {
  t: TestApp;
  tokens: Record<Principal, string | null>;
  values: Record<Principal, Record<Placeholder, string>>;
  connections: Map<Principal, WsTestClient>;
  /** What the app declared: namespaces, and path alias patterns with the frames they speak. */
  declared: { namespaces: Set<string>; routes: Set<string>; frames: Map<string, FrameStyle> };
  ids: { demoTenant: string; otherTenant: string; worker: string; customer: string };
}

/** Starts the app, recording the namespaces and path aliases its modules declare. */
async function startRecording(engine: EngineName): Promise<{ t: TestApp; declared: World['declared'] }> {
  const declared = { namespaces: new Set<string>(), routes: new Set<string>(), frames: new Map<string, FrameStyle>() };
  const proto = Switchboard.prototype;
  const { defineNamespace, addRoute } = proto;
  proto.defineNamespace = function (this: Switchboard, name: string, options: NamespaceOptions) {
    declared.namespaces.add(name);
    return defineNamespace.call(this, name, options);
  };
  proto.addRoute = function (this: Switchboard, pattern: string, resolve: RouteResolver, options?: RouteOptions) {
    declared.routes.add(pattern);
    declared.frames.set(pattern, options?.frames ?? 'switchboard');
    return addRoute.call(this, pattern, resolve, options);
  };
  try {
    return { t: await startApp({ engine }), declared };
  } finally {
    proto.defineNamespace = defineNamespace;
    proto.addRoute = addRoute;
  }
}

async function expectStatus<T>(answer: Promise<{ status: number; body: T }>, status: number, what: string): Promise<T> {
  const res = await answer;
  assert.equal(res.status, status, `${what}: expected ${status}, got ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body;
}

/** Adds one unit of a product to the user's cart; returns the line's id. */
async function addLine(t: TestApp, token: string, productId: string): Promise<string> {
  const cart = await expectStatus(t.request<{ items: { id: string; productId: string }[] }>('POST', '/api/cart/items', { token, body: { productId, quantity: 1 } }), 201, 'add a cart line');
  const line = cart.items.find((i) => i.productId === productId);
  assert.ok(line, 'the added line is in the cart');
  return line.id;
}

async function buildWorld(engine: EngineName): Promise<World> {
  const { t, declared } = await startRecording(engine);
  const { db } = t.app.database;
  const demoTenant = (await db.selectFrom('tenants').select('id').where('slug', '=', 'demo').executeTakeFirstOrThrow()).id;
  const idOf = async (email: string) => (await db.selectFrom('users').select('id').where('email', '=', email).executeTakeFirstOrThrow()).id;
  const demo = Object.fromEntries(await Promise.all(DEMO_ACCOUNTS.map(async (a) => [a.role, { id: await idOf(a.email), token: await t.login(a.email, a.password) }] as const)));
  const { customer, worker, manager, admin } = demo as Record<'customer' | 'worker' | 'manager' | 'admin', { id: string; token: string }>;
  const customer2 = await t.newCustomer('Second Customer');
  const victim = await t.newCustomer('Other Customer');

  // A second tenant with an admin, a product and an order.
  const otherTenant = newId('ten');
  await db.insertInto('tenants').values({ id: otherTenant, slug: `other-${randomBytes(3).toString('hex')}`, name: 'Other Shop', created_at: nowIso() }).execute();
  const otherAdminEmail = `other-admin-${randomBytes(4).toString('hex')}@test.example`;
  const otherAdminId = await createUser(t.app.domain, { email: otherAdminEmail, password: PASSWORD, name: 'Other Admin', role: 'admin', tenantId: otherTenant });
  const otherAdminToken = await t.login(otherAdminEmail, PASSWORD);
  const otherProduct = newId('prd');
  await db
    .insertInto('products')
    .values({ id: otherProduct, tenant_id: otherTenant, sku: 'OTHER-1', name: 'Other shop product', description: 'made by a test', price_minor: 700, currency: 'USD', stock: 50, active: 1, created_at: nowIso() })
    .execute();
  const orderD = await transact(t.app.domain, (unit) =>
    createOrder(unit, {
      tenantId: otherTenant,
      customerId: otherAdminId,
      title: '1 × Other shop product',
      currency: 'USD',
      paymentId: null,
      status: 'paid',
      lines: [{ productId: otherProduct, variantId: null, name: 'Other shop product', unitPriceMinor: 700, quantity: 1, lineTotalMinor: 700 }],
      actorId: null,
    }),
  );

  // An admin whose token outlives its account: made by the demo admin, signed in, then its rows
  // deleted straight from the database, as `switchboard seed` does.
  const deletedEmail = `gone-admin-${randomBytes(4).toString('hex')}@test.example`;
  const made = await expectStatus(t.request<{ user: { id: string } }>('POST', '/api/users', { token: admin.token, body: { email: deletedEmail, password: PASSWORD, name: 'Gone Admin', role: 'admin' } }), 201, 'create the account to delete');
  const deletedId = made.user.id;
  const deletedToken = await t.login(deletedEmail, PASSWORD);
  await db.deleteFrom('tenant_members').where('user_id', '=', deletedId).execute();
  await db.deleteFrom('users').where('id', '=', deletedId).execute();

  // The demo admin's claims, signed with a secret the node does not have.
  const forgedToken = await new TokenService('not-the-node-secret-0123456789').mint({ user: admin.id, role: 'admin', tenant: demoTenant, ttlSeconds: 3600 });

  // Order C and its payment: the second customer checks out through the sandbox.
  const product = (await db.selectFrom('products').select('id').where('tenant_id', '=', demoTenant).where('sku', '=', 'COF-250').executeTakeFirstOrThrow()).id;
  await addLine(t, customer2.token, product);
  const checkout = await expectStatus(t.request<{ payment: { id: string } }>('POST', '/api/payments/create-from-cart', { token: customer2.token, body: {} }), 201, 'checkout');
  const settled = await expectStatus(t.request<{ order: { id: string } | null }>('POST', `/api/payments/${checkout.payment.id}/sandbox`, { token: customer2.token, body: {} }), 200, 'sandbox approval');
  assert.ok(settled.order, 'the approved payment made an order');

  // Orders A and B: the demo data's, in the states the table describes.
  const demoOrders = await db.selectFrom('orders').select(['id', 'status', 'worker_id']).where('customer_id', '=', customer.id).execute();
  const orderA = demoOrders.find((o) => o.status === 'in_progress' && o.worker_id === worker.id);
  const orderB = demoOrders.find((o) => o.status === 'paid' && o.worker_id === null);
  assert.ok(orderA && orderB, `the demo data has an order in progress with the worker and a paid one without: ${JSON.stringify(demoOrders)}`);

  // A line in every account's cart (the other tenant's admin buys from its own catalogue).
  const lines: Partial<Record<Principal, string>> = {};
  for (const [p, token] of [['customer', customer.token], ['customer2', customer2.token], ['worker', worker.token], ['manager', manager.token], ['admin', admin.token]] as const) {
    lines[p] = await addLine(t, token, product);
  }
  lines.otherAdmin = await addLine(t, otherAdminToken, otherProduct);
  const otherLine = await addLine(t, victim.token, product);

  const tokens: Record<Principal, string | null> = {
    anonymous: null,
    customer: customer.token,
    customer2: customer2.token,
    worker: worker.token,
    manager: manager.token,
    admin: admin.token,
    otherAdmin: otherAdminToken,
    deleted: deletedToken,
    forged: forgedToken,
  };
  const identity: Record<Principal, { self: string; tenant: string; line: string }> = {
    anonymous: { self: customer.id, tenant: demoTenant, line: lines.customer! },
    customer: { self: customer.id, tenant: demoTenant, line: lines.customer! },
    customer2: { self: customer2.id, tenant: demoTenant, line: lines.customer2! },
    worker: { self: worker.id, tenant: demoTenant, line: lines.worker! },
    manager: { self: manager.id, tenant: demoTenant, line: lines.manager! },
    admin: { self: admin.id, tenant: demoTenant, line: lines.admin! },
    otherAdmin: { self: otherAdminId, tenant: otherTenant, line: lines.otherAdmin! },
    deleted: { self: deletedId, tenant: demoTenant, line: newId('item') },
    forged: { self: admin.id, tenant: demoTenant, line: lines.admin! },
  };
  const values = Object.fromEntries(
    PRINCIPALS.map((p) => {
      const own = identity[p];
      const resolved: Record<Placeholder, string> = {
        self: own.self,
        other: victim.id,
        tenant: own.tenant,
        otherTenant: own.tenant === demoTenant ? otherTenant : demoTenant,
        orderA: orderA.id,
        orderB: orderB.id,
        orderC: settled.order!.id,
        orderD: orderD.id,
        paymentC: checkout.payment.id,
        product,
        otherProduct,
        line: own.line,
        otherLine,
        otherTenantAdmin: otherAdminId,
      };
      return [p, resolved];
    }),
  ) as Record<Principal, Record<Placeholder, string>>;

  // One connection per principal for the channel ops, opened with ?token= (anonymous: none).
  const connections = new Map<Principal, WsTestClient>();
  for (const p of PRINCIPALS) {
    const token = tokens[p];
    const client = await WsTestClient.open(t.wsUrl, token ? { token } : {});
    connections.set(p, client);
    if (token) await client.nextMatching((f) => f.op === 'welcome', WAIT_MS, 'the welcome').catch(() => undefined); // or it was closed
  }
  return { t, tokens, values, connections, declared, ids: { demoTenant, otherTenant, worker: worker.id, customer: customer.id } };
}

// ----- Probes

/** Refusals a request may get on a connection that is open: the policy's, or the connection's. */
const REFUSALS = new Set(['forbidden', 'not_connected', 'invalid_token']);

async function closedOutcome(client: WsTestClient): Promise<Outcome> {
  const closed = await client.closed(WAIT_MS);
  return { allowed: false, detail: `closed ${closed.code}` };
}

/** One request on a principal's connection. */
async function requestOutcome(client: WsTestClient, frame: Record<string, unknown> & { op: string }): Promise<Outcome> {
  if (client.isClosed) return closedOutcome(client);
  let reply: ReplyFrame;
  try {
    reply = await client.request(frame, WAIT_MS);
  } catch (err) {
    if (client.isClosed) return closedOutcome(client);
    throw err;
  }
  if (reply.ok) return { allowed: true, detail: 'ok' };
  if (REFUSALS.has(reply.error.code)) return { allowed: false, detail: reply.error.code };
  throw new Error(`${frame.op} ${String(frame.channel)} answered ${JSON.stringify(reply.error)}: not a refusal, so the probe itself is wrong`);
}

async function probeWs(world: World, row: WsRow, p: Principal): Promise<Outcome> {
  const token = world.tokens[p];
  if (row.kind === 'connect') {
    const client = await WsTestClient.open(world.t.wsUrl);
    try {
      client.send({ op: 'connect', id: 1, ...(token ? { token } : {}) });
      const outcome = await requestOutcomeOf(client, 1);
      if (outcome.allowed) await client.nextMatching((f) => f.op === 'welcome', WAIT_MS, 'the welcome');
      return outcome;
    } finally {
      client.terminate();
    }
  }
  if (row.kind === 'alias') {
    const url = `ws://127.0.0.1:${world.t.port}${resolveTemplate(row.path, world.values[p])}`;
    let client: WsTestClient;
    try {
      client = await WsTestClient.open(url, token ? { token } : {});
    } catch (err) {
      if (err instanceof HttpRefused && err.status !== 404) return { allowed: false, detail: `HTTP ${err.status}` };
      throw err;
    }
    try {
      // Probed as its frontends use it: in the frames the alias speaks by default.
      const pattern = [...world.declared.routes].find((declared) => aliasMatches(declared, row.path));
      if (pattern !== undefined && world.declared.frames.get(pattern) === 'channels') {
        // A Channels connection brings its token with the upgrade or is closed 4500; it is told
        // what it was subscribed to by connection_established.
        let established: { channels?: unknown };
        try {
          established = (await client.nextMatching((f) => (f as { type?: unknown }).type === 'connection_established', WAIT_MS, 'connection_established')) as { channels?: unknown };
        } catch (err) {
          if (client.isClosed) return closedOutcome(client);
          throw err;
        }
        const expected = resolveTemplate(row.channel, world.values[p]);
        assert.deepEqual(established.channels, [expected], `the alias subscribed other channels than ${expected}`);
        return { allowed: true, detail: `subscribed ${expected}` };
      }
      if (!token) client.send({ op: 'connect', id: 1 });
      let frame: ServerFrame;
      try {
        frame = await client.nextMatching((f) => f.op === 'subscribed', WAIT_MS, 'the alias subscription');
      } catch (err) {
        if (client.isClosed) return closedOutcome(client);
        throw err;
      }
      const expected = resolveTemplate(row.channel, world.values[p]);
      assert.equal(frame.op === 'subscribed' && frame.channel, expected, `the alias subscribed another channel than ${expected}`);
      return { allowed: true, detail: `subscribed ${expected}` };
    } finally {
      client.terminate();
    }
  }
  const client = world.connections.get(p)!;
  const channel = resolveTemplate(row.channel, world.values[p]);
  const frame = row.op === 'publish' ? { op: 'publish', channel, event: 'probe', data: { probe: true } } : { op: row.op, channel };
  const outcome = await requestOutcome(client, frame);
  // Each cell stands alone: a subscription the probe made is undone.
  if (outcome.allowed && row.op === 'subscribe') await requestOutcome(client, { op: 'unsubscribe', channel });
  return outcome;
}

/** The reply to request `id` already sent on `client`, as an outcome. */
async function requestOutcomeOf(client: WsTestClient, id: number): Promise<Outcome> {
  try {
    const reply = await client.reply(id, WAIT_MS);
    return reply.ok ? { allowed: true, detail: 'ok' } : { allowed: false, detail: reply.error.code };
  } catch (err) {
    if (client.isClosed) return closedOutcome(client);
    throw err;
  }
}

async function probeRest(world: World, row: RestRow, p: Principal): Promise<Outcome> {
  const token = world.tokens[p];
  const res = await world.t.request(row.method, resolveTemplate(row.path, world.values[p]), { ...(token ? { token } : {}), ...(row.body !== undefined ? { body: row.body } : {}) });
  const detail = `${res.status} ${(res.body as { error?: { code?: string } } | null)?.error?.code ?? ''}`.trim();
  if (res.status === 401 || res.status === 403 || res.status === 404) return { allowed: false, detail, status: res.status };
  if ((res.status >= 200 && res.status < 300) || res.status === 400 || res.status === 409 || res.status === 422) return { allowed: true, detail, status: res.status };
  throw new Error(`${row.method} ${row.path} as ${p} answered ${res.status}: ${JSON.stringify(res.body)}; neither allowed nor refused`);
}

const mark = (allowed: boolean) => (allowed ? '✓' : '✗');

/** Probes a row for every principal (one at a time) and fails listing every cell that differs. */
async function checkRow<R extends { allow: readonly Principal[] }>(row: R, probe: (p: Principal) => Promise<Outcome>, strict?: (p: Principal, outcome: Outcome) => string | null): Promise<void> {
  const wrong: string[] = [];
  for (const p of PRINCIPALS) {
    const outcome = await probe(p);
    const expected = allows(row, p);
    if (outcome.allowed !== expected) wrong.push(`${p}: expected ${mark(expected)}, got ${mark(outcome.allowed)} (${outcome.detail})`);
    else {
      const problem = strict?.(p, outcome);
      if (problem) wrong.push(`${p}: ${problem}`);
    }
  }
  if (wrong.length > 0) assert.fail(`cells that differ from the table:\n  ${wrong.join('\n  ')}`);
}

/** Matches a path alias row's path against a declared route pattern (`:name` matches any segment). */
function aliasMatches(pattern: string, path: string): boolean {
  const a = pattern.split('/').filter(Boolean);
  const b = path.split('/').filter(Boolean);
  return a.length === b.length && a.every((seg, i) => seg.startsWith(':') || seg === b[i]);
}

forEachEngine('authorization matrix', (engine) => {
  let world: World;
  before(async () => {
    world = await buildWorld(engine);
  });
  after(async () => {
    await WsTestClient.closeAll();
    await world?.t.close();
  });

  void test('the table has a row for every REST route of the OpenAPI document, every namespace and every path alias the app declares', async () => {
    const doc = await expectStatus(world.t.request<{ paths: Record<string, Record<string, unknown>> }>('GET', '/api/openapi.json'), 200, 'GET /api/openapi.json');
    const documented = new Set(Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`)));
    const inTable = new Set(REST_MATRIX.flatMap((r) => (r.route ? [r.route] : [])));
    assert.deepEqual([...documented].filter((r) => !inTable.has(r)), [], 'OpenAPI routes with no row in REST_MATRIX');
    assert.deepEqual([...inTable].filter((r) => !documented.has(r)), [], 'rows for routes the OpenAPI document does not have');

    const tableNamespaces = new Set(WS_MATRIX.flatMap((r) => (r.kind === 'op' ? [r.channel.split(':')[0]!] : [])));
    assert.deepEqual([...world.declared.namespaces].filter((n) => !tableNamespaces.has(n)).sort(), [], 'declared namespaces with no row');
    assert.deepEqual([...tableNamespaces].filter((n) => !world.declared.namespaces.has(n)).sort(), [], 'rows for namespaces the app does not declare');
    const aliasPaths = WS_MATRIX.flatMap((r) => (r.kind === 'alias' ? [r.path] : []));
    assert.deepEqual([...world.declared.routes].filter((pattern) => !aliasPaths.some((path) => aliasMatches(pattern, path))), [], 'declared path aliases with no row');
    assert.deepEqual(aliasPaths.filter((path) => ![...world.declared.routes].some((pattern) => aliasMatches(pattern, path))), [], 'alias rows no declared route serves');
  });

  void describe('WebSocket', () => {
    for (const row of WS_MATRIX) {
      void test(wsRowTitle(row), () => checkRow(row, (p) => probeWs(world, row, p)));
    }
  });

  void describe('REST', () => {
    for (const row of REST_MATRIX) {
      void test(restRowTitle(row), () =>
        // Those without a valid account are refused as unauthenticated, never with a 403 or 404
        // that would tell them something about what they asked for.
        checkRow(row, (p) => probeRest(world, row, p), (p, outcome) => (!outcome.allowed && UNAUTHENTICATED.includes(p) && outcome.status !== 401 ? `expected 401, got ${outcome.detail}` : null)),
      );
    }
  });

  void test('lists hold only what the principal may see: nothing of the demo tenant for the other tenant, only assigned orders for the worker', async () => {
    const get = <T>(p: Principal, path: string) => expectStatus(world.t.request<{ items: T[] }>('GET', path, { token: world.tokens[p]! }), 200, `GET ${path} as ${p}`);
    const otherOrders = await get<{ tenantId: string }>('otherAdmin', '/api/orders?limit=100');
    assert.deepEqual(otherOrders.items.map((o) => o.tenantId), [world.ids.otherTenant], "the other tenant's admin lists its own order and nothing else");
    const otherProducts = await get<{ id: string }>('otherAdmin', '/api/products?limit=100');
    assert.deepEqual(otherProducts.items.map((p) => p.id), [world.values.otherAdmin.otherProduct], "the other tenant's admin lists its own catalogue");
    const workerOrders = await get<{ worker: { id: string } | null }>('worker', '/api/orders?limit=100');
    assert.ok(workerOrders.items.length > 0, 'the worker has assigned orders');
    assert.ok(workerOrders.items.every((o) => o.worker?.id === world.ids.worker), 'the worker lists only the orders assigned to them');
    const customerOrders = await get<{ customer: { id: string } }>('customer2', '/api/orders?limit=100');
    assert.deepEqual(customerOrders.items.map((o) => o.customer.id), [world.values.customer2.self], 'the second customer lists only their own order');
  });
});

void test('docs/security.md holds the rendered matrix between its markers', async () => {
  const page = await readFile(new URL('../../../docs/security.md', import.meta.url), 'utf8');
  const section = matrixSection(page);
  assert.ok(section !== null, 'docs/security.md has the <!-- authorization-matrix:start --> and :end markers');
  assert.equal(section, renderMatrix(), 'docs/security.md is out of date: run `npx tsc -b && node scripts/print-authorization-matrix.mjs --write`');
});
