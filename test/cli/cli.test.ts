import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import WebSocket from 'ws';
import { loadConfig } from '../../src/core/config.js';
import { Switchboard } from '../../src/core/switchboard.js';
import { TEST_SECRET } from '../helpers/server.js';

import { listeningUrl, run, start, suiteDataDir, waitUntil, within } from '../helpers/cli.js';

const dataDir = suiteDataDir('switchboard-cli-');

void describe('switchboard help', () => {
  void test('help, --help, no command and serve --help print the usage and exit 0', async () => {
    const variants = [['help'], ['--help'], [], ['serve', '--help']];
    const results = await Promise.all(variants.map((args) => run(args, { SWITCHBOARD_DATA: dataDir() })));
    for (const [i, args] of variants.entries()) {
      const result = results[i]!;
      assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stdout, /^usage: switchboard <command>/);
      assert.match(result.stdout, /--jwt-secret\s+SWITCHBOARD_JWT_SECRET/);
      assert.match(result.stdout, /--shutdown-grace-ms\s+SWITCHBOARD_SHUTDOWN_GRACE_MS/);
    }
  });

  void test('an unknown command or a stray argument exits 2 with the usage on stderr', async () => {
    const [unknown, stray] = await Promise.all([run(['launch'], { SWITCHBOARD_DATA: dataDir() }), run(['token', 'alice'], { SWITCHBOARD_DATA: dataDir() })]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command 'launch'/);
    assert.match(unknown.stderr, /usage: switchboard/);
    assert.equal(unknown.stdout, '');
    assert.equal(stray.code, 2);
    assert.match(stray.stderr, /unexpected argument 'alice'/);
  });
});

void describe('switchboard token', () => {
  void test('mints a JWT with the data folder’s secret that the node verifies', async () => {
    const folder = join(dataDir(), 'token-kept');
    const result = await run(['token', '--user', 'u', '--role', 'admin'], { SWITCHBOARD_DATA: folder });
    assert.equal(result.code, 0, result.stderr);
    const token = result.stdout.trim();
    assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
    assert.equal(result.stdout, `${token}\n`, 'only the token on stdout');
    // The secret was generated into the data folder, readable by its owner only.
    const secretFile = join(folder, 'jwt-secret');
    assert.equal((await stat(secretFile)).mode & 0o777, 0o600);
    assert.ok((await readFile(secretFile, 'utf8')).trim().length >= 16);

    const config = loadConfig({ SWITCHBOARD_ENV: 'test', SWITCHBOARD_DATA: folder });
    const sb = await Switchboard.create({ config });
    try {
      const verified = await sb.tokens.verify(token);
      assert.ok(verified.ok, JSON.stringify(verified));
      assert.deepEqual(verified.user, { id: 'u', role: 'admin' });
      assert.ok(verified.expiresAt !== null && Math.abs(verified.expiresAt - (Date.now() + 3_600_000)) < 10_000, String(verified.expiresAt));
      // A second run keeps the same secret.
      const again = await run(['token', '--user=v', '--tenant=acme', '--ttl=0'], { SWITCHBOARD_DATA: folder });
      assert.equal(again.code, 0, again.stderr);
      const second = await sb.tokens.verify(again.stdout.trim());
      assert.ok(second.ok, JSON.stringify(second));
      assert.deepEqual(second.user, { id: 'v', role: 'customer', tenant: 'acme' });
      assert.equal(second.expiresAt, null, '--ttl 0: no expiry');
    } finally {
      await sb.close();
    }
  });

  void test('uses SWITCHBOARD_JWT_SECRET when set', async () => {
    const result = await run(['token', '--user', 'w'], { SWITCHBOARD_DATA: join(dataDir(), 'unused'), SWITCHBOARD_JWT_SECRET: TEST_SECRET });
    assert.equal(result.code, 0, result.stderr);
    const config = loadConfig({ SWITCHBOARD_ENV: 'test', SWITCHBOARD_JWT_SECRET: TEST_SECRET, SWITCHBOARD_DATA: join(dataDir(), 'unused2') });
    const sb = await Switchboard.create({ config });
    try {
      const verified = await sb.tokens.verify(result.stdout.trim());
      assert.ok(verified.ok && verified.user.id === 'w', JSON.stringify(verified));
    } finally {
      await sb.close();
    }
    await assert.rejects(stat(join(dataDir(), 'unused', 'jwt-secret')), 'no secret is generated when one is given');
  });

  void test('bad arguments exit 2 with a clear message', async () => {
    const cases: [string[], RegExp][] = [
      [['token'], /--user is required/],
      [['token', '--role', 'admin'], /--user is required/],
      [['token', '--user', 'u', '--ttl', '-5'], /--ttl must be a whole number of seconds \(got '-5'\)/],
      [['token', '--user', 'u', '--ttl', 'soon'], /--ttl must be a whole number/],
      [['token', '--user', 'u', '--bogus', 'x'], /unknown flag --bogus/],
    ];
    const results = await Promise.all(cases.map(([args]) => run(args, { SWITCHBOARD_DATA: dataDir() })));
    for (const [i, [args, message]] of cases.entries()) {
      const result = results[i]!;
      assert.equal(result.code, 2, args.join(' '));
      assert.match(result.stderr, message);
      assert.equal(result.stdout, '');
    }
  });
});

