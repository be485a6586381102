import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CloseCodes, shouldReconnect } from '@switchboard/client/protocol';
import { createUser } from '../../src/modules/accounts/accounts.js';
import { newId, nowIso } from '../../src/core/db/ids.js';
import { reseedModules } from '../../src/app.js';
import { forEachEngine, startApp, suiteApp, type TestApp } from '../helpers/app.js';
import { deleteKeys, REDIS_URL, redisUnavailable, uniquePrefix } from '../helpers/redis.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { WsTestClient } from '../helpers/ws-client.js';
import { TestClient } from '../../src/core/testing/index.js';

/** A connected client of `token`, subscribed to `channels` (each must be allowed). */
async function connectedTo(t: TestApp, token: string, channels: string[]): Promise<WsTestClient> {
  const client = await WsTestClient.open(t.wsUrl, { token });
  await client.expectOp('welcome');
  for (const channel of channels) await client.ok({ op: 'subscribe', channel });
  return client;
}

async function me(t: TestApp, token: string): Promise<{ id: string; tenant: { id: string } }> {
  const res = await t.request('GET', '/api/me', { token });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.user;
}

/** Registers an admin of the demo tenant (made by the demo admin) and signs in as it. */
async function newAdmin(t: TestApp, adminToken: string): Promise<{ id: string; token: string; email: string }> {
  const email = `admin-${newId('x')}@test.example`;
  const res = await t.request('POST', '/api/users', { token: adminToken, body: { email, password: 'password-123', name: 'Another Admin', role: 'admin' } });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return { id: res.body.user.id, token: await t.login(email, 'password-123'), email };
}

/**
 * Defect 3 of the hardening issue: after every account was deleted, an old admin token still
 * connected, subscribed to admin:x, read its history and got new publications, and kept
 * tenant:<id> with presence and user:<id>. Account state is now checked once, at connect and
 * refresh, for every namespace; a change ends live connections with 4504, which the SDK does not retry.
 */
