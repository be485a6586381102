import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { MessageFrame, SubscribeResult } from '@switchboard/client/protocol';
import { loadConfig } from '../../src/core/config.js';
import { installDefaultChannels } from '../../src/core/defaults.js';
import { Switchboard } from '../../src/core/switchboard.js';
import { ConnectionRefused, TestClient } from '../../src/core/testing/index.js';
import { startServer, TEST_API_KEY, TEST_SECRET, type TestServer } from '../helpers/server.js';

interface ErrorBody {
  error: { code: string; message: string; details: Record<string, unknown> };
}

const TIMEOUT = AbortSignal.timeout.bind(AbortSignal);

async function get(server: TestServer, path: string): Promise<Response> {
  return fetch(`${server.url}${path}`, { signal: TIMEOUT(3000) });
}

async function publish(server: TestServer, body: unknown, headers: Record<string, string> = { authorization: `Bearer ${TEST_API_KEY}` }): Promise<Response> {
  return fetch(`${server.url}/api/publish`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal: TIMEOUT(3000),
  });
}

/** Checks the one error shape and returns it. */
async function errorOf(res: Response, status: number, code: string): Promise<ErrorBody['error']> {
  assert.equal(res.status, status, `status (body: ${await res.clone().text()})`);
  assert.match(res.headers.get('content-type') ?? '', /application\/json/);
  const body = (await res.json()) as ErrorBody;
  assert.deepEqual(Object.keys(body), ['error']);
  assert.deepEqual(Object.keys(body.error).sort(), ['code', 'details', 'message']);
  assert.equal(body.error.code, code, JSON.stringify(body));
  assert.equal(typeof body.error.message, 'string');
  assert.ok(body.error.message.length > 0);
  assert.equal(typeof body.error.details, 'object');
  return body.error;
}

async function connect(server: TestServer, user: string): Promise<TestClient> {
  const client = await TestClient.connect(server.sb, { token: await server.token(user) });
  assert.equal((await client.receive()).op, 'welcome');
  return client;
}

void describe('HTTP: health, readiness, metrics', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(async () => server.close());

  void test('GET /healthz → 200 {status: ok}', async () => {
    const res = await get(server, '/healthz');
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: 'ok' });
  });

  void test('GET /readyz → 200 {status: ready} while up', async () => {
    const res = await get(server, '/readyz');
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: 'ready' });
  });

  void test('GET /metrics: Prometheus text with the documented series', async () => {
    const client = await connect(server, 'metric-user');
    const sub = await client.request({ op: 'subscribe', channel: 'room:metrics' });
    assert.ok(sub.ok);
    await server.sb.publish('room:metrics', 'e', 1);
    let message;
    do message = await client.receive();
    while (message.op !== 'message');
    const res = await get(server, '/metrics');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await res.text();
    for (const name of [
      'switchboard_connections',
      'switchboard_subscriptions',
      'switchboard_channels',
      'switchboard_messages_in_total',
      'switchboard_messages_out_total',
      'switchboard_publications_total',
      'switchboard_publish_to_deliver_seconds',
      'switchboard_closes_total',
      'switchboard_request_errors_total',
      'nodejs_eventloop_lag_seconds',
    ]) {
      assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), name);
    }
    assert.match(text, /^switchboard_connections 1$/m);
    assert.match(text, /^switchboard_subscriptions 1$/m);
    assert.match(text, /^switchboard_publish_to_deliver_seconds_count [1-9]\d*$/m);
    assert.match(text, /^switchboard_messages_in_total [1-9]\d*$/m);
    client.disconnect();
    await new Promise<void>((resolve) => setImmediate(resolve));
    assert.match(await (await get(server, '/metrics')).text(), /^switchboard_connections 0$/m);
  });

  void test('unknown routes → 404 in the error shape', async () => {
    const error = await errorOf(await get(server, '/nope'), 404, 'not_found');
    assert.match(error.message, /\/nope/);
    assert.deepEqual(error.details, {});
    await errorOf(await get(server, '/api/publish'), 404, 'not_found');
    await errorOf(await fetch(`${server.url}/healthz`, { method: 'DELETE', signal: TIMEOUT(3000) }), 404, 'not_found');
  });
});

