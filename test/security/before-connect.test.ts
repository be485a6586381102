import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CloseCodes } from '@switchboard/client/protocol';
import { TestClient } from '../../src/core/testing/index.js';
import { jsonTooDeep } from '../../src/core/util/json-depth.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { connectAs, expectOk } from '../protocol/support.js';
import { delay, waitFor, WsTestClient, withToken } from '../helpers/ws-client.js';

const nested = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth);

void test('the nesting scan counts brackets outside strings only, escapes included', () => {
  assert.equal(jsonTooDeep(nested(32), 32), false);
  assert.equal(jsonTooDeep(nested(33), 32), true);
  assert.equal(jsonTooDeep(`{"a":"${'['.repeat(100)}"}`, 2), false, 'brackets in a string do not count');
  assert.equal(jsonTooDeep(`{"a":"\\"${'['.repeat(100)}"}`, 2), false, 'an escaped quote does not end the string');
  assert.equal(jsonTooDeep(`{"a":"\\\\",${'['.repeat(5)}`, 3), true, 'an escaped backslash does');
  assert.equal(jsonTooDeep('[{"a":[{"b":[1]}]}]', 5), false);
  assert.equal(jsonTooDeep('[{"a":[{"b":[1]}]}]', 4), true);
});

/**
 * Defect 2 of the hardening issue: deep JSON stalled the event loop before anyone was known (a
 * 1 MiB login body of 500,000 nested arrays: ~250 ms), and unauthenticated sockets could send 100
 * frames of 64 KiB each.
 */
void describe('before connect, and deep JSON anywhere', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ limits: { maxPendingPerAddress: 5 } });
  });
  after(async () => {
    await WsTestClient.closeAll();
    await server.close();
  });

  void test('a WebSocket frame nested past the bound answers bad_frame without parsing; the connection lives on', async () => {
    const client = await connectAs(server, 'deep');
    client.sendText(`{"op":"publish","id":1,"channel":"room:x","event":"e","data":${nested(10_000)}}`);
    const frame = await client.receive();
    assert.equal(frame.op, 'error');
    assert.equal(frame.op === 'error' && frame.error.code, 'bad_frame');
    assert.match(frame.op === 'error' ? frame.error.message : '', /deeper than 32/);
    expectOk(await client.request({ op: 'ping' }));
    // Within the bound, data may nest as a real document does.
    expectOk(await client.request({ op: 'publish', channel: 'room:x', event: 'e', data: JSON.parse(nested(20)) as unknown }));
    client.disconnect();
  });

  void test('over a real socket, a frame larger than 8 KiB before connect closes 1009 (ws cuts it before reading it)', async () => {
    const client = await WsTestClient.open(server.wsUrl);
    client.sendText(JSON.stringify({ op: 'connect', id: 1, token: 'x'.repeat(9000) }));
    assert.equal((await client.closed()).code, CloseCodes.messageTooBig);
    // After connect the full limit applies: the pre-connect limit was lifted for this connection.
    const authed = await WsTestClient.open(withToken(server.wsUrl, await server.token('big')));
    await authed.nextMatching((f) => f.op === 'welcome');
    authed.send({ op: 'publish', id: 2, channel: 'room:x', event: 'e', data: 'y'.repeat(40_000) });
    const reply = await authed.nextMatching((f) => f.op === 'reply');
    assert.equal(reply.op === 'reply' && reply.ok, true, JSON.stringify(reply));
    authed.terminate();
  });

  void test('in-process too: an oversized frame before connect closes 1009', async () => {
    const client = await TestClient.connect(server.sb);
    client.sendText(JSON.stringify({ op: 'ping', id: 1, pad: 'x'.repeat(9000) }));
    assert.equal((await client.closed()).code, CloseCodes.messageTooBig);
  });

  void test('more than 16 frames before connect succeeds closes 4503, after answering what it took', async () => {
    const client = await TestClient.connect(server.sb);
    for (let id = 1; id <= 20; id++) {
      try {
        client.sendJson({ op: 'ping', id });
      } catch {
        break; // closed
      }
    }
    assert.equal((await client.closed()).code, CloseCodes.protocolError);
    const replies: number[] = [];
    for (;;) {
      try {
        const frame = await client.receive(50);
        if (frame.op === 'reply' && !frame.ok) replies.push(frame.id);
      } catch {
        break;
      }
    }
    assert.deepEqual(replies, Array.from({ length: 16 }, (_, i) => i + 1), 'each of the 16 taken got its not_connected');
  });

  void test('unauthenticated WebSockets per address are capped at the upgrade (429); authenticating frees the slot', async () => {
    // Connections the tests before closed for abuse are cut a second later, not at once.
    await waitFor(() => [...server.sb.gateway.sessions].every((s) => s.authenticated), 3000, 'earlier unauthenticated connections to go');
    const waiting: WsTestClient[] = [];
    for (let i = 0; i < 5; i++) waiting.push(await WsTestClient.open(server.wsUrl));
    const refused = await WsTestClient.refused(server.wsUrl);
    assert.equal(refused.status, 429);
    assert.match(refused.body, /unauthenticated connections per client address/);
    // One of them authenticates: a slot is free again.
    waiting[0]!.send({ op: 'connect', id: 1, token: await server.token('late') });
    await waiting[0]!.nextMatching((f) => f.op === 'reply');
    const next = await WsTestClient.open(server.wsUrl);
    assert.equal(next.isClosed, false);
    for (const c of [...waiting, next]) c.terminate();
  });

  void test('a REST body nested past the bound is a 400 naming the body, and a shallower one passes', async () => {
    const deep = await fetch(`${server.url}/api/publish`, {
      method: 'POST',
      headers: { authorization: 'Bearer test-api-key-0123456789abcdef', 'content-type': 'application/json' },
      body: `{"channel":"room:x","event":"e","data":${nested(50_000)}}`,
    });
    assert.equal(deep.status, 400);
    const body = (await deep.json()) as { error: { code: string; message: string; details: { field?: string } } };
    assert.equal(body.error.code, 'invalid_body');
    assert.equal(body.error.details.field, 'body');
    assert.match(body.error.message, /deeper than 32/);
    const ok = await fetch(`${server.url}/api/publish`, {
      method: 'POST',
      headers: { authorization: 'Bearer test-api-key-0123456789abcdef', 'content-type': 'application/json' },
      body: JSON.stringify({ channel: 'room:x', event: 'e', data: JSON.parse(nested(20)) as unknown }),
    });
    assert.equal(ok.status, 200);
  });
});

