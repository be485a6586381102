import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { MessageFrame } from '@switchboard/client/protocol';
import { WsTestClient, wsSuiteServer } from '../helpers/ws-client.js';

const SOCKETS = 50;
const PUBLICATIONS = 100;

void describe('ws fan-out', () => {
  const server = wsSuiteServer();

  void test(`${SOCKETS} sockets on one channel each receive ${PUBLICATIONS} publications in order, byte-identical`, async () => {
    const channel = 'room:fanout';
    const clients = await Promise.all(
      Array.from({ length: SOCKETS }, async (_v, i) => {
        const c = await WsTestClient.open(server.wsUrl, { token: await server.token(`fan-${i}`) });
        await c.expectOp('welcome');
        await c.ok({ op: 'subscribe', channel });
        return c;
      }),
    );
    assert.equal(server.sb.gateway.sessions.size, SOCKETS);

    for (let i = 1; i <= PUBLICATIONS; i++) {
      await server.sb.publish(channel, 'tick', { i, text: `publication ${i}`, nested: { unicode: 'ünïcødé ✓', list: [i, null, true] } });
    }

    const perClient = await Promise.all(
      clients.map(async (c) => {
        const texts: string[] = [];
        while (texts.length < PUBLICATIONS) {
          const { frame, text } = await c.nextRaw(10_000);
          if (frame.op === 'message') texts.push(text);
        }
        return texts;
      }),
    );

    const reference = perClient[0]!;
    reference.forEach((text, k) => {
      const m = JSON.parse(text) as MessageFrame;
      assert.equal(m.channel, channel);
      assert.equal(m.event, 'tick');
      assert.equal(m.offset, k + 1);
      assert.deepEqual(m.data, { i: k + 1, text: `publication ${k + 1}`, nested: { unicode: 'ünïcødé ✓', list: [k + 1, null, true] } });
    });
    perClient.forEach((texts, n) => assert.deepEqual(texts, reference, `socket ${n} got different frames`));
    for (const c of clients) await c.expectNoMessages(0, channel);
    await Promise.all(clients.map((c) => c.disconnect()));
  });
});
