import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { SignJWT } from 'jose';
import { forEachEngine } from '../helpers/app.js';
import { TEST_SECRET } from '../helpers/server.js';
import { WsTestClient } from '../helpers/ws-client.js';
import { expectError, expectStatus, suiteApp } from './support.js';

const freshEmail = (): string => `acc-${randomBytes(5).toString('hex')}@test.example`;

forEachEngine('accounts', (engine) => {
  const t = suiteApp(engine);

  void test('register answers 201 with a token that GET /api/me accepts as a customer of the demo tenant', async () => {
    const email = freshEmail();
    const res = await t.request('POST', '/api/auth/register', { body: { email, password: 'password-123', name: 'New Person' } });
    const session = expectStatus(res, 201, 'register');
    assert.equal(typeof session.token, 'string', 'a token');
    assert.equal(session.user.email, email);
    assert.equal(session.user.role, 'customer', 'self-registration makes customers');
    assert.ok(Date.parse(session.expiresAt) > Date.now(), `expiresAt in the future: ${session.expiresAt}`);

    const me = expectStatus(await t.request('GET', '/api/me', { token: session.token }), 200, 'GET /api/me');
    assert.equal(me.user.id, session.user.id);
    assert.equal(me.user.email, email);
    assert.equal(me.user.name, 'New Person');
    assert.equal(me.user.role, 'customer');
    assert.equal(me.user.tenant.slug, 'demo');
  });

  void test('self-registration makes a customer even when the body asks for a role; an unknown tenant is 400 unknown_tenant', async () => {
    const res = await t.request('POST', '/api/auth/register', { body: { email: freshEmail(), password: 'password-123', name: 'Sneaky', role: 'admin' } });
    const session = expectStatus(res, 201, 'register with a role in the body');
    assert.equal(session.user.role, 'customer');
    const me = expectStatus(await t.request('GET', '/api/me', { token: session.token }), 200);
    assert.equal(me.user.role, 'customer', 'the token is a customer token');
    expectError(await t.request('POST', '/api/users', { token: session.token, body: { email: freshEmail(), password: 'password-123', name: 'X', role: 'admin' } }), 403, 'forbidden');

    const noTenant = await t.request('POST', '/api/auth/register', { body: { email: freshEmail(), password: 'password-123', name: 'X', tenant: 'no-such-shop' } });
    expectError(noTenant, 400, 'unknown_tenant', 'tenant');
  });

  void test('registering an email twice answers 409 email_taken, whatever its case', async () => {
    const email = freshEmail();
    expectStatus(await t.request('POST', '/api/auth/register', { body: { email, password: 'password-123', name: 'First' } }), 201, 'first register');
    const again = await t.request('POST', '/api/auth/register', { body: { email, password: 'password-456', name: 'Second' } });
    expectError(again, 409, 'email_taken', 'email');
    const upper = await t.request('POST', '/api/auth/register', { body: { email: email.toUpperCase(), password: 'password-456', name: 'Third' } });
    expectError(upper, 409, 'email_taken', 'email');
  });

  void test('register with a bad body answers 400 invalid_body naming the field', async () => {
    const badEmail = await t.request('POST', '/api/auth/register', { body: { email: 'not-an-email', password: 'password-123', name: 'X' } });
    expectError(badEmail, 400, 'invalid_body', 'email');
    const shortPassword = await t.request('POST', '/api/auth/register', { body: { email: freshEmail(), password: 'short', name: 'X' } });
    expectError(shortPassword, 400, 'invalid_body', 'password');
    const noName = await t.request('POST', '/api/auth/register', { body: { email: freshEmail(), password: 'password-123' } });
    expectError(noName, 400, 'invalid_body', 'name');
  });

  void test('login answers a token; a wrong password and an unknown email both answer 401 invalid_credentials', async () => {
    const { email } = await t.newCustomer();
    const ok = expectStatus(await t.request('POST', '/api/auth/login', { body: { email, password: 'password-123' } }), 200, 'login');
    assert.equal(typeof ok.token, 'string');
    assert.equal(ok.user.email, email);
    const upper = expectStatus(await t.request('POST', '/api/auth/login', { body: { email: email.toUpperCase(), password: 'password-123' } }), 200, 'login with the email in capitals');
    assert.equal(upper.user.id, ok.user.id, 'emails are matched case-insensitively');

    const wrong = await t.request('POST', '/api/auth/login', { body: { email, password: 'password-124' } });
    const unknown = await t.request('POST', '/api/auth/login', { body: { email: freshEmail(), password: 'password-123' } });
    const a = expectError(wrong, 401, 'invalid_credentials');
    const b = expectError(unknown, 401, 'invalid_credentials');
    assert.deepEqual(a, b, 'a wrong password and an unknown email must be indistinguishable');
  });

  void test('GET /api/me without a token answers 401 unauthenticated; with a garbage token 401 invalid_token', async () => {
    expectError(await t.request('GET', '/api/me'), 401, 'unauthenticated');
    expectError(await t.request('GET', '/api/me', { token: 'garbage.not-a.jwt' }), 401, 'invalid_token');
    const badlySigned = await new SignJWT({ role: 'customer', tenant: 'x' }).setProtectedHeader({ alg: 'HS256' }).setSubject('usr_x').sign(new TextEncoder().encode('another-secret-0123456789'));
    expectError(await t.request('GET', '/api/me', { token: badlySigned }), 401, 'invalid_token');
  });

  void test('a well-signed token that is not an account token (no tenant) answers 401 invalid_token', async () => {
    const token = await new SignJWT({ role: 'customer' }).setProtectedHeader({ alg: 'HS256' }).setSubject('usr_x').setIssuedAt().sign(new TextEncoder().encode(TEST_SECRET));
    expectError(await t.request('GET', '/api/me', { token }), 401, 'invalid_token');
  });

  void test('POST /api/users by an admin creates a worker who can sign in; a customer is refused 403 forbidden', async () => {
    const admin = await t.loginAs('admin');
    const email = freshEmail();
    const created = await t.request('POST', '/api/users', { token: admin, body: { email, password: 'worker-pass-1', name: 'New Worker', role: 'worker' } });
    const body = expectStatus(created, 201, 'POST /api/users by admin');
    assert.equal(body.user.role, 'worker');
    assert.equal(body.user.email, email);
    assert.equal(body.user.tenant.slug, 'demo', "created in the admin's tenant");
    const workerToken = await t.login(email, 'worker-pass-1');
    const me = expectStatus(await t.request('GET', '/api/me', { token: workerToken }), 200, 'GET /api/me as the new worker');
    assert.equal(me.user.role, 'worker');

    const customer = await t.loginAs('customer');
    const refused = await t.request('POST', '/api/users', { token: customer, body: { email: freshEmail(), password: 'worker-pass-1', name: 'Nope', role: 'worker' } });
    expectError(refused, 403, 'forbidden');
    expectError(await t.request('POST', '/api/users', { body: { email: freshEmail(), password: 'worker-pass-1', name: 'Nope', role: 'admin' } }), 401, 'unauthenticated');
  });

  void test('the login token is accepted by the WebSocket: welcome, then subscribe user:<id> succeeds', async () => {
    const { id, email } = await t.newCustomer();
    const token = await t.login(email, 'password-123');
    const ws = await WsTestClient.open(t.wsUrl, { token });
    try {
      const welcome = await ws.expectOp('welcome');
      assert.equal(welcome.user?.id, id, 'the welcome names the account');
      assert.equal(welcome.user?.role, 'customer');
      const result = await ws.ok<{ epoch: string; offset: number }>({ op: 'subscribe', channel: `user:${id}` });
      assert.equal(typeof result.epoch, 'string');
      assert.equal(typeof result.offset, 'number');
    } finally {
      await ws.disconnect();
    }
  });

  void test('GET /api/openapi.json documents POST /api/cart/items with a request body schema, and /api/auth/login', async () => {
    const doc = expectStatus(await t.request('GET', '/api/openapi.json'), 200, 'GET /api/openapi.json');
    assert.match(String(doc.openapi), /^3\./);
    const addItem = doc.paths?.['/api/cart/items']?.post;
    assert.ok(addItem, `paths['/api/cart/items'].post in ${Object.keys(doc.paths ?? {}).join(', ')}`);
    const schema = addItem.requestBody?.content?.['application/json']?.schema;
    assert.equal(schema?.type, 'object', `request body schema: ${JSON.stringify(addItem.requestBody)}`);
    assert.ok(schema.properties?.productId, 'the body schema names productId');
    assert.ok(schema.properties?.quantity, 'the body schema names quantity');
    assert.ok(doc.paths['/api/auth/login']?.post, 'POST /api/auth/login is documented');
  });
});
