/**
 * Seed 000's cart page in a real browser (Debian chromium): its own script opens
 * ws://<host>/ws/cart/user/ and switches on data.type, the token is in the switchboard_token
 * cookie, and an item added over REST updates the count the page shows. The page and /ws are on
 * one origin, as Django served them: a small server serves the page and passes WebSocket upgrades
 * to the node, as nginx does in deploy/.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { startApp, type TestApp } from '../helpers/app.js';
import { launchChromium, noBrowser, waitInPage } from '../helpers/chromium.js';
import { addItem, catalogue, expectStatus } from '../commerce/support.js';

const PAGE = join(import.meta.dirname, '..', '..', '..', 'test', 'django', 'fixtures', 'seed-000-cart.html');
const SCREENSHOT = '/tmp/switchboard-django-cart.png';

/** Keeps every frame the page's sockets receive, without touching the page's own script. */
const RECORD_FRAMES = `
window.switchboardFrames = [];
const PageWebSocket = window.WebSocket;
window.WebSocket = class extends PageWebSocket {
  constructor(...args) {
    super(...args);
    this.addEventListener('message', (e) => window.switchboardFrames.push(JSON.parse(e.data)));
  }
};`;

/** Serves the page at / and passes /ws upgrades through to the node, byte for byte. */
async function startSite(page: string, nodePort: number): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/') res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page);
    else if (path === '/favicon.ico') res.writeHead(204).end();
    else res.writeHead(404).end();
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const upstream = connect(nodePort, '127.0.0.1', () => {
      let raw = `${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/1.1\r\n`;
      for (let i = 0; i < req.rawHeaders.length; i += 2) raw += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`;
      upstream.write(`${raw}\r\n`);
      if (head.length > 0) upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

void describe("seed 000's cart page in a real browser (Debian chromium)", { skip: noBrowser }, () => {
  let t: TestApp;
  let site: { server: Server; url: string };
  let browser: Browser;

  before(async () => {
    t = await startApp({ engine: 'sqlite' });
    site = await startSite(await readFile(PAGE, 'utf8'), t.port);
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    if (site) await new Promise((resolve) => site.server.close(resolve));
    await t?.close();
  });

  void test('an item added over REST updates the cart count the page shows; the page sending cart_update itself is refused', async () => {
    const customer = await t.newCustomer('Zao Customer');
    const mug = (await catalogue(t, customer.token)).product('MUG-01');
    const context = await browser.newContext({ viewport: { width: 640, height: 360 } });
    // What login sets: the token in the cookie, sent with the page's WebSocket upgrade.
    await context.addCookies([{ name: 'switchboard_token', value: customer.token, url: site.url, sameSite: 'Lax' }]);
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    page.on('console', (msg) => {
      if (msg.type() === 'error') errors.push(msg.text());
    });
    await page.addInitScript(RECORD_FRAMES);
    await page.goto(site.url);
    await waitInPage(page, "window.switchboardFrames.some((f) => f.type === 'connection_established')", 'connection_established');
    assert.equal(await page.textContent('#cart-count'), '0');

    const cart = expectStatus(await addItem(t, customer.token, { productId: mug.id, quantity: 3 }), 201);
    await waitInPage(page, "document.getElementById('cart-count').textContent === '3'", 'the count to show 3');
    assert.equal(await page.textContent('#cart-total'), (cart.totalMinor / 100).toFixed(2));
    assert.equal(await page.textContent('#cart-notification'), `${mug.name} added to your cart`);
    assert.deepEqual(await page.$$eval('#cart-items li', (items) => items.map((li) => li.textContent)), [`${mug.name} × 3`]);
    await page.screenshot({ path: SCREENSHOT });

    // The seed's sendCartUpdate(): the server owns the cart, so it answers an error and nothing changes.
    await page.evaluate("sendCartUpdate({ count: 99, total: 1.0, items: [] })");
    await waitInPage(page, "window.switchboardFrames.some((f) => f.type === 'error')", 'the error frame');
    const frames = (await page.evaluate('window.switchboardFrames')) as { type: string; code?: string; op?: string }[];
    assert.deepEqual(frames.map((f) => f.type), ['connection_established', 'cart_item_added', 'cart_update', 'error']);
    assert.equal(frames.at(-1)?.code, 'forbidden');
    assert.ok(frames.every((f) => f.op === undefined), 'no op frame reached the page');
    assert.equal(await page.textContent('#cart-count'), '3');
    assert.deepEqual(errors, []);
    await context.close();
  });
});
