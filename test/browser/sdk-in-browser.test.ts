import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, normalize } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { CloseCodes } from '@switchboard/client/protocol';
import { launchChromium, noBrowser, waitInPage } from '../helpers/chromium.js';
import { startServer, type TestServer } from '../helpers/server.js';

const SDK_DIST = join(import.meta.dirname, '..', '..', '..', 'packages', 'client', 'dist');

/** The page imports the SDK's compiled ES modules as they are published: no bundler, no Node APIs. */
const PAGE = `<!doctype html><meta charset="utf-8"><title>sdk</title>
<script type="module">
import { SwitchboardClient } from '/sdk/index.js';
const params = new URLSearchParams(location.search);
const client = new SwitchboardClient({ url: params.get('ws'), token: params.get('token'), backoff: { minMs: 50, maxMs: 200 } });
window.received = [];
window.states = [];
client.on('state', (s) => window.states.push(s.state));
const room = client.subscribe('room:browser');
room.on('message', (event, data, publication) => window.received.push({ event, data, offset: publication.offset }));
await client.connect();
await room.ready;
window.ready = true;
</script>`;

/** Serves the page and the SDK's dist folder on loopback, from another origin than the node. */
async function startStatic(): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/') {
      res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
      return;
    }
    const file = normalize(join(SDK_DIST, path.replace(/^\/sdk\//, '')));
    if (!path.startsWith('/sdk/') || !file.startsWith(SDK_DIST)) {
      res.writeHead(404).end();
      return;
    }
    readFile(file).then(
      (body) => res.writeHead(200, { 'content-type': 'text/javascript' }).end(body),
      () => res.writeHead(404).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

void describe('the SDK in a real browser (Debian chromium)', { skip: noBrowser }, () => {
  let node: TestServer;
  let site: { server: Server; url: string };
  let browser: Browser;

  before(async () => {
    node = await startServer();
    site = await startStatic();
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await new Promise((resolve) => site?.server.close(resolve));
    await node?.close();
  });

  void test('connects, receives, and after the server drops it reconnects and recovers what it missed, in order, once', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    const query = new URLSearchParams({ ws: node.wsUrl, token: await node.token('browser-user') });
    await page.goto(`${site.url}/?${query.toString()}`);
    await waitInPage(page, 'window.ready === true', 'the page to connect and subscribe');

    for (let i = 1; i <= 5; i++) await node.sb.publish('room:browser', 'tick', { i });
    await waitInPage(page, 'window.received.length === 5', 'the first 5 messages');

    // Drop every connection as a restarting node would, then publish while the page is away.
    for (const session of [...node.sb.gateway.sessions]) node.sb.gateway.close(session, CloseCodes.shutdown, 'test restart');
    for (let i = 6; i <= 10; i++) await node.sb.publish('room:browser', 'tick', { i });
    await waitInPage(page, 'window.received.length >= 10', 'the 5 missed messages after the reconnect');
    await new Promise((resolve) => setTimeout(resolve, 200)); // room for a duplicate to show up

    const received = (await page.evaluate('window.received')) as { event: string; data: { i: number }; offset: number }[];
    assert.deepEqual(received.map((m) => m.offset), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.deepEqual(received.map((m) => m.data.i), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const states = (await page.evaluate('window.states')) as string[];
    assert.ok(states.indexOf('disconnected') > states.indexOf('connected'), `states: ${states.join(' > ')}`);
    assert.equal(states.at(-1), 'connected');
    assert.deepEqual(errors, []);
    await page.close();
  });
});