void describe('HTTP: readiness while shutting down and with the layer down', () => {
  void test('/readyz answers 503 once close starts; new WebSocket upgrades are refused 503', async () => {
    const server = await startServer();
    // A connection that never finishes closing keeps the node in its drain phase.
    const decision = await server.sb.gateway.accept({ url: '/ws', headers: {} });
    assert.ok(decision.ok);
    decision.open({ send: () => undefined, close: () => undefined, bufferedAmount: 0 });
    const closing = server.close();
    try {
      const res = await get(server, '/readyz');
      assert.equal(res.status, 503);
      assert.deepEqual(await res.json(), { status: 'not ready' });
      assert.equal((await get(server, '/healthz')).status, 200, 'still alive while draining');
      await assert.rejects(TestClient.connect(server.sb, { token: await server.token('late') }), (err: unknown) => err instanceof ConnectionRefused && err.status === 503);
    } finally {
      await closing;
    }
  });

  void test('/readyz 503 and publish 503 unavailable when the channel layer is down', async () => {
    const server = await startServer();
    try {
      await server.sb.hub.layer.close();
      assert.equal((await get(server, '/readyz')).status, 503);
      const error = await errorOf(await publish(server, { channel: 'room:x', event: 'e', data: 1 }), 503, 'unavailable');
      assert.match(error.message, /closed/);
    } finally {
      await server.close();
    }
  });
});

void describe('HTTP: POST /api/publish', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(async () => server.close());

  void test('401 invalid_api_key without a key or with a wrong one (Bearer and X-API-Key)', async () => {
    const body = { channel: 'room:x', event: 'e', data: 1 };
    const attempts: Record<string, string>[] = [
      {},
      { authorization: 'Bearer wrong-key' },
      { authorization: `Bearer ${TEST_API_KEY}x` },
      { authorization: `Basic ${TEST_API_KEY}` },
      { authorization: TEST_API_KEY },
      { 'x-api-key': 'wrong-key' },
      { 'x-api-key': '' },
      // The Bearer header wins over X-API-Key.
      { authorization: 'Bearer wrong-key', 'x-api-key': TEST_API_KEY },
    ];
    for (const headers of attempts) {
      const error = await errorOf(await publish(server, body, headers), 401, 'invalid_api_key');
      assert.deepEqual(error.details, {}, JSON.stringify(headers));
    }
  });

  void test('200 {epoch, offset} with either header; a subscriber on the same node receives it', async () => {
    const channel = `room:http-${Date.now()}`;
    const client = await connect(server, 'listener');
    const sub = await client.request({ op: 'subscribe', channel });
    assert.ok(sub.ok);
    const start = (sub.result as SubscribeResult).offset;
    const data = { title: 'Order shipped', items: [1, 2], nested: { ok: true }, text: 'ünïcödé' };
    const res = await publish(server, { channel, event: 'notification', data });
    assert.equal(res.status, 200);
    const position = (await res.json()) as { epoch: string; offset: number };
    assert.deepEqual(Object.keys(position).sort(), ['epoch', 'offset']);
    assert.equal(position.offset, start + 1);
    const res2 = await publish(server, { channel, event: 'nulls', data: null }, { 'x-api-key': TEST_API_KEY });
    assert.equal(res2.status, 200);
    const messages: MessageFrame[] = [];
    while (messages.length < 2) {
      const f = await client.receive(2000);
      if (f.op === 'message') messages.push(f);
    }
    assert.deepEqual(
      messages.map((m) => [m.channel, m.event, m.data, m.epoch, m.offset]),
      [
        [channel, 'notification', data, position.epoch, start + 1],
        [channel, 'nulls', null, position.epoch, start + 2],
      ],
    );
    client.disconnect();
  });

  void test('the server may publish where clients may not (user:, locked:)', async () => {
    for (const channel of ['user:42', 'locked:x', 'public:news']) {
      const res = await publish(server, { channel, event: 'e', data: {} });
      assert.equal(res.status, 200, channel);
    }
  });

  void test('400 invalid_body naming the field: channel, event, data', async () => {
    const cases: [unknown, string][] = [
      [{ event: 'e', data: 1 }, 'channel'],
      [{ channel: '', event: 'e', data: 1 }, 'channel'],
      [{ channel: 42, event: 'e', data: 1 }, 'channel'],
      [{ channel: 'room:x', data: 1 }, 'event'],
      [{ channel: 'room:x', event: 'has space', data: 1 }, 'event'],
      [{ channel: 'room:x', event: 'x'.repeat(65), data: 1 }, 'event'],
      [{ channel: 'room:x', event: 'e' }, 'data'],
    ];
    for (const [body, field] of cases) {
      const error = await errorOf(await publish(server, body), 400, 'invalid_body');
      assert.deepEqual(error.details, { field }, JSON.stringify(body));
      assert.ok(error.message.startsWith(`${field}:`), error.message);
    }
  });

  void test('400 invalid_body for a body that is not JSON or not an object', async () => {
    for (const body of ['{not json', '{"channel":"room:x",', '[1,2]', '"text"', 'null', '42']) {
      const res = await publish(server, body);
      assert.equal(res.status, 400, body);
      const error = await errorOf(res, 400, 'invalid_body');
      assert.ok(error.message.length > 0);
    }
    const empty = await fetch(`${server.url}/api/publish`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json' },
      signal: TIMEOUT(3000),
    });
    await errorOf(empty, 400, 'invalid_body');
    const nothing = await fetch(`${server.url}/api/publish`, { method: 'POST', headers: { authorization: `Bearer ${TEST_API_KEY}` }, signal: TIMEOUT(3000) });
    await errorOf(nothing, 400, 'invalid_body');
  });

  void test('400 for an unknown namespace or an invalid channel, naming channel', async () => {
    const unknown = await errorOf(await publish(server, { channel: 'nope:x', event: 'e', data: 1 }), 400, 'unknown_namespace');
    assert.deepEqual(unknown.details, { field: 'channel' });
    const invalid = await errorOf(await publish(server, { channel: 'Not Valid', event: 'e', data: 1 }), 400, 'invalid_channel');
    assert.deepEqual(invalid.details, { field: 'channel' });
  });

  void test('415 unsupported_media_type and 413 body_too_large', async () => {
    const xml = await fetch(`${server.url}/api/publish`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/xml' },
      body: '<publish/>',
      signal: TIMEOUT(3000),
    });
    await errorOf(xml, 415, 'unsupported_media_type');
    // text/plain is parsed as a string, which is not an object.
    const text = await fetch(`${server.url}/api/publish`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'text/plain' },
      body: 'hello',
      signal: TIMEOUT(3000),
    });
    await errorOf(text, 400, 'invalid_body');
    const big = JSON.stringify({ channel: 'room:x', event: 'e', data: 'x'.repeat(1024 * 1024 + 10) });
    await errorOf(await publish(server, big), 413, 'body_too_large');
  });
});

