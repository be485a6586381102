import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { CloseCodes } from '@switchboard/client/protocol';
import { DEMO_ACCOUNTS } from '../../src/modules/accounts/seed.js';
import { SIGNED_OUT_REASON, TEST_EVENT } from '../../src/modules/console/index.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { delay, WsTestClient } from '../helpers/ws-client.js';

/**
 * The console page (/console) in Debian's chromium against a full node: the charts fill from the
 * node's feed, a test publish from the page reaches a subscriber on a real WebSocket, "End sessions"
 * closes that user's socket (4504) and sends their open page to sign-in, the audit log shows both
 * as they happen, and the console says nothing in red. SWITCHBOARD_SCREENSHOTS=docs/screenshots
 * saves console.png.
 */
const CHROMIUM = '/usr/bin/chromium';
const WEB_DIST = join(import.meta.dirname, '..', '..', '..', 'web', 'dist');
const SCREENSHOTS = process.env.SWITCHBOARD_SCREENSHOTS;
const skip = !existsSync(CHROMIUM)
  ? `no browser at ${CHROMIUM} (apt-get install chromium; .ci/run installs it)`
  : !existsSync(join(WEB_DIST, 'index.html'))
    ? 'web/dist is not built (npm run build:web; npm test builds it before the suites)'
    : false;

const account = (role: (typeof DEMO_ACCOUNTS)[number]['role']) => DEMO_ACCOUNTS.find((a) => a.role === role)!;
const ROLE_LABEL = { customer: 'Customer', worker: 'Worker', manager: 'Manager', admin: 'Admin' } as const;

