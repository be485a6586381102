import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { TokenService } from '../../src/core/auth/tokens.js';
import { resolveCaps, FD_RESERVE } from '../../src/core/realtime/admission.js';
import { TrustedProxies } from '../../src/core/http/client-address.js';
import { ConnectionRefused, TestClient } from '../../src/core/testing/index.js';
import { CLI, listeningUrl } from '../helpers/cli.js';
import { startServer, TEST_SECRET, type TestServer } from '../helpers/server.js';
import { delay, waitFor, WsTestClient, withToken } from '../helpers/ws-client.js';

/** A TCP connection from `localAddress` (any of 127.0.0.0/8 works on Linux) that sends nothing. */
function idleSocket(port: number, localAddress: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress }, () => resolve(socket));
    socket.on('error', () => undefined); // a refused or cut socket is what some tests expect
    socket.once('close', () => reject(new Error('closed before connecting')));
  });
}

function closedWithin(socket: Socket, ms: number): Promise<number | null> {
  if (socket.destroyed || socket.readableEnded) return Promise.resolve(0);
  const started = Date.now();
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(Date.now() - started);
    });
  });
}

async function healthz(url: string, localAddress?: string): Promise<number> {
  // fetch cannot choose its local address; a raw request can.
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ port: Number(port), host: '127.0.0.1', ...(localAddress ? { localAddress } : {}) }, () => socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
    let text = '';
    socket.setEncoding('utf8').on('data', (d: string) => (text += d));
    socket.on('error', reject);
    socket.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0)));
    setTimeout(() => socket.destroy(new Error('healthz did not answer within 3 s')), 3000).unref();
  });
}

void test('caps from the file limit keep a reserve; settings win', () => {
  assert.deepEqual(resolveCaps({ maxConnections: 0, maxPending: 0 }, 512), { connections: Math.floor((512 - FD_RESERVE) * 0.8), pending: Math.floor((512 - FD_RESERVE) * 0.2) });
  assert.deepEqual(resolveCaps({ maxConnections: 7, maxPending: 3 }, 512), { connections: 7, pending: 3 });
  assert.deepEqual(resolveCaps({ maxConnections: 0, maxPending: 0 }, null), { connections: 100_000, pending: 10_000 });
});

void test('X-Forwarded-For is believed only from a trusted proxy, read from the right', () => {
  const none = new TrustedProxies([]);
  assert.equal(none.clientAddress('10.0.0.5', '1.2.3.4'), '10.0.0.5');
  const proxies = new TrustedProxies(['10.0.0.0/8', 'loopback']);
  assert.equal(proxies.clientAddress('10.0.0.5', '1.2.3.4'), '1.2.3.4');
  assert.equal(proxies.clientAddress('::ffff:10.0.0.5', 'forged, 1.2.3.4, 10.0.0.9'), '1.2.3.4', 'the nearest untrusted hop; what it was told is not believed');
  assert.equal(proxies.clientAddress('8.8.8.8', '1.2.3.4'), '8.8.8.8', 'a stranger cannot choose its address');
  assert.equal(proxies.clientAddress('127.0.0.1', 'not-an-address'), '127.0.0.1');
  assert.equal(proxies.clientAddress('127.0.0.1', undefined), '127.0.0.1');
});

