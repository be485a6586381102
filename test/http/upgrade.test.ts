import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { loadConfig } from '../../src/core/config.js';
import { installDefaultChannels } from '../../src/core/defaults.js';
import { Switchboard } from '../../src/core/switchboard.js';
import { startServer, TEST_SECRET, type TestServer } from '../helpers/server.js';

type Outcome = { kind: 'open'; firstFrame: unknown } | { kind: 'refused'; status: number; body: string };

const sockets = new Set<WebSocket>();

/** Opens a WebSocket and reports whether the upgrade was accepted (with the first frame) or refused
 * (with the HTTP status and body). Bounded by a timeout; the socket is closed either way. */
function tryUpgrade(url: string, headers: Record<string, string> = {}): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    sockets.add(ws);
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`no upgrade outcome for ${url} within 3000 ms`));
    }, 3000);
    const done = (outcome: Outcome) => {
      clearTimeout(timer);
      ws.terminate();
      sockets.delete(ws);
      resolve(outcome);
    };
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => done({ kind: 'refused', status: res.statusCode ?? 0, body }));
      res.on('error', () => done({ kind: 'refused', status: res.statusCode ?? 0, body }));
    });
    ws.on('message', (data: WebSocket.RawData) => done({ kind: 'open', firstFrame: JSON.parse(data.toString()) }));
    ws.on('error', (err) => {
      clearTimeout(timer);
      sockets.delete(ws);
      reject(err);
    });
  });
}

function assertRefused(outcome: Outcome, status: number, code: string): void {
  assert.equal(outcome.kind, 'refused', JSON.stringify(outcome));
  if (outcome.kind !== 'refused') return;
  assert.equal(outcome.status, status);
  const body = JSON.parse(outcome.body) as { error: { code: string; message: string } };
  assert.equal(body.error.code, code);
  assert.equal(typeof body.error.message, 'string');
}

function assertWelcomed(outcome: Outcome, user: string): void {
  assert.equal(outcome.kind, 'open', JSON.stringify(outcome));
  if (outcome.kind !== 'open') return;
  assert.deepEqual((outcome.firstFrame as { op: string; user: { id: string } }).op, 'welcome');
  assert.equal((outcome.firstFrame as { user: { id: string } }).user.id, user);
}

after(() => {
  for (const ws of sockets) ws.terminate();
});

void describe('WebSocket upgrade: origin checks (test env)', () => {
  let server: TestServer;
  let token: string;
  before(async () => {
    server = await startServer({ allowedOrigins: ['https://shop.example.com'] });
    token = await server.token('alice');
  });
  after(async () => server.close());

  const wsUrl = () => `${server.wsUrl}?token=${encodeURIComponent(token)}`;

  void test('a disallowed Origin gets 403 origin_not_allowed', async () => {
    for (const origin of ['https://evil.example', 'https://shop.example.com.evil.example', 'http://shop.example.com', 'null', 'file:///etc/passwd']) {
      assertRefused(await tryUpgrade(wsUrl(), { origin }), 403, 'origin_not_allowed');
    }
  });

  void test('the cookie token does not get past a disallowed Origin', async () => {
    const outcome = await tryUpgrade(server.wsUrl, { origin: 'https://evil.example', cookie: `switchboard_token=${token}` });
    assertRefused(outcome, 403, 'origin_not_allowed');
  });

  void test('an origin from allowedOrigins is accepted (case-insensitive host)', async () => {
    assertWelcomed(await tryUpgrade(wsUrl(), { origin: 'https://shop.example.com' }), 'alice');
    assertWelcomed(await tryUpgrade(wsUrl(), { origin: 'https://SHOP.example.com' }), 'alice');
  });

  void test('localhost origins are accepted outside production', async () => {
    for (const origin of ['http://localhost:5173', 'http://127.0.0.1:3000', 'http://[::1]:8080']) {
      assertWelcomed(await tryUpgrade(wsUrl(), { origin }), 'alice');
    }
  });

  void test('no Origin (not a browser) is accepted; the cookie authenticates', async () => {
    assertWelcomed(await tryUpgrade(wsUrl()), 'alice');
    assertWelcomed(await tryUpgrade(server.wsUrl, { cookie: `switchboard_token=${token}` }), 'alice');
  });

  // A failure inside the server was answered 500 with the code `unavailable`, which tells a client
  // the node is down or busy and to retry; the REST API answers its 500s `internal`.
  void test('an upgrade that fails inside the server gets 500 internal', async () => {
    const { tokens } = server.sb;
    const verify = tokens.verify.bind(tokens);
    tokens.verify = () => Promise.reject(new Error('the signature check broke'));
    try {
      assertRefused(await tryUpgrade(wsUrl()), 500, 'internal');
    } finally {
      tokens.verify = verify;
    }
    assertWelcomed(await tryUpgrade(wsUrl()), 'alice');
  });

  void test('an unknown path gets 404 not_found', async () => {
    assertRefused(await tryUpgrade(`ws://127.0.0.1:${server.port}/ws/nope/?token=${token}`), 404, 'not_found');
    assertRefused(await tryUpgrade(`ws://127.0.0.1:${server.port}/socket`), 404, 'not_found');
  });
});

void describe('WebSocket upgrade: origin checks (production env)', () => {
  let sb: Switchboard;
  let port: number;
  let dataDir: string;
  let token: string;
  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'switchboard-origin-prod-'));
    const config = loadConfig({
      SWITCHBOARD_ENV: 'production',
      SWITCHBOARD_JWT_SECRET: TEST_SECRET,
      SWITCHBOARD_ALLOWED_ORIGINS: 'https://shop.example.com, https://admin.example.com',
      SWITCHBOARD_DATA: dataDir,
      LOG_LEVEL: 'silent',
      SWITCHBOARD_SHUTDOWN_GRACE_MS: '500',
    });
    sb = await Switchboard.create({ config });
    installDefaultChannels(sb);
    port = (await sb.listen(0, '127.0.0.1')).port;
    token = await sb.mintToken({ user: 'bob', role: 'customer' });
  });
  after(async () => {
    await sb.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  const wsUrl = () => `ws://127.0.0.1:${port}/ws?token=${encodeURIComponent(token)}`;

  void test('localhost origins not in the list are refused 403', async () => {
    for (const origin of ['http://localhost:5173', 'http://127.0.0.1:3000', 'http://[::1]:8080']) {
      assertRefused(await tryUpgrade(wsUrl(), { origin }), 403, 'origin_not_allowed');
    }
  });

  void test('listed origins and the page’s own host are accepted', async () => {
    assertWelcomed(await tryUpgrade(wsUrl(), { origin: 'https://shop.example.com' }), 'bob');
    assertWelcomed(await tryUpgrade(wsUrl(), { origin: 'https://admin.example.com' }), 'bob');
    assertWelcomed(await tryUpgrade(wsUrl(), { origin: `http://127.0.0.1:${port}` }), 'bob');
    assertRefused(await tryUpgrade(wsUrl(), { origin: 'https://evil.example' }), 403, 'origin_not_allowed');
  });
});
