import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { DEMO_ACCOUNTS } from '../../src/modules/accounts/seed.js';
import { startApp, type TestApp } from '../helpers/app.js';

/**
 * The web app (web/dist, as `npm test` builds it before the suites) served by a real node, in
 * Debian's chromium. SWITCHBOARD_SCREENSHOTS=docs/screenshots also saves the sign-in page and the
 * header there.
 */
const CHROMIUM = '/usr/bin/chromium';
const WEB_DIST = join(import.meta.dirname, '..', '..', '..', 'web', 'dist');
const SCREENSHOTS = process.env.SWITCHBOARD_SCREENSHOTS;
const skip = !existsSync(CHROMIUM)
  ? `no browser at ${CHROMIUM} (apt-get install chromium; .ci/run installs it)`
  : !existsSync(join(WEB_DIST, 'index.html'))
    ? 'web/dist is not built (npm run build:web; npm test builds it before the suites)'
    : false;

const LANDING = { customer: '/shop', worker: '/orders', manager: '/staff', admin: '/staff' } as const;
const ROLE_LABEL = { customer: 'Customer', worker: 'Worker', manager: 'Manager', admin: 'Admin' } as const;

async function launch(): Promise<Browser> {
  // launch() gives every browser a fresh temporary profile (user-data-dir).
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run', '--disable-component-update', '--disable-sync'],
  });
}