/** Defect 4 of the hardening issue: no per-address or node cap, idle sockets held ~68 s. */
void describe('connection caps', () => {
  let server: TestServer;
  let sockets: Socket[] = [];
  before(async () => {
    server = await startServer({ limits: { maxConnectionsPerAddress: 3, maxConnections: 6, maxPendingPerAddress: 4, maxPending: 8, requestTimeoutMs: 400 } });
  });
  afterEach(async () => {
    for (const s of sockets) s.destroy();
    sockets = [];
    await WsTestClient.closeAll();
    await waitFor(() => server.sb.gateway.sessions.size === 0, 2000, 'the test\'s connections to go');
  });
  after(async () => server.close());

  void test('WebSockets per client address: over the cap the upgrade is refused with 429, before the token is checked', async () => {
    for (let i = 0; i < 3; i++) await WsTestClient.open(withToken(server.wsUrl, await server.token(`a${i}`)));
    const refused = await WsTestClient.refused(withToken(server.wsUrl, 'not-even-a-token'));
    assert.equal(refused.status, 429);
    assert.match(refused.body, /too_many_connections/);
  });

  void test('the node cap answers 503; X-Forwarded-For from an untrusted peer changes nothing', async () => {
    // Without trusted proxies every connection here is 127.0.0.1: the per-address cap comes first.
    const forged = { headers: { 'X-Forwarded-For': '203.0.113.9' } };
    for (let i = 0; i < 3; i++) await WsTestClient.open(withToken(server.wsUrl, await server.token(`b${i}`)), forged);
    assert.equal((await WsTestClient.refused(server.wsUrl, { headers: { 'X-Forwarded-For': '203.0.113.10' } })).status, 429);
  });

  void test('a socket that never sends a request is dropped after the request timeout; one address holds at most its share', async () => {
    for (let i = 0; i < 4; i++) sockets.push(await idleSocket(server.port, '127.0.0.3'));
    // The fifth from the same address is cut at once.
    const fifth = await idleSocket(server.port, '127.0.0.3').catch(() => null);
    if (fifth) sockets.push(fifth);
    if (fifth) assert.notEqual(await closedWithin(fifth, 300), null, 'over the per-address share: cut at once');
    const times = await Promise.all(sockets.slice(0, 4).map((s) => closedWithin(s, 3000)));
    for (const ms of times) assert.ok(ms !== null && ms < 2500, `idle sockets dropped after ~400 ms, not ~68 s: ${JSON.stringify(times)}`);
  });

  void test('at the node cap on sockets in their request, the oldest makes room: health checks still answer', async () => {
    for (let i = 0; i < 8; i++) sockets.push(await idleSocket(server.port, `127.0.1.${i + 1}`));
    assert.equal(await healthz(server.url, '127.0.2.1'), 200);
    assert.ok(server.sb.admission.pendingSockets <= 8);
  });
});

void describe('with trusted proxies', () => {
  void test('behind a trusted proxy each forwarded client has its own share, and the node cap still holds', async () => {
    const proxied = await startServer({ limits: { maxConnectionsPerAddress: 2, maxConnections: 4 }, trustedProxies: ['loopback'] });
    try {
      const open = async (client: string, user: string) => WsTestClient.open(withToken(proxied.wsUrl, await proxied.token(user)), { headers: { 'X-Forwarded-For': client } });
      await open('198.51.100.1', 'p1');
      await open('198.51.100.1', 'p2');
      assert.equal((await WsTestClient.refused(withToken(proxied.wsUrl, await proxied.token('p3')), { headers: { 'X-Forwarded-For': '198.51.100.1' } })).status, 429);
      await open('198.51.100.2', 'p4');
      await open('198.51.100.3', 'p5');
      assert.equal((await WsTestClient.refused(withToken(proxied.wsUrl, await proxied.token('p6')), { headers: { 'X-Forwarded-For': '198.51.100.4' } })).status, 503);
    } finally {
      await WsTestClient.closeAll();
      await proxied.close();
    }
  });
});

/**
 * The node at its file limit: a process with 512 files open at most (the attack report's node) takes WebSockets until its cap
 * (leaving the reserve) and sheds idle sockets, and /healthz, /readyz and /metrics still answer.
 */