void describe('switchboard serve', () => {
  void test('a bad PORT exits 2 naming the variable and the value', async () => {
    const result = await run(['serve'], { SWITCHBOARD_DATA: dataDir(), PORT: 'abc' });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^switchboard: invalid configuration:\n {2}- PORT="abc": /);
    assert.equal(listeningUrl(result.stdout), null);
  });

  void test('every bad setting is reported at once; flags are named as flags', async () => {
    const result = await run(['serve', '--heartbeat-ms', '5'], { SWITCHBOARD_DATA: dataDir(), PORT: '70000', SWITCHBOARD_ALLOWED_ORIGINS: 'shop.example.com' });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /- PORT="70000": /);
    assert.match(result.stderr, /- --heartbeat-ms="5": /);
    assert.match(result.stderr, /- SWITCHBOARD_ALLOWED_ORIGINS="shop.example.com": each origin must look like/);
  });

  void test('production without a secret and origins exits 2 naming both', async () => {
    const result = await run(['serve'], { SWITCHBOARD_DATA: dataDir(), SWITCHBOARD_ENV: 'production' });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /SWITCHBOARD_JWT_SECRET must be set in production/);
    assert.match(result.stderr, /SWITCHBOARD_ALLOWED_ORIGINS must be set in production/);
  });

  void test('a REDIS_URL nobody answers at exits 2 at start-up, naming the URL and the cause', async () => {
    const result = await run(['serve'], { SWITCHBOARD_DATA: dataDir(), REDIS_URL: 'redis://:hunter2@127.0.0.1:1/3', SWITCHBOARD_REDIS_TIMEOUT_MS: '2000' });
    assert.equal(result.code, 2, result.stderr);
    assert.equal(result.stderr, 'switchboard: cannot reach Redis at redis://:***@127.0.0.1:1/3: ECONNREFUSED\n');
  });

  void test('starts, answers /healthz, and on SIGTERM closes WebSocket clients with 4000 and exits 0', async () => {
    const server = start(['serve'], { SWITCHBOARD_DATA: join(dataDir(), 'serve'), SWITCHBOARD_JWT_SECRET: TEST_SECRET, SWITCHBOARD_SHUTDOWN_GRACE_MS: '3000' });
    const pid = server.child.pid!;
    try {
      await waitUntil(() => listeningUrl(server.output().stdout) !== null || server.child.exitCode !== null, 10_000, 'the listening log line');
      const url = listeningUrl(server.output().stdout);
      assert.ok(url, `no listening line: ${JSON.stringify(server.output())}`);
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);

      const health = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(3000) });
      assert.equal(health.status, 200);
      assert.deepEqual(await health.json(), { status: 'ok' });
      assert.equal((await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(3000) })).status, 200);

      // A token from the CLI, for the same secret.
      const minted = await run(['token', '--user', 'sigterm-user'], { SWITCHBOARD_DATA: join(dataDir(), 'serve'), SWITCHBOARD_JWT_SECRET: TEST_SECRET });
      assert.equal(minted.code, 0, minted.stderr);
      const ws = new WebSocket(`${url.replace('http', 'ws')}/ws?token=${encodeURIComponent(minted.stdout.trim())}`);
      try {
        const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
        const welcome = await within(
          new Promise<{ op: string; user: { id: string } }>((resolve, reject) => {
            ws.once('message', (data: WebSocket.RawData) => resolve(JSON.parse(data.toString()) as { op: string; user: { id: string } }));
            ws.once('error', reject);
          }),
          3000,
          'the welcome',
        );
        assert.equal(welcome.op, 'welcome');
        assert.equal(welcome.user.id, 'sigterm-user');

        process.kill(pid, 'SIGTERM');
        const close = await within(closed, 5000, 'the close frame');
        assert.equal(close.code, 4000);
        assert.match(close.reason, /shutting down/);
        const exit = await within(server.done, 8000, 'the process to exit');
        assert.equal(exit.code, 0, exit.stderr);
        assert.equal(exit.signal, null);
        assert.match(exit.stdout, /shutting down/);
      } finally {
        ws.terminate();
      }
    } finally {
      if (server.child.exitCode === null && server.child.signalCode === null) process.kill(pid, 'SIGKILL');
    }
  });

  void test('SIGINT with no clients exits 0 promptly; the port is released', async () => {
    const server = start(['serve'], { SWITCHBOARD_DATA: join(dataDir(), 'serve-int') });
    const pid = server.child.pid!;
    try {
      await waitUntil(() => listeningUrl(server.output().stdout) !== null || server.child.exitCode !== null, 10_000, 'the listening log line');
      const url = listeningUrl(server.output().stdout);
      assert.ok(url, JSON.stringify(server.output()));
      assert.equal((await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(3000) })).status, 200);
      const started = Date.now();
      process.kill(pid, 'SIGINT');
      const exit = await within(server.done, 5000, 'the process to exit');
      assert.equal(exit.code, 0, exit.stderr);
      assert.ok(Date.now() - started < 3000, 'no grace wait without clients');
      await assert.rejects(fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) }));
      // Development: the generated secrets are in the data folder.
      assert.ok((await stat(join(dataDir(), 'serve-int', 'jwt-secret'))).isFile());
      assert.ok((await stat(join(dataDir(), 'serve-int', 'api-key'))).isFile());
    } finally {
      if (server.child.exitCode === null && server.child.signalCode === null) process.kill(pid, 'SIGKILL');
    }
  });
});