async function openPage(browser: Browser, viewport = { width: 1280, height: 900 }): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console: ${message.text()}`);
  });
  return { context, page, errors };
}

async function signIn(page: Page, base: string, role: keyof typeof ROLE_LABEL, landing: string): Promise<void> {
  const { name } = account(role);
  await page.goto(`${base}/sign-in`);
  await page.getByRole('button', { name: `Sign in as ${name}, ${ROLE_LABEL[role]}` }).click();
  await page.waitForURL(`${base}${landing}`);
}

void describe('the console page in a real browser (Debian chromium)', { skip }, () => {
  let t: TestApp;
  let browser: Browser;
  let tenant: string;
  let customerId: string;
  const sockets: WsTestClient[] = [];
  let traffic: Promise<void> | null = null;
  let trafficUntil = 0;

  before(async () => {
    t = await startApp({ engine: 'sqlite', web: { root: WEB_DIST } });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run', '--disable-component-update', '--disable-sync'],
    });
    if (SCREENSHOTS) await mkdir(SCREENSHOTS, { recursive: true });
    const token = await t.loginAs('customer');
    const me = await t.request('GET', '/api/me', { token });
    tenant = me.body.user.tenant.id;
    customerId = me.body.user.id;
  });
  after(async () => {
    trafficUntil = 0;
    await traffic;
    for (const s of sockets) s.terminate();
    await browser?.close();
    await t?.close();
  });

  /** Staff on the node, following their channels, and a trickle of publications, so the console has something to show. */
  async function someActivity(): Promise<void> {
    for (const role of ['worker', 'manager'] as const) {
      const token = await t.loginAs(role);
      const socket = await WsTestClient.open(t.wsUrl, { token });
      await socket.expectOp('welcome');
      await socket.ok({ op: 'subscribe', channel: `tenant:${tenant}` });
      if (role === 'manager') await socket.ok({ op: 'subscribe', channel: `staff-orders:${tenant}` });
      await socket.ok({ op: 'subscribe', channel: 'chat:lobby' });
      sockets.push(socket);
    }
    trafficUntil = Date.now() + 120_000;
    traffic = (async () => {
      for (let i = 0; Date.now() < trafficUntil; i++) {
        await t.app.sb.publish('chat:lobby', 'message', { text: `message ${i}` }).catch(() => undefined);
        await delay(40 + (i % 7) * 15);
      }
    })();
  }

  void test('charts fill from the feed; a test publish reaches a WebSocket subscriber; ending sessions closes it; the audit log shows both; no console errors', async () => {
    await someActivity();
    // The customer: a real WebSocket on the shop's channel, and the shop open in a browser tab.
    const customerToken = await t.loginAs('customer');
    const subscriber = await WsTestClient.open(t.wsUrl, { token: customerToken });
    await subscriber.expectOp('welcome');
    await subscriber.ok({ op: 'subscribe', channel: `tenant:${tenant}` });
    await subscriber.ok({ op: 'subscribe', channel: `cart:${customerId}` });
    const shopper = await openPage(browser);
    await signIn(shopper.page, t.url, 'customer', '/shop');
    await shopper.page.locator('.banner[data-status="live"]').waitFor({ timeout: 15_000 });

    const { context, page, errors } = await openPage(browser);
    await signIn(page, t.url, 'admin', '/staff');
    await page.getByRole('link', { name: 'Console' }).click();
    await page.waitForURL(`${t.url}/console`);
    await page.getByRole('heading', { name: 'Console', level: 1 }).waitFor();

    // The charts: the snapshot (history from before the page opened), then a sample a second.
    const connections = page.locator('[data-figure="connections"]');
    await page.waitForFunction(() => Number(document.querySelector('[data-figure="connections"]')?.getAttribute('data-points') ?? 0) >= 3, undefined, { timeout: 15_000 });
    const before = Number(await connections.getAttribute('data-points'));
    await page.waitForFunction((n) => Number(document.querySelector('[data-figure="connections"]')?.getAttribute('data-points') ?? 0) > n, before, { timeout: 5000 });
    assert.ok(Number(await connections.locator('.figure__value').textContent()) >= 4, 'the connections figure counts the sockets open');
    assert.equal(await page.locator('.figure').count(), 8);
    assert.ok((await page.locator('[data-figure="messages-out"] path.chart__line').getAttribute('d'))!.length > 20, 'messages out is drawn');
    assert.match((await page.getByTestId('figures-status').textContent()) ?? '', new RegExp(`Node ${t.app.sb.nodeId}`));

    // The channels table shows the shop's channels; the customer's cart is not the admin's to use.
    const channels = page.getByRole('table', { name: 'Channels', exact: true });
    await channels.getByRole('cell', { name: `tenant:${tenant}`, exact: true }).waitFor();
    await channels.getByRole('cell', { name: `cart:${customerId}`, exact: true }).waitFor();
    await page.getByRole('button', { name: `Use tenant:${tenant} for a test publish` }).waitFor();
    assert.equal(await page.getByRole('button', { name: `Use cart:${customerId} for a test publish` }).count(), 0);

    // A test publish from the page reaches the customer's socket, and shows in the channel's history.
    await page.getByLabel('Channel', { exact: true }).fill(`tenant:${tenant}`);
    await page.getByLabel('Message', { exact: true }).fill('Hello from the console test');
    await page.getByRole('button', { name: 'Publish test event' }).click();
    const message = await subscriber.nextMatching((f) => f.op === 'message' && f.event === TEST_EVENT, 5000, 'the test event');
    assert.ok(message.op === 'message');
    assert.equal(message.channel, `tenant:${tenant}`);
    assert.equal((message.data as { message: string }).message, 'Hello from the console test');
    const history = page.getByRole('list', { name: `History of tenant:${tenant}` });
    await history.getByText('Hello from the console test').waitFor();
    await page.locator('.audit__item[data-action="publish"]').getByText('Hello from the console test').waitFor();

    // End the customer's sessions: two clicks, then their socket closes with 4504 and their page goes to sign-in.
    const users = page.getByRole('table', { name: 'Connected users' });
    await users.getByText(account('customer').email).waitFor({ timeout: 10_000 });
    await page.getByRole('button', { name: `End sessions of ${account('customer').name}` }).click();
    await page.getByRole('button', { name: `Sign ${account('customer').name} out everywhere` }).click();
    const closed = await subscriber.closed(5000);
    assert.equal(closed.code, CloseCodes.accountRevoked);
    assert.equal(closed.reason, SIGNED_OUT_REASON);
    await shopper.page.waitForURL(/\/sign-in/, { timeout: 10_000 });
    await shopper.page.getByText('An admin of your shop signed you out').waitFor();

    // The audit log shows both actions, live.
    const ended = page.locator('.audit__item[data-action="end_sessions"]');
    await ended.getByText(account('customer').name).waitFor();
    assert.match((await ended.first().textContent()) ?? '', /ended the sessions of Cora Customer/);
    assert.equal(await page.locator('.audit__item').count(), 2);
    await page.getByText(/was signed out \(\d+ connections? closed\)/).waitFor();

    if (SCREENSHOTS) {
      // Let the rows settle (the users table refreshes every 5 s) and the charts gather a few more seconds.
      await delay(6000);
      await page.evaluate(() => window.scrollTo(0, 0));
      await page.screenshot({ path: join(SCREENSHOTS, 'console.png'), fullPage: true });
    }
    assert.deepEqual(errors, []);
    assert.deepEqual(shopper.errors.filter((e) => !e.includes('401')), []);
    await shopper.context.close();
    await context.close();
  });

  void test('non-admins are told the console is not for them', async () => {
    const { context, page } = await openPage(browser);
    await signIn(page, t.url, 'manager', '/staff');
    await page.goto(`${t.url}/console`);
    await page.getByRole('heading', { name: 'Not available to you' }).waitFor();
    await context.close();
  });
});
