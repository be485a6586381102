import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { build, type Plugin } from 'esbuild';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startApp, type TestApp } from '../helpers/app.js';
import { addItem, catalogue, expectStatus, getCart, outboxDrained, type Catalogue, type CartView } from '../commerce/support.js';
import { startProxy, type Proxy } from '../sdk/support.js';
import type { CartShown, PresenceShown, RenderConfig, SentFrame } from './page.js';

/**
 * @switchboard/react in a real browser: page.ts is bundled with esbuild (React in development
 * mode, so StrictMode really runs every effect twice), once against React 19 and once against
 * React 18, served from loopback and driven with playwright against a full Switchboard node
 * (database, REST API, outbox). What a component shows is read from what it recorded after its
 * commits; what the SDK subscribed from the frames it sent and from the node's own table.
 */

const CHROMIUM = '/usr/bin/chromium';
const skip = existsSync(CHROMIUM) ? false : `no browser at ${CHROMIUM} (apt-get install chromium; .ci/run installs it)`;
/** dist/test/react -> the repository. */
const ROOT = join(import.meta.dirname, '..', '..', '..');
const REACT18_DIR = join(ROOT, 'test', 'react', 'react18');
const REACTS = ['19', '18'] as const;
type ReactMajor = (typeof REACTS)[number];

/** Resolves react and react-dom (and their subpaths) from test/react/react18, where React 18 is installed. */
const react18: Plugin = {
  name: 'react18',
  setup(b) {
    b.onResolve({ filter: /^react(-dom)?(\/.*)?$/ }, (args) =>
      args.pluginData === 'react18' ? undefined : b.resolve(args.path, { kind: args.kind, resolveDir: REACT18_DIR, pluginData: 'react18' }),
    );
  },
};