void describe('a node with a small file limit', () => {
  let child: ChildProcess | null = null;
  let dataDir = '';
  let url = '';
  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'switchboard-fd-'));
    const env = { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', SWITCHBOARD_ENV: 'test', LOG_LEVEL: 'info', SWITCHBOARD_DATA: dataDir, SWITCHBOARD_JWT_SECRET: TEST_SECRET, SWITCHBOARD_DEMO_DATA: 'false' };
    child = spawn('bash', ['-c', `ulimit -n 512 && exec "${process.execPath}" "${CLI}" serve`], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr!.resume();
    await waitFor(() => listeningUrl(stdout) !== null || child?.exitCode !== null, 20_000, 'the node to listen');
    url = listeningUrl(stdout) ?? assert.fail(`the node did not start: ${stdout}`);
  });
  after(async () => {
    await WsTestClient.closeAll();
    if (child?.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  });

  void test('full of WebSockets and idle sockets, it refuses more with 503 and health, readiness and metrics answer', async () => {
    const tokens = new TokenService(TEST_SECRET);
    const wsUrl = `${url.replace('http', 'ws')}/ws`;
    const open: WsTestClient[] = [];
    let refusedWith = 0;
    for (let i = 0; i < 600 && refusedWith === 0; i++) {
      try {
        open.push(await WsTestClient.open(withToken(wsUrl, await tokens.mint({ user: `fd-${i}`, role: 'customer' }))));
      } catch (err) {
        refusedWith = (err as { status?: number }).status ?? -1;
      }
    }
    assert.equal(refusedWith, 503, `refused at the cap with 503 after ${open.length} connections`);
    assert.equal(open.length, Math.floor((512 - FD_RESERVE) * 0.8));
    const idle: Socket[] = [];
    for (let i = 0; i < 300; i++) {
      const s = await idleSocket(Number(new URL(url).port), `127.0.3.${(i % 200) + 1}`).catch(() => null);
      if (s) idle.push(s);
    }
    await delay(50);
    for (const path of ['/healthz', '/readyz', '/metrics']) {
      const res = await fetch(url + path, { signal: AbortSignal.timeout(3000) });
      assert.equal(res.status, 200, path);
    }
    // The connections it holds still work.
    const last = open.at(-1)!;
    last.send({ op: 'ping', id: 9 });
    assert.equal((await last.nextMatching((f) => f.op === 'reply')).op, 'reply');
    for (const s of idle) s.destroy();
  });
});

void describe('the connection rate per address', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ limits: { connectionsPerSecondPerAddress: 5 } });
  });
  after(async () => server.close());

  void test('past a burst of new connections from one address, more are cut at accept; another address is not', async () => {
    const results = await Promise.all(Array.from({ length: 30 }, () => healthz(server.url, '127.0.4.1').catch(() => 0)));
    const served = results.filter((s) => s === 200).length;
    assert.ok(served >= 10 && served < 30, `a burst of 10 (twice the rate) was served, the rest cut: ${served} of 30`);
    assert.equal(await healthz(server.url, '127.0.4.2'), 200);
  });
});

/**
 * The node caps were checked against the sessions already open: upgrades whose token was still
 * being verified (an asynchronous signature check) were not counted, so a burst of them all
 * passed a cap that each alone would have met.
 */
void describe('upgrades being verified count toward the node caps', () => {
  async function burst(server: TestServer, n: number): Promise<{ opened: number; refused: number[] }> {
    const tokens = await Promise.all(Array.from({ length: n }, (_, i) => server.token(`burst-${i}`)));
    const results = await Promise.allSettled(tokens.map((token) => TestClient.connect(server.sb, { token })));
    const refused = results.flatMap((r) => (r.status === 'rejected' ? [(r.reason as ConnectionRefused).status] : []));
    return { opened: results.length - refused.length, refused };
  }

  void test('WebSockets per node', async () => {
    const server = await startServer({ listen: false, limits: { maxConnections: 2 } });
    try {
      assert.deepEqual(await burst(server, 5), { opened: 2, refused: [503, 503, 503] });
    } finally {
      await server.close();
    }
  });

  void test('WebSockets not yet authenticated per node', async () => {
    const server = await startServer({ listen: false, limits: { maxPending: 2 } });
    // The account check never answers: every connection that opens stays unauthenticated.
    server.sb.checkPrincipals(() => new Promise<boolean>(() => undefined));
    try {
      assert.deepEqual(await burst(server, 5), { opened: 2, refused: [503, 503, 503] });
    } finally {
      await server.close();
    }
  });
});
