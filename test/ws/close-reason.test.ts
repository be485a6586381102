import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CloseCodes } from '@switchboard/client/protocol';
import { closeReason } from '../../src/core/realtime/ws-server.js';
import { WsTestClient, wsSuiteServer } from '../helpers/ws-client.js';

void describe('close reasons over real sockets', () => {
  const server = wsSuiteServer();

  void test('closeReason cuts at 123 bytes on a character boundary', () => {
    assert.equal(closeReason('short'), 'short');
    for (const pad of ['', 'x', 'xy']) {
      const cut = closeReason(pad + '€'.repeat(100));
      assert.ok(Buffer.byteLength(cut) <= 123, `${Buffer.byteLength(cut)} bytes`);
      assert.ok(!cut.includes('\uFFFD'), 'no replacement character');
      assert.ok(Buffer.byteLength(cut) >= 121);
    }
    const astral = closeReason('😀'.repeat(40));
    assert.ok(Buffer.byteLength(astral) <= 123 && !astral.includes('\uFFFD'));
  });

  // The reason names the channel, which comes from the URL: a multibyte character cut in half by
  // the 123-byte cap became a 3-byte U+FFFD, ws threw RangeError and the process died.
  void test('an alias path with multibyte characters closes 4501 and the server lives', async () => {
    const room = encodeURIComponent('€'.repeat(59));
    const c = await WsTestClient.open(server.wsUrl.replace(/\/ws$/, `/ws/chat/${room}/?frames=switchboard`), { token: await server.token('alice') });
    await c.expectOp('welcome');
    const closed = await c.closed();
    assert.equal(closed.code, CloseCodes.forbidden);
    assert.ok(Buffer.byteLength(closed.reason) <= 123);
    const d = await WsTestClient.open(server.wsUrl, { token: await server.token('bob') });
    await d.expectOp('welcome');
    await d.assertAlive();
    await d.disconnect();
  });
});