/** A page in a context of its own (its own localStorage), with what the console and the page said. */
async function openPage(browser: Browser, viewport = { width: 1100, height: 720 }): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console: ${message.text()}`);
  });
  return { context, page, errors };
}

async function bannerShows(page: Page, status: 'live' | 'offline' | 'connecting' | 'catching_up', timeout = 15_000): Promise<void> {
  await page.locator(`.banner[data-status="${status}"]`).waitFor({ timeout });
}

async function signInByClick(page: Page, base: string, account: (typeof DEMO_ACCOUNTS)[number]): Promise<void> {
  await page.goto(`${base}/sign-in`);
  await page.getByRole('button', { name: `Sign in as ${account.name}, ${ROLE_LABEL[account.role]}` }).click();
  await page.waitForURL(`${base}${LANDING[account.role]}`);
}

void describe('the web app in a real browser (Debian chromium)', { skip }, () => {
  let t: TestApp;
  let browser: Browser;

  before(async () => {
    t = await startApp({ engine: 'sqlite', web: { root: WEB_DIST } });
    browser = await launch();
    if (SCREENSHOTS) await mkdir(SCREENSHOTS, { recursive: true });
  });
  after(async () => {
    await browser?.close();
    await t?.close();
  });

  void test('/ loads the app with no console errors, under the CSP, its hashed assets immutable and index.html revalidated', async () => {
    const { context, page, errors } = await openPage(browser);
    const assets: { url: string; cacheControl: string | undefined; status: number }[] = [];
    page.on('response', (res) => {
      if (new URL(res.url()).pathname.startsWith('/assets/')) assets.push({ url: res.url(), cacheControl: res.headers()['cache-control'], status: res.status() });
    });
    const res = await page.goto(`${t.url}/`);
    assert.ok(res);
    assert.equal(res.status(), 200);
    const headers = res.headers();
    assert.equal(headers['cache-control'], 'no-cache');
    const csp = headers['content-security-policy'] ?? '';
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.match(csp, new RegExp(`connect-src 'self' ws://127\\.0\\.0\\.1:${t.port} wss://127\\.0\\.0\\.1:${t.port}`));
    assert.equal(headers['x-content-type-options'], 'nosniff');

    // Signed out, / goes to the sign-in page, which lists the demo accounts.
    await page.getByRole('heading', { name: 'Try the demo shop' }).waitFor();
    assert.equal(new URL(page.url()).pathname, '/sign-in');
    assert.equal(await page.getByRole('button', { name: /^Sign in as / }).count(), DEMO_ACCOUNTS.length);
    assert.ok(assets.some((a) => a.url.endsWith('.js')) && assets.some((a) => a.url.endsWith('.css')), JSON.stringify(assets));
    for (const asset of assets) {
      assert.equal(asset.status, 200, asset.url);
      assert.equal(asset.cacheControl, 'public, max-age=31536000, immutable', asset.url);
    }
    if (SCREENSHOTS) await page.screenshot({ path: join(SCREENSHOTS, 'sign-in.png') });
    assert.deepEqual(errors, []);
    await context.close();
  });

  void test('one click signs in as each demo account and lands on its role\'s page, the header naming the shop, the user and the role', async () => {
    for (const account of DEMO_ACCOUNTS) {
      const { context, page, errors } = await openPage(browser);
      await signInByClick(page, t.url, account);
      const header = page.locator('header.header');
      assert.equal(await header.locator('.header__shop').textContent(), 'Demo Shop');
      assert.equal(await header.locator('.header__name').textContent(), account.name);
      assert.equal(await header.locator('.role').textContent(), ROLE_LABEL[account.role]);
      await bannerShows(page, 'live');
      const nav = await header.getByRole('navigation').getByRole('link').allTextContents();
      if (account.role === 'admin') {
        assert.deepEqual(nav, ['Staff board', 'Console']);
        await header.getByRole('link', { name: 'Console' }).click();
        await page.waitForURL(`${t.url}/console`);
        await page.getByRole('heading', { name: 'Console', level: 1 }).waitFor();
        if (SCREENSHOTS) await page.screenshot({ path: join(SCREENSHOTS, 'signed-in.png') });
      } else {
        assert.ok(!nav.includes('Console'), `${account.role}: ${nav.join(', ')}`);
        // Pages of other roles are refused in words, not shown.
        await page.goto(`${t.url}/console`);
        await page.getByRole('heading', { name: 'Not available to you' }).waitFor();
      }
      assert.deepEqual(errors, [], account.role);
      await context.close();
    }
  });

  void test('a wrong password is told in words', async () => {
    const { context, page } = await openPage(browser);
    await page.goto(`${t.url}/sign-in`);
    await page.getByLabel('Email').fill('customer@demo.test');
    await page.getByLabel('Password').fill('not-the-password');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.equal(await alert.textContent(), 'The email or password is wrong.');
    assert.equal(new URL(page.url()).pathname, '/sign-in');
    await context.close();
  });

  void test('sign-out forgets the session in every tab; signed-out pages go to sign-in and come back after it', async () => {
    const { context, page } = await openPage(browser);
    await signInByClick(page, t.url, DEMO_ACCOUNTS[0]!);
    const other = await context.newPage();
    await other.goto(`${t.url}/cart`);
    await other.getByRole('heading', { name: 'Cart', level: 1 }).waitFor();

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${t.url}/sign-in`);
    assert.equal(await page.evaluate(() => localStorage.getItem('switchboard.session')), null);
    // The other tab heard it (storage event) and left the cart for the sign-in page.
    await other.waitForURL(`${t.url}/sign-in?next=%2Fcart`);
    await page.reload();
    await page.getByRole('heading', { name: 'Sign in', level: 1 }).waitFor();

    // Signing in from there returns to the page asked for.
    await other.getByRole('button', { name: 'Sign in as Cora Customer, Customer' }).click();
    await other.waitForURL(`${t.url}/cart`);
    await context.close();
  });

  void test('an unknown path shows the app\'s not-found page, not JSON, signed out and signed in', async () => {
    const { context, page, errors } = await openPage(browser);
    const res = await page.goto(`${t.url}/no/such/page`);
    assert.equal(res?.status(), 200);
    assert.match(res?.headers()['content-type'] ?? '', /^text\/html/);
    await page.getByRole('heading', { name: 'Page not found' }).waitFor();
    assert.match((await page.locator('main').textContent()) ?? '', /There is no page at \/no\/such\/page/);
    await page.getByRole('link', { name: 'Go to sign in' }).waitFor();

    await signInByClick(page, t.url, DEMO_ACCOUNTS[1]!);
    await page.goto(`${t.url}/orders/42/nothing`);
    await page.getByRole('heading', { name: 'Page not found' }).waitFor();
    await page.locator('header.header').waitFor();
    await page.getByRole('link', { name: 'Go to your start page' }).click();
    await page.waitForURL(`${t.url}/orders`);
    assert.deepEqual(errors, []);
    await context.close();
  });

  void test('the header on a phone-sized screen', { skip: SCREENSHOTS ? false : 'screenshots only (SWITCHBOARD_SCREENSHOTS)' }, async () => {
    const { context, page } = await openPage(browser, { width: 390, height: 740 });
    await page.goto(`${t.url}/sign-in`);
    await page.getByRole('heading', { name: 'Try the demo shop' }).waitFor();
    await page.screenshot({ path: join(SCREENSHOTS!, 'sign-in-phone.png'), fullPage: true });
    await signInByClick(page, t.url, DEMO_ACCOUNTS[3]!);
    await page.getByRole('heading', { name: 'Staff board', level: 1 }).waitFor();
    await bannerShows(page, 'live');
    await page.screenshot({ path: join(SCREENSHOTS!, 'header-phone.png') });
    await context.close();
  });
});

void describe('the connection banner', { skip }, () => {
  let first: TestApp;
  let second: TestApp | undefined;
  let browser: Browser;

  before(async () => {
    first = await startApp({ engine: 'sqlite', web: { root: WEB_DIST } });
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    await second?.close();
    await first?.close();
  });

  void test('live, offline when the node stops, live again when it is back (same port, same data)', async () => {
    const { context, page } = await openPage(browser);
    await signInByClick(page, first.url, DEMO_ACCOUNTS[1]!);
    await bannerShows(page, 'live');

    await first.app.sb.close();
    await bannerShows(page, 'offline');
    assert.match((await page.locator('.banner').textContent()) ?? '', /Offline\. .*trying to reconnect/);

    second = await startApp({ engine: 'sqlite', web: { root: WEB_DIST }, shareWith: first, port: first.port });
    await bannerShows(page, 'live', 20_000);
    // Still signed in, on the same page.
    assert.equal(new URL(page.url()).pathname, '/orders');
    await context.close();
  });

  void test('offline when the device is, live when it is back', async () => {
    assert.ok(second, 'runs after the restart test');
    const { context, page } = await openPage(browser);
    await signInByClick(page, second.url, DEMO_ACCOUNTS[0]!);
    await bannerShows(page, 'live');
    await context.setOffline(true);
    await bannerShows(page, 'offline', 5_000);
    assert.match((await page.locator('.banner').textContent()) ?? '', /this device is offline/);
    await context.setOffline(false);
    await bannerShows(page, 'live', 20_000);
    await context.close();
  });
});
