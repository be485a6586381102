import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { listeningUrl, run, start, suiteDataDir, waitUntil } from '../helpers/cli.js';
import { dropSchema, PG_URL, postgresUnavailable } from '../helpers/services.js';
import { TEST_SECRET } from '../helpers/server.js';

const dataDir = suiteDataDir('switchboard-dbcli-');

void describe('switchboard migrate and seed', () => {
  void test('migrate applies the schema to a fresh SQLite file once, then says it is up to date', async () => {
    const folder = join(dataDir(), 'migrate');
    const first = await run(['migrate'], { SWITCHBOARD_DATA: folder });
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /^applied 0001_initial, 0002_refunds_and_pruning, 0003_accounts_disabled_and_deleted, 0005_console_audit_log to .*switchboard\.db\n$/);
    const second = await run(['migrate'], { SWITCHBOARD_DATA: folder });
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /switchboard\.db is up to date\n$/);
  });

  void test('seed loads the demo data and prints one account per role', async () => {
    const result = await run(['seed'], { SWITCHBOARD_DATA: join(dataDir(), 'seed') }, 30_000);
    assert.equal(result.code, 0, result.stderr);
    for (const role of ['customer', 'worker', 'manager', 'admin']) assert.match(result.stdout, new RegExp(`${role}\\s+${role}@demo\\.test\\s+password: ${role}-demo`));
  });

  void test('seed refuses in production without --force', async () => {
    const result = await run(['seed'], { SWITCHBOARD_DATA: join(dataDir(), 'prod'), SWITCHBOARD_ENV: 'production', SWITCHBOARD_JWT_SECRET: TEST_SECRET, SWITCHBOARD_ALLOWED_ORIGINS: 'https://shop.example.com' });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /needs --force/);
  });

  void test('an unreachable DATABASE_URL stops serve at start-up with exit 2 and a clear message, without the password', async () => {
    const result = await run(['serve'], { SWITCHBOARD_DATA: join(dataDir(), 'nodb'), DATABASE_URL: 'postgres://app:hunter2@127.0.0.1:1/shop' }, 20_000);
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /^switchboard: cannot reach PostgreSQL at postgres:\/\/app:\*\*\*@127\.0\.0\.1:1\/shop: /);
    assert.doesNotMatch(result.stderr + result.stdout, /hunter2/);
    assert.equal(listeningUrl(result.stdout), null);
  });
});

void describe('switchboard serve on a fresh data folder', () => {
  void test('comes up with the demo data, prints the accounts, and a printed account can sign in', async () => {
    const { child, output } = start(['serve'], { SWITCHBOARD_DATA: join(dataDir(), 'fresh') });
    await waitUntil(() => listeningUrl(output().stdout) !== null || child.exitCode !== null, 30_000, 'the node to listen');
    const url = listeningUrl(output().stdout);
    assert.ok(url, output().stderr);
    const accounts = [...output().stdout.matchAll(/(\w+)\s+(\S+@demo\.test)\s+password: (\S+)/g)];
    assert.equal(accounts.length, 4, output().stdout);
    const [, , email, password] = accounts[0]!;
    const login = await fetch(`${url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password }) });
    assert.equal(login.status, 200);
    const { token } = (await login.json()) as { token: string };
    const orders = (await (await fetch(`${url}/api/orders`, { headers: { authorization: `Bearer ${token}` } })).json()) as { items: unknown[] };
    assert.ok(orders.items.length >= 3, 'the demo orders are there');
    child.kill('SIGTERM');
  });
});

void describe('switchboard migrate on PostgreSQL', () => {
  void test('migrates into its own schema', async (t) => {
    const reason = await postgresUnavailable();
    if (reason) return t.skip(reason);
    const schema = `t_${randomBytes(6).toString('hex')}`;
    try {
      const first = await run(['migrate'], { SWITCHBOARD_DATA: join(dataDir(), 'pg'), DATABASE_URL: PG_URL, SWITCHBOARD_DATABASE_SCHEMA: schema });
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stdout, new RegExp(`^applied 0001_initial, 0002_refunds_and_pruning, 0003_accounts_disabled_and_deleted, 0005_console_audit_log to postgres://.*\\(schema ${schema}\\)`));
      const second = await run(['migrate'], { SWITCHBOARD_DATA: join(dataDir(), 'pg'), DATABASE_URL: PG_URL, SWITCHBOARD_DATABASE_SCHEMA: schema });
      assert.match(second.stdout, /is up to date/);
    } finally {
      await dropSchema(schema);
    }
  });
});
