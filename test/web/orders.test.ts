import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { DEMO_ACCOUNTS } from '../../src/modules/accounts/seed.js';
import type { Role } from '../../src/modules/accounts/schema.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { buy, expectStatus, product, whoAmI, type OrderView } from '../outbox/support.js';

/**
 * The order pages (web/src/modules/orders) in Debian's chromium against a real node: the staff
 * board, the worker's board, the customer's orders and each order's page, several people at once,
 * each in a browser context of their own. SWITCHBOARD_SCREENSHOTS=docs/screenshots saves each page.
 */
const CHROMIUM = '/usr/bin/chromium';
const WEB_DIST = join(import.meta.dirname, '..', '..', '..', 'web', 'dist');
const SCREENSHOTS = process.env.SWITCHBOARD_SCREENSHOTS;
const skip = !existsSync(CHROMIUM)
  ? `no browser at ${CHROMIUM} (apt-get install chromium; .ci/run installs it)`
  : !existsSync(join(WEB_DIST, 'index.html'))
    ? 'web/dist is not built (npm run build:web; npm test builds it before the suites)'
    : false;

const LANDING: Record<Role, string> = { customer: '/shop', worker: '/orders', manager: '/staff', admin: '/staff' };
const ROLE_LABEL: Record<Role, string> = { customer: 'Customer', worker: 'Worker', manager: 'Manager', admin: 'Admin' };

interface Person {
  context: BrowserContext;
  page: Page;
  /** What the console and the page said that was an error. */
  errors: string[];
  role: Role;
}