async function bundlePage(react: ReactMajor): Promise<string> {
  const result = await build({
    entryPoints: [join(import.meta.dirname, 'page.js')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
    define: { 'process.env.NODE_ENV': '"development"' },
    plugins: react === '18' ? [react18] : [],
  });
  return result.outputFiles[0]!.text;
}

/** Serves /<major>/ (the page) and /<major>/page.js (its bundle) on loopback. */
async function startSite(bundles: Record<ReactMajor, string>): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const m = /^\/(\d+)\/(page\.js)?$/.exec(path);
    const bundle = m ? bundles[m[1] as ReactMajor] : undefined;
    if (!m || bundle === undefined) {
      res.writeHead(404).end();
    } else if (m[2]) {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle);
    } else {
      res.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><meta charset="utf-8"><title>hooks</title><link rel="icon" href="data:,"><div id="root"></div><script type="module" src="/${m[1]}/page.js"></script>`);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** Polls `read` until `ok` holds; the error names what was awaited and what was last seen. */
async function waitUntil<T>(read: () => T | Promise<T>, ok: (value: T) => boolean, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last seen: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A cart as the page's CartView records it. */
function shown(cart: CartView): { version: number; skus: string[] } {
  return { version: cart.version, skus: cart.items.map((i) => `${i.sku}x${i.quantity}`).sort() };
}

void describe('@switchboard/react hooks in a real browser (Debian chromium)', { skip }, () => {
  let t: TestApp;
  let cat: Catalogue;
  let site: { server: Server; url: string };
  let browser: Browser;

  before(async () => {
    const [app, bundle19, bundle18] = await Promise.all([startApp({ engine: 'sqlite' }), bundlePage('19'), bundlePage('18')]);
    t = app;
    cat = await catalogue(t, await t.loginAs('customer'));
    site = await startSite({ '19': bundle19, '18': bundle18 });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run', '--disable-component-update', '--disable-sync'],
    });
  });

  after(async () => {
    await browser?.close();
    await new Promise((resolve) => site?.server.close(resolve));
    await t?.close();
  });

  /** The node's own count of connections subscribed to `channel`. */
  function serverSubscribers(channel: string): number {
    return [...t.app.sb.gateway.sessions].filter((s) => s.subs.has(channel)).length;
  }

  for (const react of REACTS) {
    void describe(`React ${react}`, () => {
      const pages: Page[] = [];
      after(async () => {
        for (const page of pages) await page.close().catch(() => undefined);
      });

      async function openPage(token: string, wsUrl = t.wsUrl): Promise<{ page: Page; errors: string[] }> {
        const page = await browser.newPage();
        pages.push(page);
        const errors: string[] = [];
        page.on('pageerror', (err) => errors.push(err.message));
        page.on('console', (msg) => {
          // React reports misuse (e.g. an uncached getSnapshot) as console errors; the browser's own
          // note on a refused WebSocket (the outage test) is not one.
          if (msg.type() === 'error' && !msg.text().startsWith('WebSocket connection to')) errors.push(msg.text());
        });
        await page.goto(`${site.url}/${react}/?${new URLSearchParams({ ws: wsUrl, token }).toString()}`);
        await page.waitForFunction('window.sbTest !== undefined', undefined, { timeout: 10_000 });
        const version = await page.evaluate(() => window.sbTest.reactVersion);
        assert.ok(version.startsWith(`${react}.`), `the page runs React ${react} (it runs ${version})`);
        return { page, errors };
      }

      const render = (page: Page, config: RenderConfig) => page.evaluate((c) => window.sbTest.render(c), config);
      const cartShown = (page: Page, name: string) => page.evaluate((n) => (window.sbViews[n] as CartShown | undefined) ?? null, name);
      const presenceShown = (page: Page, name: string) => page.evaluate((n) => (window.sbViews[n] as PresenceShown | undefined) ?? null, name);
      const sent = (page: Page, channel: string) => page.evaluate((ch) => window.sbSent.filter((f) => f.channel === ch), channel);
      const count = (frames: SentFrame[], op: string) => frames.filter((f) => f.op === op).length;

      /** Waits until the view is live and shows this cart. */
      async function waitCart(page: Page, name: string, cart: CartView, what: string): Promise<CartShown> {
        const want = shown(cart);
        const seen = await waitUntil(
          () => cartShown(page, name),
          (v) => v !== null && v.status === 'live' && v.version === want.version,
          `${name} to show cart v${want.version} (${what})`,
        );
        assert.deepEqual({ version: seen!.version, skus: seen!.skus }, want, `${name} shows the cart as REST answers it (${what})`);
        return seen!;
      }

      void test('useChannel shows the cart from its snapshot, then follows every REST change', async () => {
        const { id, token } = await t.newCustomer();
        const channel = `cart:${id}`;
        expectStatus(await addItem(t, token, { productId: cat.product('MUG-01').id, quantity: 1 }), 201);
        const { page, errors } = await openPage(token);
        await render(page, { views: [{ kind: 'cart', name: 'badge', channel }] });
        const first = await waitCart(page, 'badge', await getCart(t, token), 'the snapshot');
        assert.equal(first.snapshotVersion, first.version, 'the state is the snapshot');

        const added = expectStatus(await addItem(t, token, { productId: cat.product('COF-250').id, quantity: 2 }), 201);
        await waitCart(page, 'badge', added, 'after POST /api/cart/items');
        const coffee = added.items.find((i) => i.sku === 'COF-250')!;
        const patched = expectStatus(await t.request<CartView>('PATCH', `/api/cart/items/${coffee.id}`, { token, body: { quantity: 5 } }), 200);
        await waitCart(page, 'badge', patched, 'after PATCH');
        const removed = expectStatus(await t.request<CartView>('DELETE', `/api/cart/items/${coffee.id}`, { token }), 200);
        const last = await waitCart(page, 'badge', removed, 'after DELETE');

        assert.equal(last.snapshotVersion, first.version, 'the snapshot stays the one the subscribe brought');
        assert.equal(last.lastEvent, 'cart_update');
        assert.equal(last.updates, 3, 'on.cart_update ran once per update');
        assert.equal(last.resyncedAt, null);
        assert.deepEqual(errors, []);
      });

      void test('components on one channel share one subscription; one mounted later starts from the current cart', async () => {
        const { id, token } = await t.newCustomer();
        const channel = `cart:${id}`;
        const { page, errors } = await openPage(token);
        await render(page, { views: [{ kind: 'cart', name: 'badge', channel }, { kind: 'cart', name: 'list', channel }] });
        const empty = await getCart(t, token);
        await waitCart(page, 'badge', empty, 'the snapshot');
        await waitCart(page, 'list', empty, 'the snapshot');

        let cart = expectStatus(await addItem(t, token, { productId: cat.product('MUG-01').id, quantity: 1 }), 201);
        cart = expectStatus(await addItem(t, token, { productId: cat.product('FLT-100').id, quantity: 3 }), 201);
        await waitCart(page, 'badge', cart, 'two additions');
        await waitCart(page, 'list', cart, 'two additions');

        // Mounted after the snapshot and four publications: it must compute the same cart at once.
        await render(page, {
          views: [
            { kind: 'cart', name: 'badge', channel },
            { kind: 'cart', name: 'list', channel },
            { kind: 'cart', name: 'late', channel },
          ],
        });
        await waitCart(page, 'late', cart, 'a component mounted later');
        cart = expectStatus(await addItem(t, token, { productId: cat.product('MUG-01').id, quantity: 1 }), 201);
        for (const name of ['badge', 'list', 'late']) await waitCart(page, name, cart, 'a change after the third mounted');

        assert.equal(serverSubscribers(channel), 1, 'the node holds one subscription for the page');
        const frames = await sent(page, channel);
        assert.equal(count(frames, 'subscribe'), 1, `one subscribe frame: ${JSON.stringify(frames)}`);
        assert.equal(count(frames, 'unsubscribe'), 0);
        assert.deepEqual(errors, []);
      });

      void test('a component mounted after more publications than are kept for newcomers gets a new snapshot', async () => {
        const { id, token } = await t.newCustomer();
        const channel = `cart:${id}`;
        const { page, errors } = await openPage(token);
        await render(page, { views: [{ kind: 'cart', name: 'badge', channel }] });
        await waitCart(page, 'badge', await getCart(t, token), 'the snapshot');
        const cart = expectStatus(await addItem(t, token, { productId: cat.product('MUG-01').id, quantity: 1 }), 201);
        await waitCart(page, 'badge', cart, 'a change');
        // 500 publications since the snapshot are kept for components mounted later; go past that.
        for (let i = 0; i < 510; i++) await t.app.sb.publish(channel, 'noise', { i });
        await waitUntil(() => cartShown(page, 'badge'), (v) => v?.lastEvent === 'noise', 'the noise to arrive');

        await render(page, { views: [{ kind: 'cart', name: 'badge', channel }, { kind: 'cart', name: 'late', channel }] });
        await waitCart(page, 'late', cart, 'mounted after the noise');
        await waitCart(page, 'badge', cart, 'still, after the new snapshot');
        assert.deepEqual((await sent(page, channel)).map((f) => f.op), ['subscribe', 'unsubscribe', 'subscribe'], 'resubscribed for a snapshot');
        assert.equal(serverSubscribers(channel), 1);
        assert.deepEqual(errors, []);
      });

      void test('StrictMode does not subscribe twice; unmounting the last component unsubscribes; a null channel subscribes nothing', async () => {
        const { id, token } = await t.newCustomer();
        const channel = `cart:${id}`;
        const { page, errors } = await openPage(token);
        await render(page, { strict: true, views: [{ kind: 'cart', name: 'badge', channel }, { kind: 'cart', name: 'list', channel }, { kind: 'cart', name: 'none', channel: null }] });
        const empty = await getCart(t, token);
        await waitCart(page, 'badge', empty, 'the snapshot');
        await waitCart(page, 'list', empty, 'the snapshot');
        const cart = expectStatus(await addItem(t, token, { productId: cat.product('MUG-01').id, quantity: 2 }), 201);
        const badge = await waitCart(page, 'badge', cart, 'a change');
        await delay(200); // room for a second subscribe or a stray unsubscribe to show up
        assert.equal(badge.updates, 1, 'on.cart_update ran once under StrictMode');
        const none = await cartShown(page, 'none');
        assert.equal(none?.status, 'idle', 'useChannel(null) is idle');
        assert.equal(none?.version, null);
        let frames = await sent(page, channel);
        assert.deepEqual(frames.map((f) => f.op), ['subscribe'], 'one subscribe, no unsubscribe, under StrictMode');
        assert.equal(await page.evaluate(() => window.sbSent.length), 1, 'nothing subscribed for the null channel');
        assert.equal(serverSubscribers(channel), 1);

        // One of two unmounts: the other keeps the subscription.
        await render(page, { strict: true, views: [{ kind: 'cart', name: 'list', channel }] });
        await delay(200);
        assert.equal(serverSubscribers(channel), 1, 'the remaining component keeps it');
        // The last one is swapped for another in the same render (a page changing): kept as well.
        await render(page, { strict: true, views: [{ kind: 'cart', name: 'swapped', channel }] });
        await waitCart(page, 'swapped', cart, 'swapped in');
        await delay(200);
        assert.deepEqual((await sent(page, channel)).map((f) => f.op), ['subscribe'], 'a swap in one render keeps the subscription');
        // The last one unmounts: the subscription ends, on the node too.
        await render(page, { strict: true, views: [] });
        await waitUntil(() => serverSubscribers(channel), (n) => n === 0, 'the node to drop the subscription');
        frames = await sent(page, channel);
        assert.deepEqual(frames.map((f) => f.op), ['subscribe', 'unsubscribe']);

        // Mounting again subscribes afresh and shows the cart.
        await render(page, { strict: true, views: [{ kind: 'cart', name: 'again', channel }] });
        await waitCart(page, 'again', cart, 'mounted again');
        assert.deepEqual((await sent(page, channel)).map((f) => f.op), ['subscribe', 'unsubscribe', 'subscribe']);
        assert.deepEqual(errors, []);
      });

      void test('a channel the user may not read fails with its error, and is not retried', async () => {
        const other = await t.newCustomer();
        const { token } = await t.newCustomer();
        const { page, errors } = await openPage(token);
        await render(page, { views: [{ kind: 'cart', name: 'theirs', channel: `cart:${other.id}` }] });
        const seen = await waitUntil(() => cartShown(page, 'theirs'), (v) => v?.status === 'failed', 'the refusal');
        assert.equal(seen!.error, 'forbidden');
        assert.equal(seen!.version, null);
        await delay(300);
        assert.equal(count(await sent(page, `cart:${other.id}`), 'subscribe'), 1, 'not retried');
        assert.deepEqual(errors, []);
      });

      void test('when recovery fails (history gone) the state is rebuilt from the new snapshot, and says so', async () => {
        const { id, token } = await t.newCustomer();
        const channel = `cart:${id}`;
        const proxy: Proxy = await startProxy(t.port);
        try {
          const { page, errors } = await openPage(token, proxy.wsUrl);
          await render(page, { views: [{ kind: 'cart', name: 'badge', channel }] });
          let cart = expectStatus(await addItem(t, token, { productId: cat.product('MUG-01').id, quantity: 1 }), 201);
          await waitCart(page, 'badge', cart, 'before the outage');
          await waitUntil(() => page.evaluate(() => window.sbConnection.at(-1)), (s) => s === 'live', 'the banner to say live');

          // Cut the page off; while away the cart changes and more is published than history keeps (100).
          proxy.refusing = true;
          proxy.dropAll();
          await waitUntil(() => page.evaluate(() => window.sbConnection.at(-1)), (s) => s === 'offline', 'the banner to say offline');
          cart = expectStatus(await addItem(t, token, { productId: cat.product('FLT-100').id, quantity: 2 }), 201);
          await outboxDrained(t);
          for (let i = 0; i < 120; i++) await t.app.sb.publish(channel, 'noise', { i });
          proxy.refusing = false;

          const rebuilt = await waitCart(page, 'badge', cart, 'after the failed recovery');
          assert.notEqual(rebuilt.resyncedAt, null, 'resyncedAt says the state was rebuilt');
          assert.equal(rebuilt.snapshotVersion, cart.version, 'from the new snapshot');
          assert.notEqual(rebuilt.lastEvent, 'noise', 'none of what was missed was delivered');
          const frames = await sent(page, channel);
          assert.deepEqual(frames.map((f) => f.op), ['subscribe', 'subscribe'], 'resubscribed once');
          assert.ok(frames[1]!.since, 'the resubscribe asked for what was missed');
          await waitUntil(() => page.evaluate(() => window.sbConnection.at(-1)), (s) => s === 'live', 'the banner to say live again');
          const banner = await page.evaluate(() => window.sbConnection);
          assert.deepEqual(banner.slice(0, 3), ['connecting', 'live', 'offline'], `banner: ${banner.join(' > ')}`);

          // And it is live again.
          cart = expectStatus(await addItem(t, token, { productId: cat.product('MUG-01').id, quantity: 1 }), 201);
          await waitCart(page, 'badge', cart, 'live after the resync');
          assert.deepEqual(errors, []);
        } finally {
          await proxy.close();
        }
      });

      void test('usePresence lists the users on a channel and follows joins and leaves', async () => {
        const room = `chat:react-${react}-${Date.now()}`;
        const a = await t.newCustomer('Ada');
        const b = await t.newCustomer('Bob');
        const pageA = await openPage(a.token);
        await render(pageA.page, { views: [{ kind: 'presence', name: 'who', channel: room }] });
        await waitUntil(() => presenceShown(pageA.page, 'who'), (v) => v?.status === 'live' && v.users.length === 1, 'Ada to see herself');
        assert.deepEqual((await presenceShown(pageA.page, 'who'))!.users, [a.id]);

        const pageB = await openPage(b.token);
        await render(pageB.page, { views: [{ kind: 'presence', name: 'who', channel: room }] });
        const both = [a.id, b.id].sort();
        await waitUntil(() => presenceShown(pageB.page, 'who'), (v) => v?.status === 'live' && v.users.length === 2, 'Bob to see both');
        assert.deepEqual((await presenceShown(pageB.page, 'who'))!.users, both);
        await waitUntil(() => presenceShown(pageA.page, 'who'), (v) => v?.users.length === 2, 'Ada to see Bob join');
        assert.deepEqual((await presenceShown(pageA.page, 'who'))!.users, both);

        // Bob's component unmounts: his only subscription ends and he leaves.
        await render(pageB.page, { views: [] });
        await waitUntil(() => presenceShown(pageA.page, 'who'), (v) => v?.users.length === 1, 'Ada to see Bob leave');
        assert.deepEqual((await presenceShown(pageA.page, 'who'))!.users, [a.id]);
        assert.deepEqual([...pageA.errors, ...pageB.errors], []);
      });
    });
  }
});