void describe('HTTP: production node', () => {
  let sb: Switchboard;
  let url: string;
  let dataDir: string;
  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'switchboard-http-prod-'));
    const config = loadConfig({
      SWITCHBOARD_ENV: 'production',
      SWITCHBOARD_JWT_SECRET: TEST_SECRET,
      SWITCHBOARD_ALLOWED_ORIGINS: 'https://shop.example.com',
      SWITCHBOARD_DATA: dataDir,
      LOG_LEVEL: 'silent',
      SWITCHBOARD_SHUTDOWN_GRACE_MS: '500',
    });
    sb = await Switchboard.create({ config });
    installDefaultChannels(sb);
    url = (await sb.listen(0, '127.0.0.1')).url;
  });
  after(async () => {
    await sb.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  void test('without SWITCHBOARD_API_KEY the publish API answers 503 publish_api_disabled', async () => {
    const res = await fetch(`${url}/api/publish`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer anything-at-all-here' },
      body: JSON.stringify({ channel: 'room:x', event: 'e', data: 1 }),
      signal: TIMEOUT(3000),
    });
    assert.equal(res.status, 503);
    const body = (await res.json()) as ErrorBody;
    assert.equal(body.error.code, 'publish_api_disabled');
  });
});

test('the publish API checks the key before it reads the body', async () => {
  const server = await startServer();
  try {
    const res = await fetch(`${server.url}/api/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{not json' });
    assert.equal(res.status, 401);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'invalid_api_key');
  } finally {
    await server.close();
  }
});
