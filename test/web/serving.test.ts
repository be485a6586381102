import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { contentSecurityPolicy } from '../../src/core/http/web.js';
import { startApp } from '../helpers/app.js';
import { startServer, type TestServer } from '../helpers/server.js';

/** The repository's web/dist: this file runs as dist/test/web/serving.test.js. */
const WEB_DIST = join(import.meta.dirname, '..', '..', '..', 'web', 'dist');
const HTML = { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' };
const INDEX = '<!doctype html><title>app</title><script type="module" src="/assets/app-Ab12Cd34.js"></script><div id="root"></div>';
const SCRIPT = 'console.log("the app");'.repeat(100);

/** A folder laid out like Vite's build: index.html, hashed assets with precompressed copies, a favicon. */
async function fakeBuild(): Promise<string> {
  const parent = await mkdtemp(join(tmpdir(), 'switchboard-web-'));
  const root = join(parent, 'dist');
  await mkdir(join(root, 'assets'), { recursive: true });
  await writeFile(join(root, 'index.html'), INDEX);
  await writeFile(join(root, 'assets', 'app-Ab12Cd34.js'), SCRIPT);
  await writeFile(join(root, 'assets', 'app-Ab12Cd34.js.gz'), gzipSync(SCRIPT));
  await writeFile(join(root, 'assets', 'small-Zz99.css'), 'body{}');
  await writeFile(join(root, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
  // Beside the build, where no path may reach.
  await writeFile(join(parent, 'switchboard-web-secret.txt'), 'TOP-SECRET-9f3a');
  return root;
}

void describe('serving the web app (src/core/http/web.ts)', () => {
  let root: string;
  let node: TestServer;

  before(async () => {
    root = await fakeBuild();
    node = await startServer({ listen: false, web: { root } });
  });
  after(async () => {
    await node?.close();
    if (root) await rm(join(root, '..'), { recursive: true, force: true });
  });

  const get = (url: string, headers: Record<string, string> = {}) => node.sb.http.inject({ method: 'GET', url, headers: { host: 'shop.example.com:8443', ...headers } });

  void test('/ is index.html, revalidated every time (ETag, 304), with the CSP and the security headers', async () => {
    const res = await get('/', HTML);
    assert.equal(res.statusCode, 200);
    assert.equal(res.body, INDEX);
    assert.match(String(res.headers['content-type']), /^text\/html/);
    assert.equal(res.headers['cache-control'], 'no-cache');
    const csp = String(res.headers['content-security-policy']);
    for (const directive of ["default-src 'self'", "script-src 'self'", "style-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"]) assert.ok(csp.includes(directive), `${directive} in ${csp}`);
    assert.match(csp, /connect-src 'self' ws:\/\/shop\.example\.com:8443 wss:\/\/shop\.example\.com:8443(;|$)/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    assert.equal(res.headers['x-frame-options'], 'DENY');
    assert.equal(res.headers['referrer-policy'], 'same-origin');
    const etag = String(res.headers.etag);
    const again = await get('/', { ...HTML, 'if-none-match': etag });
    assert.equal(again.statusCode, 304);
    assert.equal(again.body, '');
  });

  void test('a Host header that is not a host leaves connect-src at \'self\' (nothing of it reaches the policy)', () => {
    assert.match(contentSecurityPolicy('evil.example; script-src *'), /connect-src 'self'; /);
    assert.match(contentSecurityPolicy(undefined), /connect-src 'self'; /);
    assert.match(contentSecurityPolicy('[::1]:8000'), /connect-src 'self' ws:\/\/\[::1\]:8000 wss:\/\/\[::1\]:8000;/);
  });

  void test('hashed assets are immutable for a year; the precompressed copy goes to browsers that take it', async () => {
    const plain = await get('/assets/app-Ab12Cd34.js');
    assert.equal(plain.statusCode, 200);
    assert.equal(plain.body, SCRIPT);
    assert.equal(plain.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.match(String(plain.headers['content-type']), /^text\/javascript/);
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.equal(plain.headers.vary, 'Accept-Encoding');

    const gz = await get('/assets/app-Ab12Cd34.js', { 'accept-encoding': 'gzip, deflate, br' });
    assert.equal(gz.headers['content-encoding'], 'gzip', 'no .br in this build: the .gz');
    assert.equal(Number(gz.headers['content-length']), gzipSync(SCRIPT).length);
    assert.equal(gz.headers['cache-control'], 'public, max-age=31536000, immutable');

    const refused = await get('/assets/app-Ab12Cd34.js', { 'accept-encoding': 'gzip;q=0' });
    assert.equal(refused.headers['content-encoding'], undefined, 'q=0 refuses gzip');
    assert.equal((await get('/assets/small-Zz99.css', { 'accept-encoding': 'gzip' })).headers['content-encoding'], undefined, 'no .gz of it: sent as it is');
  });

  void test('a missing asset is a 404, never index.html (a stale page would run HTML as a script)', async () => {
    const res = await get('/assets/app-OLDHASH.js', HTML);
    assert.equal(res.statusCode, 404);
    assert.match(String(res.headers['content-type']), /application\/json/);
  });

  void test('no path leaves the build folder', async () => {
    for (const url of ['/assets/..%2F..%2Fswitchboard-web-secret.txt', '/assets/%2e%2e/%2e%2e/switchboard-web-secret.txt', '/assets/../../switchboard-web-secret.txt', '/..%2Fswitchboard-web-secret.txt', '/%2e%2e/switchboard-web-secret.txt', '/assets/.hidden', '/assets/']) {
      const res = await get(url);
      assert.notEqual(res.statusCode, 200, url);
      assert.doesNotMatch(res.body, /TOP-SECRET/, url);
    }
  });

  void test('page paths a browser opens get the app (SPA fallback); the node\'s own paths keep their JSON 404', async () => {
    for (const url of ['/shop', '/orders/ord_123', '/no/such/page?x=1']) {
      const res = await get(url, HTML);
      assert.equal(res.statusCode, 200, url);
      assert.equal(res.body, INDEX, url);
      assert.equal(res.headers['cache-control'], 'no-cache', url);
      assert.ok(res.headers['content-security-policy'], url);
    }
    for (const url of ['/api/nope', '/api', '/ws/nope', '/healthz/x', '/metrics/x', '/readyz/x']) {
      const res = await get(url, HTML);
      assert.equal(res.statusCode, 404, url);
      assert.equal(JSON.parse(res.body).error.code, 'not_found', url);
    }
    // Not a page load: a script's fetch of an unknown path learns it is unknown.
    assert.equal((await get('/shop')).statusCode, 404);
    assert.equal((await node.sb.http.inject({ method: 'POST', url: '/shop', headers: HTML })).statusCode, 404);
    const head = await node.sb.http.inject({ method: 'HEAD', url: '/shop', headers: HTML });
    assert.equal(head.statusCode, 200);
    assert.equal(head.body, '');
  });

  void test('top-level files of the build (favicon) are served, cached for an hour', async () => {
    const res = await get('/favicon.svg');
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-type'], 'image/svg+xml');
    assert.equal(res.headers['cache-control'], 'public, max-age=3600');
  });

  void test('the API is untouched: health, JSON 404s, no web headers on API answers', async () => {
    const health = await get('/healthz');
    assert.equal(health.statusCode, 200);
    assert.equal(health.headers['content-security-policy'], undefined);
  });
});

void describe('a node whose web app is not built', () => {
  let node: TestServer;
  before(async () => {
    node = await startServer({ listen: false, web: { root: join(tmpdir(), 'switchboard-no-such-build') } });
  });
  after(async () => node?.close());

  void test('/ and page paths answer a short page saying how to build it', async () => {
    for (const url of ['/', '/shop']) {
      const res = await node.sb.http.inject({ method: 'GET', url, headers: HTML });
      assert.equal(res.statusCode, 503, url);
      assert.match(String(res.headers['content-type']), /^text\/html/);
      assert.match(res.body, /npm run build:web/);
      assert.equal(res.headers['cache-control'], 'no-store');
    }
    assert.equal((await node.sb.http.inject({ method: 'GET', url: '/assets/app.js' })).statusCode, 404);
  });
});

void describe('a node without the web option (API only)', () => {
  let node: TestServer;
  before(async () => {
    node = await startServer({ listen: false });
  });
  after(async () => node?.close());

  void test('/ is the JSON 404, even for a browser', async () => {
    const res = await node.sb.http.inject({ method: 'GET', url: '/', headers: HTML });
    assert.equal(res.statusCode, 404);
    assert.equal(JSON.parse(res.body).error.code, 'not_found');
  });
});

void describe('GET /api/dev/demo-accounts', () => {
  void test('lists the demo accounts with their passwords while demo data is on outside production, and does not exist otherwise', async () => {
    const dev = await startApp({ engine: 'sqlite' });
    try {
      const res = await dev.request<{ items: { email: string; password: string; role: string; name: string }[] }>('GET', '/api/dev/demo-accounts');
      assert.equal(res.status, 200);
      assert.deepEqual(res.body.items.map((a) => a.role), ['customer', 'worker', 'manager', 'admin']);
      for (const account of res.body.items) assert.equal(await dev.login(account.email, account.password).then(() => 'signed in'), 'signed in');
    } finally {
      await dev.close();
    }
    for (const options of [{ demo: false }, { demo: true, env: 'production' as const }]) {
      const other = await startApp({ engine: 'sqlite', ...options });
      try {
        assert.equal((await other.request('GET', '/api/dev/demo-accounts')).status, 404, JSON.stringify(options));
      } finally {
        await other.close();
      }
    }
  });
});

void describe('the built app (web/dist)', { skip: existsSync(join(WEB_DIST, 'index.html')) ? false : 'web/dist is not built (npm run build:web; npm test builds it)' }, () => {
  void test('stays within its budget: 150 KB of JavaScript and CSS, gzipped, all chunks together', async () => {
    let total = 0;
    for (const name of await readdir(join(WEB_DIST, 'assets'))) {
      if (/\.(js|css)$/.test(name)) total += gzipSync(await readFile(join(WEB_DIST, 'assets', name))).length;
    }
    assert.ok(total > 0);
    assert.ok(total <= 150 * 1024, `${(total / 1024).toFixed(1)} KB gzipped`);
  });

  void test('index.html has no inline script or style (the CSP would block it)', async () => {
    const html = await readFile(join(WEB_DIST, 'index.html'), 'utf8');
    for (const tag of html.match(/<script\b[^>]*>/g) ?? []) assert.match(tag, /\bsrc="\/assets\/[^"]+\.js"/, tag);
    assert.doesNotMatch(html, /<style\b|\bstyle="|\bon[a-z]+="/i);
  });
});
