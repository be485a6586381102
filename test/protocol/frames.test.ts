import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CloseCodes, type ErrorFrame, type ReplyFrame } from '@switchboard/client/protocol';
import { TestClient } from '../../src/core/testing/index.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { connectAs, expectError, expectOk } from './support.js';

/** The next frame, which must be an `error` frame (no request id to answer). */
async function errorFrame(client: TestClient): Promise<ErrorFrame['error']> {
  const frame = await client.receive();
  assert.equal(frame.op, 'error', JSON.stringify(frame));
  const { error } = frame as ErrorFrame;
  assert.equal(typeof error.message, 'string');
  assert.equal(typeof error.temporary, 'boolean');
  return error;
}

void describe('frame handling', () => {
  let server: TestServer;
  let client: TestClient;
  before(async () => {
    server = await startServer({ listen: false });
    client = await connectAs(server, 'alice');
  });
  after(async () => {
    client.disconnect();
    await server.close();
  });

  void test('malformed JSON → error frame bad_frame; the connection lives on', async () => {
    for (const text of ['{', 'not json', '{"op":"ping","id":1', '']) {
      client.sendText(text);
      const error = await errorFrame(client);
      assert.equal(error.code, 'bad_frame', text);
      assert.equal(error.temporary, false);
    }
    expectOk(await client.request({ op: 'ping' }));
  });

  void test('JSON that is not an object → bad_frame', async () => {
    for (const text of ['[1,2]', '42', 'null', '"ping"', 'true', '[]']) {
      client.sendText(text);
      assert.equal((await errorFrame(client)).code, 'bad_frame', text);
    }
    expectOk(await client.request({ op: 'ping' }));
  });

  void test('unknown op → unknown_op replied with the id', async () => {
    client.sendJson({ op: 'launch', id: 77 });
    const reply = await client.reply(77);
    const error = expectError(reply, 'unknown_op', 'op');
    assert.match(error.message, /launch/);
    assert.equal(error.temporary, false);
    // Without a usable id it is an error frame.
    client.sendJson({ op: 'launch' });
    assert.equal((await errorFrame(client)).code, 'unknown_op');
    // Server-only ops are not requests.
    for (const op of ['welcome', 'reply', 'message', 'join', 'error', 'toString', '__proto__', 'constructor']) {
      client.sendJson({ op, id: 78 });
      expectError(await client.reply(78), 'unknown_op', 'op');
    }
  });

  void test('op missing or not a string → bad_request naming op', async () => {
    client.sendJson({ id: 80 });
    expectError(await client.reply(80), 'bad_request', 'op');
    client.sendJson({ op: 5, id: 81 });
    expectError(await client.reply(81), 'bad_request', 'op');
    client.sendJson({ op: null });
    const error = await errorFrame(client);
    assert.equal(error.code, 'bad_request');
    assert.equal(error.field, 'op');
  });

  void test('missing or invalid id → bad_request field id, as an error frame', async () => {
    for (const id of [undefined, -1, 1.5, '1', null, Number.MAX_SAFE_INTEGER + 2]) {
      client.sendJson(id === undefined ? { op: 'ping' } : { op: 'ping', id });
      const error = await errorFrame(client);
      assert.equal(error.code, 'bad_request', String(id));
      assert.equal(error.field, 'id', String(id));
    }
    client.sendJson({ op: 'ping', id: 0 });
    expectOk(await client.reply(0));
  });

  void test('wrong types → bad_request naming the field, replied to the id', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ op: 'subscribe', channel: 42 }, 'channel'],
      [{ op: 'subscribe' }, 'channel'],
      [{ op: 'subscribe', channel: 'room:x', since: 'yesterday' }, 'since'],
      [{ op: 'subscribe', channel: 'room:x', since: { epoch: '', offset: 1 } }, 'since.epoch'],
      [{ op: 'subscribe', channel: 'room:x', since: { epoch: 'e', offset: -1 } }, 'since.offset'],
      [{ op: 'subscribe', channel: 'room:x', since: { epoch: 'e', offset: '3' } }, 'since.offset'],
      [{ op: 'subscribe', channel: 'x'.repeat(1025) }, 'channel'],
      [{ op: 'unsubscribe', channel: ['room:x'] }, 'channel'],
      [{ op: 'publish', channel: 1, event: 'e', data: 1 }, 'channel'],
      [{ op: 'publish', channel: 'room:x', data: 1 }, 'event'],
      [{ op: 'presence', channel: null }, 'channel'],
      [{ op: 'history', channel: 'room:x', limit: 'ten' }, 'limit'],
      [{ op: 'history', channel: 'room:x', since: { offset: 1 } }, 'since.epoch'],
      [{ op: 'refresh' }, 'token'],
      [{ op: 'refresh', token: 12 }, 'token'],
      [{ op: 'connect', token: 12 }, 'token'],
    ];
    let id = 100;
    for (const [frame, field] of cases) {
      const reqId = id++;
      client.sendJson({ ...frame, id: reqId });
      const reply: ReplyFrame = await client.reply(reqId);
      const error = expectError(reply, 'bad_request', field);
      assert.ok(error.message.startsWith(field), `message names the field: ${error.message}`);
    }
    expectOk(await client.request({ op: 'ping' }));
  });

  void test('extra fields are ignored', async () => {
    expectOk(await client.request({ op: 'ping', extra: { anything: true } }));
  });

  void test('a channel over 1024 characters is bad_request, a shorter invalid one invalid_channel', async () => {
    expectError(await client.request({ op: 'subscribe', channel: `room:${'x'.repeat(1100)}` }), 'bad_request', 'channel');
    expectError(await client.request({ op: 'subscribe', channel: `room:${'x'.repeat(300)}` }), 'invalid_channel', 'channel');
  });

  void test('bad frames before connect are answered too, and connect still works after', async () => {
    const fresh = await TestClient.connect(server.sb);
    fresh.sendText('nope');
    assert.equal((await errorFrame(fresh)).code, 'bad_frame');
    fresh.sendJson({ op: 'fly', id: 1 });
    expectError(await fresh.reply(1), 'unknown_op');
    expectOk(await fresh.request({ op: 'connect', token: await server.token('bo') }));
    fresh.disconnect();
  });

  void test('a binary frame closes 4503', async () => {
    const victim = await connectAs(server, 'bin');
    victim.sendBinary();
    const closed = await victim.closed();
    assert.equal(closed.code, CloseCodes.protocolError);
    assert.match(closed.reason, /binary/);
    assert.throws(() => victim.sendJson({ op: 'ping', id: 1 }), /closed/);
    // Unauthenticated connections too.
    const fresh = await TestClient.connect(server.sb);
    fresh.sendBinary();
    assert.equal((await fresh.closed()).code, CloseCodes.protocolError);
  });

  void test('frames are counted in switchboard_messages_in_total', async () => {
    const before = (await server.sb.metrics.messagesIn.get()).values[0]?.value ?? 0;
    expectOk(await client.request({ op: 'ping' }));
    client.sendText('junk');
    await errorFrame(client);
    const after = (await server.sb.metrics.messagesIn.get()).values[0]?.value ?? 0;
    assert.equal(after - before, 2);
  });
});
