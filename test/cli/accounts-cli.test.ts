import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { forEachEngine, suiteApp, type EngineName, type TestApp } from '../helpers/app.js';
import { killChildren, run, suiteDataDir } from '../helpers/cli.js';
import { PG_URL } from '../helpers/services.js';
import { TEST_SECRET } from '../helpers/server.js';

// The CLI commands that read accounts from the configured database: demo-accounts and
// token --email, against the database of a real node; and what token --user says about itself.
const CLI_MS = 30_000;

/** The CLI's settings for the database and secret of a test app. */
function envOf(app: TestApp): Record<string, string> {
  const env: Record<string, string> = { SWITCHBOARD_DATA: app.dataDir, SWITCHBOARD_JWT_SECRET: TEST_SECRET };
  if (app.engine === 'postgres') Object.assign(env, { DATABASE_URL: PG_URL, SWITCHBOARD_DATABASE_SCHEMA: app.schema! });
  return env;
}

after(() => killChildren());

forEachEngine('switchboard demo-accounts and token --email', (engine: EngineName) => {
  const app = suiteApp(engine);

  void test('demo-accounts lists the four demo accounts with their passwords', async () => {
    const result = await run(['demo-accounts'], envOf(app), CLI_MS);
    assert.equal(result.code, 0, result.stderr);
    const accounts = [...result.stdout.matchAll(/^ {2}(\w+)\s+(\S+@demo\.test)\s+password: (\S+)$/gm)].map(([, role, email, password]) => [role, email, password]);
    assert.deepEqual(accounts, [
      ['customer', 'customer@demo.test', 'customer-demo'],
      ['worker', 'worker@demo.test', 'worker-demo'],
      ['manager', 'manager@demo.test', 'manager-demo'],
      ['admin', 'admin@demo.test', 'admin-demo'],
    ]);
  });

  void test('token --email mints the account’s token, with its role and tenant for 12 h, and GET /api/me accepts it', async () => {
    const result = await run(['token', '--email', 'Manager@Demo.test'], envOf(app), CLI_MS);
    assert.equal(result.code, 0, result.stderr);
    const token = result.stdout.trim();
    assert.equal(result.stdout, `${token}\n`, 'only the token on stdout');
    assert.match(result.stderr, /^a token for manager@demo\.test \(usr_\w+, manager of demo\) until .*: REST and channels accept it\n$/);

    const me = await app.request<{ user: { email: string; role: string; tenant: { slug: string } } }>('GET', '/api/me', { token });
    assert.equal(me.status, 200, JSON.stringify(me.body));
    assert.equal(me.body.user.email, 'manager@demo.test');
    assert.equal(me.body.user.role, 'manager');
    assert.equal(me.body.user.tenant.slug, 'demo');
    const verified = await app.app.sb.tokens.verify(token);
    assert.ok(verified.ok && verified.expiresAt !== null, JSON.stringify(verified));
    assert.ok(Math.abs(verified.expiresAt - (Date.now() + 12 * 3600_000)) < 60_000, 'valid 12 h, like a login');
  });

  void test('token --email refuses an unknown or disabled account (exit 1), and flags that would change the token (exit 2)', async () => {
    const admin = await app.loginAs('admin');
    const worker = (await app.request<{ items: { id: string; email: string }[] }>('GET', '/api/users', { token: admin })).body.items.find((u) => u.email === 'worker@demo.test')!;
    const disabled = await app.request('PATCH', `/api/users/${worker.id}`, { token: admin, body: { disabled: true } });
    assert.equal(disabled.status, 200, JSON.stringify(disabled.body));
    try {
      const [unknown, off, role] = await Promise.all([
        run(['token', '--email', 'nobody@demo.test'], envOf(app), CLI_MS),
        run(['token', '--email', 'worker@demo.test'], envOf(app), CLI_MS),
        run(['token', '--email', 'customer@demo.test', '--role', 'admin'], envOf(app), CLI_MS),
      ]);
      assert.equal(unknown.code, 1, unknown.stderr);
      assert.match(unknown.stderr, /^switchboard: no account with the email nobody@demo\.test in .*\(`switchboard demo-accounts` lists the demo ones\)\n$/);
      assert.equal(off.code, 1, off.stderr);
      assert.match(off.stderr, /the account worker@demo\.test is disabled/);
      assert.equal(role.code, 2, role.stderr);
      assert.match(role.stderr, /--email mints the account's own token .*: drop --role/);
      for (const r of [unknown, off, role]) assert.equal(r.stdout, '');
    } finally {
      await app.request('PATCH', `/api/users/${worker.id}`, { token: admin, body: { disabled: false } });
    }
  });
});

void describe('switchboard demo-accounts without the demo data', () => {
  const dataDir = suiteDataDir('switchboard-demo-');

  void test('no database yet: says how to get one, and creates nothing', async () => {
    const folder = join(dataDir(), 'never-started');
    const result = await run(['demo-accounts'], { SWITCHBOARD_DATA: folder }, CLI_MS);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, `No demo accounts: there is no database at ${join(folder, 'switchboard.db')} yet: \`npm start\` creates it with the demo data (or run \`switchboard seed\`).\n`);
    const minted = await run(['token', '--email', 'customer@demo.test'], { SWITCHBOARD_DATA: folder }, CLI_MS);
    assert.equal(minted.code, 1);
    assert.match(minted.stderr, /^switchboard: cannot look up customer@demo\.test: there is no database at /);
    const listed = await run(['demo-accounts'], { SWITCHBOARD_DATA: folder }, CLI_MS);
    assert.match(listed.stdout, /there is no database/, 'neither command created one');
  });

  void test('a database without them: says how to load them', async () => {
    const folder = join(dataDir(), 'migrated');
    assert.equal((await run(['migrate'], { SWITCHBOARD_DATA: folder }, CLI_MS)).code, 0);
    const result = await run(['demo-accounts'], { SWITCHBOARD_DATA: folder }, CLI_MS);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^No demo accounts in .*switchboard\.db\. A development node loads them when it starts on an empty database; `switchboard seed` loads them into this one/);
  });
});

void describe('switchboard token --user', () => {
  const app = suiteApp('sqlite');

  void test('says on stderr that its token is for channels only, which REST indeed refuses', async () => {
    const result = await run(['token', '--user', 'alice'], envOf(app), CLI_MS);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^[\w-]+\.[\w-]+\.[\w-]+\n$/, 'only the token on stdout');
    assert.equal(
      result.stderr,
      'note: this token is for channels (WebSocket) only: REST answers 401 to it unless it names an account (its id, role and tenant). ' +
        'For a token REST accepts: `switchboard token --email <account email>`, or POST /api/auth/login.\n',
    );
    const me = await app.request('GET', '/api/me', { token: result.stdout.trim() });
    assert.equal(me.status, 401, 'as the notice says');
  });

  void test('help lists the new commands', async () => {
    const result = await run(['help'], {}, CLI_MS);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /^ {2}demo-accounts /m);
    assert.match(result.stdout, /^ {2}token --email E /m);
    assert.match(result.stdout, /^ {2}listen <channel> \(--as ROLE \| --email E --password P \| --token T\) \[--url URL\]$/m);
  });
});