forEachEngine('revoked accounts lose every channel', (engine) => {
  const t = suiteApp(engine);

  void test('4504 is a close the SDK does not retry', () => {
    assert.equal(CloseCodes.accountRevoked, 4504);
    assert.equal(shouldReconnect(4504), false);
  });

  void test('deleting an account ends its connections at once, on every namespace; its token is refused at connect and on REST', async () => {
    const demoAdmin = await t.loginAs('admin');
    const doomed = await newAdmin(t, demoAdmin);
    const { tenant } = await me(t, doomed.token);
    const client = await connectedTo(t, doomed.token, ['admin:x', `tenant:${tenant.id}`, `user:${doomed.id}`, `staff-orders:${tenant.id}`]);
    const deleted = await t.request('DELETE', `/api/users/${doomed.id}`, { token: demoAdmin });
    assert.equal(deleted.status, 204, JSON.stringify(deleted.body));
    const closed = await client.closed(3000);
    assert.equal(closed.code, CloseCodes.accountRevoked);
    // Nothing published afterwards reaches it, and the old token opens nothing again.
    const again = await WsTestClient.open(t.wsUrl, { token: doomed.token });
    assert.equal((await again.closed()).code, CloseCodes.accountRevoked);
    assert.ok(!again.pending.some((r) => r.frame.op === 'welcome'), 'no welcome for a deleted account');
    // The connect frame says why, in words.
    const byFrame = await WsTestClient.open(t.wsUrl);
    byFrame.send({ op: 'connect', id: 1, token: doomed.token });
    const reply = await byFrame.reply(1);
    assert.equal(reply.ok, false);
    if (!reply.ok) assert.equal(reply.error.code, 'account_revoked');
    assert.equal((await byFrame.closed()).code, CloseCodes.accountRevoked);
    assert.equal((await t.request('GET', '/api/me', { token: doomed.token })).status, 401);
    assert.equal((await t.request('POST', '/api/auth/login', { body: { email: doomed.email, password: 'password-123' } })).status, 401);
    assert.equal((await t.request('DELETE', `/api/users/${doomed.id}`, { token: demoAdmin })).status, 404, 'deleted once');
  });

  void test('disabling ends the connections; an enabled account signs in again; a role change ends them too', async () => {
    const demoAdmin = await t.loginAs('admin');
    const worker = await t.newCustomer('Soon Disabled');
    const client = await connectedTo(t, worker.token, [`cart:${worker.id}`, `user:${worker.id}`]);
    const disabled = await t.request('PATCH', `/api/users/${worker.id}`, { token: demoAdmin, body: { disabled: true } });
    assert.equal(disabled.status, 200, JSON.stringify(disabled.body));
    assert.equal(disabled.body.user.disabled, true);
    assert.equal((await client.closed(3000)).code, CloseCodes.accountRevoked);
    const login = await t.request('POST', '/api/auth/login', { body: { email: worker.email, password: 'password-123' } });
    assert.equal(login.status, 403);
    assert.equal(login.body.error.code, 'account_disabled');
    assert.equal((await t.request('PATCH', `/api/users/${worker.id}`, { token: demoAdmin, body: { disabled: false } })).status, 200);
    const token = await t.login(worker.email, 'password-123');
    const second = await connectedTo(t, token, [`user:${worker.id}`]);
    const promoted = await t.request('PATCH', `/api/users/${worker.id}`, { token: demoAdmin, body: { role: 'worker' } });
    assert.equal(promoted.status, 200, JSON.stringify(promoted.body));
    assert.equal(promoted.body.user.role, 'worker');
    assert.equal((await second.closed(3000)).code, CloseCodes.accountRevoked, 'the token claims customer; the account is a worker now');
    const listed = await t.request('GET', '/api/users', { token: demoAdmin });
    assert.equal(listed.status, 200);
    assert.ok(listed.body.items.some((u: { id: string; role: string }) => u.id === worker.id && u.role === 'worker'));
  });

  void test('a refresh with the token of a revoked account ends the connection', async () => {
    const customer = await t.newCustomer();
    const client = await connectedTo(t, customer.token, []);
    // Disabled directly in the database: the revocation event is not what ends it here.
    await t.app.database.db.updateTable('users').set({ disabled_at: nowIso() }).where('id', '=', customer.id).execute();
    const reply = await client.request({ op: 'refresh', token: customer.token });
    assert.equal(reply.ok, false);
    if (!reply.ok) assert.equal(reply.error.code, 'account_revoked');
    assert.equal((await client.closed()).code, CloseCodes.accountRevoked);
  });

  void test('the last active admin cannot be demoted, disabled or deleted; admins act only in their tenant', async () => {
    const { db } = t.app.database;
    const tenantId = newId('ten');
    await db.insertInto('tenants').values({ id: tenantId, slug: `solo-${tenantId}`, name: 'Solo', created_at: nowIso() }).execute();
    const email = `solo-${tenantId}@test.example`;
    const soloId = await createUser(t.app.domain, { email, password: 'password-123', name: 'Solo Admin', role: 'admin', tenantId });
    const solo = await t.login(email, 'password-123');
    for (const body of [{ role: 'manager' }, { disabled: true }]) {
      const res = await t.request('PATCH', `/api/users/${soloId}`, { token: solo, body });
      assert.equal(res.status, 409, JSON.stringify(body));
      assert.equal(res.body.error.code, 'last_admin');
    }
    assert.equal((await t.request('DELETE', `/api/users/${soloId}`, { token: solo })).status, 409);
    // Another tenant's accounts do not exist for this admin.
    const demoCustomer = await me(t, await t.loginAs('customer'));
    assert.equal((await t.request('PATCH', `/api/users/${demoCustomer.id}`, { token: solo, body: { disabled: true } })).status, 404);
    assert.equal((await t.request('DELETE', `/api/users/${demoCustomer.id}`, { token: solo })).status, 404);
    assert.equal((await t.request('PATCH', `/api/users/${soloId}`, { token: solo, body: {} })).status, 400);
    // Non-admins may not administer.
    assert.equal((await t.request('GET', '/api/users', { token: await t.loginAs('manager') })).status, 403);
  });

  void test('`switchboard seed` deleting every account ends their connections through the outbox', async () => {
    const customer = await t.newCustomer();
    const admin = await t.loginAs('admin');
    const a = await connectedTo(t, customer.token, [`user:${customer.id}`]);
    const b = await connectedTo(t, admin, ['admin:x']);
    await reseedModules(t.app.modules, t.app.domain, t.app.sb.config, t.app.domain.log);
    assert.equal((await a.closed(3000)).code, CloseCodes.accountRevoked);
    assert.equal((await b.closed(3000)).code, CloseCodes.accountRevoked);
  });
});

