import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, describe, test } from 'node:test';
import { killChildren, listeningUrl, run, start, suiteDataDir, waitUntil, within } from '../helpers/cli.js';
import { suiteApp, type TestApp } from '../helpers/app.js';
import { TEST_SECRET } from '../helpers/server.js';

// `switchboard listen` as a user runs it: a child process against a real node over loopback.
// Waits are generous and bounded: the CLI starts in its own process on a shared machine.
const STARTUP_MS = 30_000;
const EVENT_MS = 15_000;
const EVENT_LINE = /^\d\d:\d\d:\d\d\.\d{3} (\S+) (\S+)(?: #(\d+))? (.*)$/;

interface Line {
  channel: string;
  event: string;
  offset: number | null;
  data: unknown;
}

/** The event lines listen printed on stdout, parsed. */
function lines(stdout: string): Line[] {
  return stdout
    .split('\n')
    .map((line) => EVENT_LINE.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map(([, channel, event, offset, data]) => ({ channel: channel!, event: event!, offset: offset === undefined ? null : Number(offset), data: JSON.parse(data!) as unknown }));
}

/** Starts `switchboard listen` and waits until it says it is listening (or exits). */
async function listening(args: string[], env: Record<string, string> = {}) {
  const listener = start(['listen', ...args], env);
  await waitUntil(() => /^listening to /m.test(listener.output().stderr) || listener.child.exitCode !== null, STARTUP_MS, `listen ${args.join(' ')} to subscribe`);
  assert.equal(listener.child.exitCode, null, `listen exited: ${JSON.stringify(listener.output())}`);
  return listener;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function coffee(app: TestApp, token: string): Promise<string> {
  const products = await app.request<{ items: { id: string; sku: string }[] }>('GET', '/api/products?limit=100', { token });
  return products.body.items.find((p) => p.sku === 'COF-250')!.id;
}

after(() => killChildren());

void describe('switchboard listen', () => {
  // Registered first, so it runs before the app closes: a listen left running would reconnect to it.
  after(() => killChildren());
  const app = suiteApp('sqlite');

  void test('prints the cart snapshot, then the events a REST call causes, one line each; Ctrl-C ends it with 0', async () => {
    const listener = await listening(['cart', '--as', 'customer', '--url', app.url]);
    const token = await app.loginAs('customer');
    const me = (await app.request<{ user: { id: string } }>('GET', '/api/me', { token })).body.user;
    assert.match(listener.output().stderr, new RegExp(`^connected to ${app.url} as customer@demo\\.test, ${me.id} \\(customer, tenant ten_\\w+\\)$`, 'm'));
    assert.match(listener.output().stderr, new RegExp(`^listening to cart:${me.id};`, 'm'));
    const [snapshot] = lines(listener.output().stdout);
    assert.deepEqual({ ...snapshot, data: undefined }, { channel: `cart:${me.id}`, event: 'snapshot', offset: null, data: undefined });
    assert.equal((snapshot!.data as { userId: string }).userId, me.id);

    const added = await app.request('POST', '/api/cart/items', { token, body: { productId: await coffee(app, token), quantity: 2 } });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    await waitUntil(() => lines(listener.output().stdout).some((l) => l.event === 'cart_update'), EVENT_MS, 'the cart_update line');
    const events = lines(listener.output().stdout).slice(1);
    assert.deepEqual(
      events.map((l) => [l.channel, l.event]),
      [
        [`cart:${me.id}`, 'cart_item_added'],
        [`cart:${me.id}`, 'cart_update'],
      ],
    );
    assert.equal(events[1]!.offset, events[0]!.offset! + 1, 'offsets follow each other');
    const cart = events[1]!.data as { version: number; items: { sku: string; quantity: number }[] };
    assert.equal(cart.version, (added.body as { version: number }).version);
    assert.deepEqual(cart.items.map((i) => [i.sku, i.quantity]), [['COF-250', 2]]);

    listener.child.kill('SIGINT');
    const exit = await within(listener.done, 10_000, 'listen to end on SIGINT');
    assert.equal(exit.code, 0, exit.stderr);
  });

  void test('an alias path: the node subscribes it, and its snapshot and events print the same way', async () => {
    const listener = await listening(['/ws/cart/', '--as', 'customer', '--url', app.url]);
    assert.match(listener.output().stderr, /^listening to cart:usr_\w+ \(the node subscribed it for \/ws\/cart\/\)/m);
    const [snapshot] = lines(listener.output().stdout);
    assert.equal(snapshot?.event, 'snapshot');
    const token = await app.loginAs('customer');
    const cart = (await app.request<{ items: { id: string }[] }>('GET', '/api/cart', { token })).body;
    assert.ok(cart.items.length > 0, 'the first test left an item');
    const removed = await app.request('DELETE', `/api/cart/items/${cart.items[0]!.id}`, { token });
    assert.equal(removed.status, 200, JSON.stringify(removed.body));
    await waitUntil(() => lines(listener.output().stdout).some((l) => l.event === 'cart_item_removed'), EVENT_MS, 'the cart_item_removed line');
  });

  void test('orders is the order feed of your role: staff-orders of the tenant for a manager', async () => {
    const listener = await listening(['orders', '--as', 'manager', '--url', app.url]);
    assert.match(listener.output().stderr, /^listening to staff-orders:ten_\w+;/m);
    listener.child.kill('SIGINT');
    assert.equal((await within(listener.done, 10_000, 'listen to end')).code, 0);
  });

  void test('--email/--password and --token sign in too; a token that is no account may not read a cart, and is told why', async () => {
    const withPassword = await listening(['my-orders', '--email', 'customer@demo.test', '--password', 'customer-demo', '--url', app.url]);
    assert.match(withPassword.output().stderr, /^listening to my-orders:usr_\w+;/m);
    withPassword.child.kill('SIGINT');
    assert.equal((await within(withPassword.done, 10_000, 'listen to end')).code, 0);
    const token = await app.loginAs('worker');
    const withToken = await listening(['orders', '--token', token, '--url', app.url]);
    assert.match(withToken.output().stderr, /^listening to worker-orders:usr_\w+;/m);
    withToken.child.kill('SIGINT');
    assert.equal((await within(withToken.done, 10_000, 'listen to end')).code, 0);

    const devToken = await run(['token', '--user', 'alice'], { SWITCHBOARD_JWT_SECRET: TEST_SECRET, SWITCHBOARD_DATA: app.dataDir });
    const refused = await run(['listen', 'cart', '--token', devToken.stdout.trim(), '--url', app.url], {}, STARTUP_MS);
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /^switchboard: alice \(customer\) may not read cart:alice \(forbidden\): this token names no account .*--email/m);
  });

  void test('refusals end it with exit 1 and a reason the user can act on', async () => {
    const port = await freePort();
    const cases: [string[], RegExp][] = [
      [['cart', '--as', 'customer', '--url', `http://127.0.0.1:${port}`], new RegExp(`^switchboard: no Switchboard node answers at http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\): start one with \`npm start\``)],
      [['cart', '--email', 'customer@demo.test', '--password', 'not-it', '--url', app.url], /^switchboard: .* refused the sign-in of customer@demo\.test \(401 invalid_credentials\): the email or password is wrong$/m],
      [['cart:usr_somebody', '--as', 'customer', '--url', app.url], /^switchboard: usr_\w+ \(customer, tenant ten_\w+\) may not read cart:usr_somebody \(forbidden\)$/m],
      [['alerts', '--as', 'customer', '--url', app.url], /^switchboard: usr_\w+ \(customer, tenant ten_\w+\) may not read alerts:ten_\w+ \(forbidden\)$/m],
      [['carts', '--as', 'customer', '--url', app.url], /^switchboard: this node has no channel namespace 'carts' \(unknown_namespace\): listen takes one of the words cart, orders/m],
      [['/ws/orders/ord_nope/', '--as', 'customer', '--url', app.url], /^switchboard: you may not use \/ws\/orders\/ord_nope\/ \(4501 forbidden\)/m],
      [['/ws/nowhere/', '--as', 'customer', '--url', app.url], /has no WebSocket endpoint at \/ws\/nowhere\/ \(404\)/],
      [['cart', '--token', 'not-a-token', '--url', app.url], /^switchboard: the node refused the token \(invalid_token: .*\); mint one with `switchboard token --email E`/m],
    ];
    // Two at a time: each is a process of its own on a shared machine.
    for (let i = 0; i < cases.length; i += 2) {
      const batch = cases.slice(i, i + 2);
      const results = await Promise.all(batch.map(([args]) => run(['listen', ...args], {}, STARTUP_MS)));
      for (const [j, [args, message]] of batch.entries()) {
        const result = results[j]!;
        assert.equal(result.code, 1, `listen ${args.join(' ')}: ${JSON.stringify(result)}`);
        assert.match(result.stderr, message, `listen ${args.join(' ')}`);
        assert.equal(result.stdout, '', 'nothing on stdout but events');
      }
    }
  });

  void test('bad usage exits 2 with the usage', async () => {
    const cases: [string[], RegExp][] = [
      [['listen', '--as', 'customer'], /listen needs a channel/],
      [['listen', 'cart'], /listen signs in first: --as customer/],
      [['listen', 'cart', '--as', 'boss'], /--as takes a demo account's role: customer, worker, manager, admin \(got 'boss'\)/],
      [['listen', 'cart', '--as', 'customer', '--token', 't'], /give one way to sign in/],
      [['listen', 'cart', '--email', 'a@b.c'], /--email and --password go together/],
      [['listen', 'cart', 'orders', '--as', 'customer'], /listen takes one channel/],
      [['listen', 'cart', '--as', 'customer', '--port', '1'], /unknown flag --port/],
      [['listen', 'cart', '--as', 'customer', '--url', 'ftp://x'], /--url "ftp:\/\/x" must be an http\(s\) or ws\(s\) URL/],
    ];
    const results = await Promise.all(cases.map(([args]) => run(args, {}, STARTUP_MS)));
    for (const [i, [args, message]] of cases.entries()) {
      assert.equal(results[i]!.code, 2, args.join(' '));
      assert.match(results[i]!.stderr, message, args.join(' '));
      assert.match(results[i]!.stderr, /usage: switchboard/);
    }
  });
});

void describe('switchboard listen across a node restart', () => {
  const dataDir = suiteDataDir('switchboard-listen-');

  void test('reconnects, says what it could not recover, and prints what happens after', async () => {
    const port = await freePort();
    const env = { SWITCHBOARD_DATA: dataDir(), PORT: String(port), SWITCHBOARD_SHUTDOWN_GRACE_MS: '1000' };
    const serve = async () => {
      const node = start(['serve'], env);
      await waitUntil(() => listeningUrl(node.output().stdout) !== null || node.child.exitCode !== null, STARTUP_MS * 2, 'the node to listen');
      assert.ok(listeningUrl(node.output().stdout), JSON.stringify(node.output()));
      return node;
    };
    const first = await serve();
    const url = `http://127.0.0.1:${port}`;
    const listener = await listening(['cart', '--as', 'customer', '--url', url]);

    first.child.kill('SIGTERM');
    assert.equal((await within(first.done, 15_000, 'the node to stop')).code, 0);
    await waitUntil(() => /^connection lost \(4000: .*\); reconnecting/m.test(listener.output().stderr), EVENT_MS, 'listen to notice');
    const second = await serve();
    await waitUntil(() => /^back on cart:/m.test(listener.output().stderr), STARTUP_MS, 'listen to resubscribe');
    // The memory layer starts a new epoch: nothing to replay, so the snapshot says where the cart is.
    assert.match(listener.output().stderr, /^back on cart:usr_\w+, but what happened while away is gone/m);
    assert.equal(lines(listener.output().stdout).filter((l) => l.event === 'snapshot').length, 2);

    const login = await fetch(`${url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'customer@demo.test', password: 'customer-demo' }) });
    const { token } = (await login.json()) as { token: string };
    const products = (await (await fetch(`${url}/api/products`, { headers: { authorization: `Bearer ${token}` } })).json()) as { items: { id: string; sku: string }[] };
    const added = await fetch(`${url}/api/cart/items`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ productId: products.items.find((p) => p.sku === 'MUG-01')!.id, quantity: 1 }),
    });
    assert.equal(added.status, 201);
    await waitUntil(() => lines(listener.output().stdout).some((l) => l.event === 'cart_update'), EVENT_MS, 'the cart_update after the restart');
    listener.child.kill('SIGINT');
    assert.equal((await within(listener.done, 10_000, 'listen to end')).code, 0);
    second.child.kill('SIGTERM');
    await within(second.done, 15_000, 'the second node to stop');
  });
});