void describe('sign-in and registration are throttled per client address', () => {
  void test('past the burst a login answers 429 before its body is read, and closes the socket', async () => {
    const { startApp } = await import('../helpers/app.js');
    const t = await startApp({ engine: 'sqlite', limits: { publicRequestsPerSecond: 2 } });
    try {
      const login = (headers: Record<string, string> = {}) => t.request('POST', '/api/auth/login', { body: { email: 'customer@demo.test', password: 'wrong-password' }, headers });
      // At once, so that password hashing (slow by design) gives the bucket no time to refill.
      const answers = await Promise.all(Array.from({ length: 20 }, () => login()));
      const passed = answers.filter((a) => a.status === 401).length;
      assert.ok(passed >= 8 && passed <= 10, `a burst of four seconds' worth (8) passes: ${answers.map((a) => a.status).join(',')}`);
      assert.equal(passed + answers.filter((a) => a.status === 429).length, 20);
      const refused = answers.find((a) => a.status === 429)!;
      assert.equal(refused.status, 429);
      assert.equal(refused.body.error.code, 'rate_limited');
      assert.ok(Number(refused.headers['retry-after']) >= 1);
      assert.equal(refused.headers.connection, 'close');
    } finally {
      await t.close();
    }
  });

  // Retry-After said 1 whatever the address owed: each refused request costs a token, so a client
  // that waited as told was refused again (and owed one more).
  void test('a client that waits as long as Retry-After says is let in', async () => {
    const { startApp } = await import('../helpers/app.js');
    const t = await startApp({ engine: 'sqlite', limits: { publicRequestsPerSecond: 2 } });
    try {
      const login = () => t.request('POST', '/api/auth/login', { body: { email: 'customer@demo.test', password: 'wrong-password' } });
      const answers = await Promise.all(Array.from({ length: 14 }, () => login()));
      const waits = answers.filter((a) => a.status === 429).map((a) => Number(a.headers['retry-after']));
      assert.ok(waits.length >= 4, `past the burst of 8, refusals: ${answers.map((a) => a.status).join(',')}`);
      await delay(Math.max(...waits) * 1000);
      assert.equal((await login()).status, 401, `let in after waiting ${Math.max(...waits)} s`);
    } finally {
      await t.close();
    }
  });
});