void describe('revocation across nodes on Redis', async () => {
  const reason = await redisUnavailable();
  void test('an account deleted through one node loses its connection on another', { skip: reason }, async (ctx) => {
    const prefix = uniquePrefix('revoke');
    const a = await startApp({ engine: 'sqlite', redis: { url: REDIS_URL, prefix } });
    const b = await startApp({ engine: 'sqlite', redis: { url: REDIS_URL, prefix }, shareWith: a, demo: false });
    try {
      const customer = await a.newCustomer();
      const onB = await connectedTo(b, customer.token, [`user:${customer.id}`]);
      const started = Date.now();
      const deleted = await a.request('DELETE', `/api/users/${customer.id}`, { token: await a.loginAs('admin') });
      assert.equal(deleted.status, 204);
      assert.equal((await onB.closed(3000)).code, CloseCodes.accountRevoked);
      ctx.diagnostic(`closed on the other node ${Date.now() - started} ms after the DELETE was sent`);
    } finally {
      await WsTestClient.closeAll();
      await b.close();
      await a.close();
      await deleteKeys(prefix);
    }
  });
});

/**
 * The account check at connect reads the account, then the connection is counted (a Redis round
 * trip on a cluster) before the session has a user. A revocation published in that window found no
 * session of the user, and the connection went on with the token of a deleted account.
 */
void describe('a revocation racing the connect', () => {
  let server: TestServer;
  /** Lets the account check answer; the check read the account before the change committed. */
  let answer: (live: boolean) => void = () => undefined;
  let checkStarted: () => void = () => undefined;
  before(async () => {
    server = await startServer({ listen: false });
    server.sb.checkPrincipals(() => {
      checkStarted();
      return new Promise<boolean>((resolve) => (answer = resolve));
    });
  });
  after(async () => server.close());

  for (const how of ['a token in the URL', 'a connect frame'] as const) {
    void test(`with ${how}: a revocation while the account is being checked ends the connection`, async () => {
      const user = `racing-${how.length}`;
      const token = await server.token(user);
      const checking = new Promise<void>((resolve) => (checkStarted = resolve));
      const client = how === 'a token in the URL' ? await TestClient.connect(server.sb, { token }) : await TestClient.connect(server.sb);
      if (how === 'a connect frame') client.sendJson({ op: 'connect', id: 1, token });
      await checking;
      server.sb.gateway.revokeUser(user);
      answer(true);
      assert.equal((await client.closed()).code, CloseCodes.accountRevoked);
    });
  }
});

void describe('an account check that cannot answer', () => {
  // docs/protocol.md: 4000 when the database (the account check) cannot be reached as the
  // connection opens: the client reconnects, maybe to a node that can check.
  void test('closes the connection with 4000 (reconnect), not 4504', async () => {
    const server = await startServer({ listen: false });
    server.sb.checkPrincipals(() => Promise.reject(new Error('database unreachable')));
    try {
      const client = await TestClient.connect(server.sb, { token: await server.token('unchecked') });
      assert.equal((await client.closed()).code, CloseCodes.shutdown);
    } finally {
      await server.close();
    }
  });
});