void describe('order pages in a real browser (Debian chromium)', { skip }, () => {
  let t: TestApp;
  let browser: Browser;
  const people: Person[] = [];
  const tokens = {} as Record<Role, string>;
  let workerId: string;
  let filters: string;

  before(async () => {
    t = await startApp({ engine: 'sqlite', web: { root: WEB_DIST } });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run', '--disable-component-update', '--disable-sync'],
    });
    for (const role of ['customer', 'worker', 'manager', 'admin'] as const) tokens[role] = await t.loginAs(role);
    workerId = (await whoAmI(t, tokens.worker)).id;
    filters = (await product(t, tokens.customer, 'FLT-100')).id;
    if (SCREENSHOTS) await mkdir(SCREENSHOTS, { recursive: true });
  });
  // Every page each person opened said nothing in red: no page error, no console error.
  afterEach(async () => {
    const open = people.splice(0);
    for (const person of open) await person.context.close();
    for (const person of open) assert.deepEqual(person.errors, [], `console errors as ${person.role}`);
  });
  after(async () => {
    await browser?.close();
    await t?.close();
  });

  /** A person signed in by clicking their demo account, on `path` once the socket is live. */
  async function signedIn(role: Role, path: string, viewport = { width: 1100, height: 760 }): Promise<Person> {
    const context = await browser.newContext({ viewport });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(`console: ${message.text()}`);
    });
    const person = { context, page, errors, role };
    people.push(person);
    const account = DEMO_ACCOUNTS.find((a) => a.role === role)!;
    await page.goto(`${t.url}/sign-in`);
    await page.getByRole('button', { name: `Sign in as ${account.name}, ${ROLE_LABEL[role]}` }).click();
    await page.waitForURL(`${t.url}${LANDING[role]}`);
    if (path !== LANDING[role]) await page.goto(`${t.url}${path}`);
    await live(page);
    return person;
  }

  async function live(page: Page, timeout = 15_000): Promise<void> {
    await page.locator('.banner[data-status="live"]').waitFor({ timeout });
  }

  /** A new paid order of the demo customer (checkout + sandbox approval), optionally moved on by staff. */
  async function paidOrder(quantity = 1): Promise<OrderView> {
    return buy(t, tokens.customer, [{ productId: filters, quantity }]);
  }

  async function change(order: { id: string }, role: Role, body: Record<string, unknown>): Promise<OrderView> {
    return expectStatus(await t.request<OrderView>('PATCH', `/api/orders/${order.id}`, { token: tokens[role], body }), 200, `PATCH ${JSON.stringify(body)} as ${role}`);
  }

  /** Takes out the console errors a test caused on purpose (Chromium logs every 4xx answer). */
  function expected(person: Person, pattern: RegExp, count: number): void {
    const matching = person.errors.filter((e) => pattern.test(e));
    assert.equal(matching.length, count, `expected ${count} × ${pattern}: ${JSON.stringify(person.errors)}`);
    person.errors.splice(0, person.errors.length, ...person.errors.filter((e) => !pattern.test(e)));
  }

  const card = (page: Page, number: number) => page.locator(`li.order-card[data-order="${number}"]`);
  const toast = (page: Page, text: string | RegExp) => page.locator('.toast').filter({ hasText: text });
  const shot = async (page: Page, name: string, fullPage = false): Promise<void> => {
    if (SCREENSHOTS) await page.screenshot({ path: join(SCREENSHOTS, name), fullPage });
  };

  void test('the manager assigns a paid order on the staff board; the worker\'s board and the customer\'s orders show it at once', async () => {
    const order = await paidOrder();
    const worker = await signedIn('worker', '/orders');
    const customer = await signedIn('customer', '/orders');
    const manager = await signedIn('manager', '/staff');
    await card(customer.page, order.number).waitFor();
    assert.equal(await card(worker.page, order.number).count(), 0, 'not on the worker\'s board before it is assigned');

    // "Needs a worker" lists the paid orders; the new one is there.
    await manager.page.getByRole('link', { name: /^Needs a worker/ }).click();
    await manager.page.waitForURL(`${t.url}/staff?status=paid`);
    const row = card(manager.page, order.number);
    await row.getByLabel('Worker').selectOption({ label: 'Wes Worker' });
    await shot(manager.page, 'staff-board.png', true);
    await row.getByRole('button', { name: 'Assign' }).click();
    await toast(manager.page, `Order #${order.number}: assigned to Wes Worker.`).waitFor();
    // Assigned orders leave the "Needs a worker" filter.
    await row.waitFor({ state: 'detached' });

    const mine = card(worker.page, order.number);
    await mine.waitFor();
    assert.equal(await mine.locator('.status').textContent(), 'Assigned');
    assert.ok(await worker.page.getByRole('region', { name: /^To do/ }).locator(`li[data-order="${order.number}"]`).isVisible(), 'under To do');
    await toast(worker.page, `Mona Manager assigned order #${order.number} to you: ${order.title}.`).waitFor();
    await mine.getByRole('button', { name: 'Start work' }).waitFor();
    await shot(worker.page, 'worker-board.png', true);

    const theirs = card(customer.page, order.number);
    await theirs.locator('.status', { hasText: 'Assigned' }).waitFor();
    await theirs.getByText('Wes Worker will work on it').waitFor();
    assert.equal(await theirs.locator('[data-changed] .status').count(), 1, 'the status is highlighted');
    await toast(customer.page, `Order #${order.number}: Mona Manager assigned Wes Worker.`).waitFor();
    await shot(customer.page, 'customer-orders.png', true);
  });

  void test('the worker starts work and sets 40%; the customer\'s order page highlights the progress and toasts who did it', async () => {
    const order = await paidOrder(2);
    await change(order, 'manager', { workerId });
    const customer = await signedIn('customer', `/orders/${order.id}`);
    await customer.page.getByRole('heading', { name: `Order #${order.number}`, level: 1 }).waitFor();
    const progress = customer.page.locator('[data-field="progress"]');
    assert.match((await progress.textContent()) ?? '', /Not started yet/);

    const worker = await signedIn('worker', '/orders');
    const mine = card(worker.page, order.number);
    await mine.getByRole('button', { name: 'Start work' }).click();
    await toast(worker.page, `Order #${order.number}: now in progress.`).waitFor();
    await toast(customer.page, 'Wes Worker started work.').waitFor();

    await mine.getByLabel(`Progress of order #${order.number}, in percent`).fill('40');
    await mine.getByRole('button', { name: 'Save progress' }).click();
    await toast(worker.page, `Order #${order.number}: progress saved at 40%.`).waitFor();

    await toast(customer.page, 'Wes Worker set the progress to 40%.').waitFor();
    await progress.locator('.flash [role="progressbar"][aria-valuenow="40"]').waitFor();
    assert.match((await progress.textContent()) ?? '', /40%/);
    await shot(customer.page, 'order-page-customer.png', true);
    // The history has every change, newest first, with who made it.
    const history = customer.page.getByRole('list', { name: `History of order #${order.number}` }).locator('.timeline__what');
    await history.first().filter({ hasText: 'Wes Worker set the progress to 40%.' }).waitFor();
    assert.deepEqual(await history.allTextContents(), ['Wes Worker set the progress to 40%.', 'Wes Worker started work.', 'Mona Manager assigned Wes Worker.', 'Order placed and paid.']);
    await shot(worker.page, 'worker-board-in-progress.png', true);
  });

  void test('a tab that went offline while the order changed catches up when it is back: the changes highlighted, toasted and in the history', async () => {
    const order = await paidOrder();
    await change(order, 'manager', { workerId });
    await change(order, 'worker', { status: 'in_progress' });
    const customer = await signedIn('customer', `/orders/${order.id}`);
    const { page, context } = customer;
    const price = page.locator('[data-field="price"]');
    await price.getByText('$4.50').waitFor();

    await context.setOffline(true);
    await page.locator('.banner[data-status="offline"]').waitFor({ timeout: 5_000 });
    await change(order, 'manager', { priceMinor: 1450 });
    await change(order, 'worker', { progress: 70 });
    // Nothing reaches an offline tab.
    await new Promise((resolve) => setTimeout(resolve, 700));
    assert.match((await price.textContent()) ?? '', /\$4\.50/, 'still the old price while offline');

    await context.setOffline(false);
    await live(page, 20_000);
    await price.locator('.flash', { hasText: '$14.50' }).waitFor();
    await page.locator('[data-field="progress"] [role="progressbar"][aria-valuenow="70"]').waitFor();
    await toast(page, 'Mona Manager changed the price from $4.50 to $14.50.').waitFor();
    await toast(page, 'Wes Worker set the progress to 70%.').waitFor();
    const history = page.getByRole('list', { name: `History of order #${order.number}` }).locator('.timeline__what');
    await history.first().filter({ hasText: 'Wes Worker set the progress to 70%.' }).waitFor();
    assert.equal(await history.filter({ hasText: 'Mona Manager changed the price from $4.50 to $14.50.' }).count(), 1);
  });

  void test('each role is offered only the moves it may make, on the order page and on its board', async () => {
    const paid = await paidOrder();
    const assigned = await paidOrder();
    await change(assigned, 'manager', { workerId });
    const working = await paidOrder();
    await change(working, 'manager', { workerId });
    await change(working, 'worker', { status: 'in_progress' });
    const done = await paidOrder();
    await change(done, 'manager', { workerId });
    await change(done, 'worker', { status: 'in_progress' });
    await change(done, 'worker', { status: 'completed' });

    // What each role may press, by the order's status (docs/api.md, "Order lifecycle and roles").
    const offered: Record<Role, Partial<Record<string, string[]>>> = {
      customer: { paid: ['Cancel order'], assigned: [], in_progress: [], completed: [] },
      worker: { assigned: ['Start work'], in_progress: ['Save progress', 'Mark completed'], completed: [] },
      manager: { paid: ['Assign', 'Save price', 'Cancel order'], assigned: ['Reassign', 'Save price', 'Mark in progress', 'Take the worker off', 'Cancel order'], in_progress: ['Reassign', 'Save price', 'Save progress', 'Mark completed', 'Cancel order'], completed: [] },
      admin: { paid: ['Assign', 'Save price', 'Cancel order'], completed: [] },
    };
    const orders: Record<string, OrderView> = { paid, assigned, in_progress: working, completed: done };
    for (const role of ['customer', 'worker', 'manager', 'admin'] as const) {
      const person = await signedIn(role, LANDING[role]);
      for (const [status, buttons] of Object.entries(offered[role])) {
        const order = orders[status]!;
        await person.page.goto(`${t.url}/orders/${order.id}`);
        const actions = person.page.getByRole('region', { name: 'What you can do' });
        await actions.waitFor();
        await person.page.locator('.status', { hasText: /./ }).first().waitFor();
        assert.deepEqual(await actions.getByRole('button').allTextContents(), buttons, `${role} on a ${status} order`);
        if (role === 'manager' && status === 'assigned') await shot(person.page, 'order-page-manager.png', true);
        if (role === 'worker' && status === 'in_progress') await shot(person.page, 'order-page-worker.png', true);
      }
      // The boards offer the same: the customer's list has no buttons; the worker's cards the worker's moves.
      await person.page.goto(`${t.url}${role === 'customer' || role === 'worker' ? '/orders' : '/staff'}`);
      await live(person.page);
      if (role === 'customer') {
        await card(person.page, paid.number).waitFor();
        assert.equal(await person.page.locator('main').getByRole('button').count(), 0, 'the customer\'s list has no buttons');
      }
      if (role === 'worker') {
        await card(person.page, done.number).waitFor();
        assert.deepEqual(await card(person.page, assigned.number).getByRole('button').allTextContents(), ['Start work']);
        assert.deepEqual(await card(person.page, working.number).getByRole('button').allTextContents(), ['Save progress', 'Mark completed']);
        assert.deepEqual(await card(person.page, done.number).getByRole('button').allTextContents(), []);
        assert.equal(await card(person.page, paid.number).count(), 0, 'an order not assigned to the worker is not on their board');
      }
      if (role === 'manager') {
        await card(person.page, assigned.number).waitFor();
        assert.deepEqual(await card(person.page, assigned.number).getByRole('button').allTextContents(), ['Reassign', 'Save price', 'Mark in progress', 'Take the worker off', 'Cancel order']);
      }
      // A worker cannot open an order that is not theirs: the page says so in words.
      if (role === 'worker') {
        await person.page.goto(`${t.url}/orders/${paid.id}`);
        await person.page.getByRole('alert').filter({ hasText: 'There is no such order, or it is not yours to see.' }).waitFor();
        // Chromium logs the API's expected 404s (the order, its history) as console errors; nothing else may be there.
        expected(person, /status of 404 \(Not Found\)/, 2);
      }
    }
  });

  void test('the staff board prices in major units, exactly; writes that lost a race are refused in words and the latest is shown', async () => {
    const order = await paidOrder();
    const manager = await signedIn('manager', '/staff?status=all');
    const row = card(manager.page, order.number);
    const input = row.getByLabel('Price (USD)');
    await input.waitFor();
    assert.equal(await input.inputValue(), '4.50');

    await input.fill('12.345');
    await row.getByText('Use at most 2 decimals, e.g. 45.50.').waitFor();
    assert.ok(await row.getByRole('button', { name: 'Save price' }).isDisabled());
    // 0.29 is 29 cents (as a float, 0.29 * 100 is 28.999999999999996).
    await input.fill('0.29');
    await row.getByText('Will be $0.29').waitFor();
    await row.getByRole('button', { name: 'Save price' }).click();
    await toast(manager.page, `Order #${order.number}: price set to $0.29.`).waitFor();
    assert.equal(expectStatus(await t.request<OrderView>('GET', `/api/orders/${order.id}`, { token: tokens.manager }), 200).priceMinor, 29);

    await input.fill('1,234.5');
    await row.getByText('Will be $1,234.50').waitFor();
    // Someone else changes the order between the page's read and its write: the write carries the
    // version the page showed, so it is refused rather than overwriting their change.
    await manager.page.route(`**/api/orders/${order.id}`, async (route) => {
      if (route.request().method() === 'PATCH') await change(order, 'admin', { priceMinor: 999 });
      await route.continue();
    });
    await row.getByRole('button', { name: 'Save price' }).click();
    await row.getByRole('alert').filter({ hasText: `Someone else changed Order #${order.number} a moment ago, so this change was not saved.` }).waitFor();
    await manager.page.unroute(`**/api/orders/${order.id}`);
    // The latest is shown; the admin's change toasted.
    await row.locator('.order-card__price', { hasText: '$9.99' }).waitFor();
    await toast(manager.page, `Order #${order.number}: Ada Admin changed the price from $0.29 to $9.99.`).waitFor();
    assert.equal(expectStatus(await t.request<OrderView>('GET', `/api/orders/${order.id}`, { token: tokens.manager }), 200).priceMinor, 999);

    // A move the order no longer allows (the admin cancelled it meanwhile) is refused in words.
    await manager.page.route(`**/api/orders/${order.id}`, async (route) => {
      if (route.request().method() === 'PATCH') await change(order, 'admin', { status: 'cancelled' });
      await route.continue();
    });
    await row.getByLabel('Worker').selectOption({ label: 'Wes Worker' });
    await row.getByRole('button', { name: 'Assign' }).click();
    await row.getByRole('alert').filter({ hasText: 'Someone else changed' }).waitFor();
    await row.locator('.status', { hasText: 'Cancelled' }).waitFor();
    assert.deepEqual(await row.getByRole('button').allTextContents(), [], 'nothing to press on a cancelled order');
    // Chromium logs each refused request as a console error: the two 409s, and nothing else.
    expected(manager, /status of 409 \(Conflict\)/, 2);
  });

  void test('a customer cancels a paid order after confirming; the staff board hears it', async () => {
    const order = await paidOrder();
    const manager = await signedIn('manager', '/staff');
    const customer = await signedIn('customer', `/orders/${order.id}`);
    const actions = customer.page.getByRole('region', { name: 'What you can do' });
    await actions.getByRole('button', { name: 'Cancel order' }).click();
    await actions.getByRole('button', { name: 'Keep it' }).click();
    await actions.getByRole('button', { name: 'Cancel order' }).click();
    await actions.getByRole('button', { name: `Yes, cancel order #${order.number}` }).click();
    await customer.page.locator('[data-field="status"] .status', { hasText: 'Cancelled' }).waitFor();
    await actions.getByText('Nothing: this order is cancelled.').waitFor();
    await toast(manager.page, `Order #${order.number}: Cora Customer cancelled it.`).waitFor();
    // The board's default filter lists open orders: the cancelled one leaves it, and is under "Cancelled".
    await card(manager.page, order.number).waitFor({ state: 'detached' });
    await manager.page.getByRole('link', { name: /^Cancelled \d+$/ }).click();
    await card(manager.page, order.number).locator('.status', { hasText: 'Cancelled' }).waitFor();
  });

  void test('the boards on a phone-sized screen', { skip: SCREENSHOTS ? false : 'screenshots only (SWITCHBOARD_SCREENSHOTS)' }, async () => {
    const phone = { width: 390, height: 800 };
    const worker = await signedIn('worker', '/orders', phone);
    await worker.page.locator('li.order-card').first().waitFor();
    await shot(worker.page, 'worker-board-phone.png', true);
    const manager = await signedIn('manager', '/staff', phone);
    await manager.page.locator('li.order-card').first().waitFor();
    await shot(manager.page, 'staff-board-phone.png');
  });
});
