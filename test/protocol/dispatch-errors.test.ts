import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CloseCodes } from '@switchboard/client/protocol';
import { startServer, type TestServer } from '../helpers/server.js';
import { TestClient } from '../../src/core/testing/index.js';
import { connectAs, sleep } from './support.js';

void describe('a failure after the handler', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ listen: false });
  });
  after(async () => server.close());

  // Writing the reply threw inside the fulfilment callback of #dispatch: the rejection was
  // unhandled and Node 20 stops the process on those.
  void test('a reply that cannot be written closes the connection 4005; the process lives', async () => {
    const client = await connectAs(server, 'vic');
    const send = client.send.bind(client);
    client.send = () => {
      throw new Error('write failed');
    };
    client.sendJson({ op: 'ping', id: 1 });
    await sleep(10);
    client.send = send;
    assert.equal((await client.closed()).code, CloseCodes.internalError);
  });

  // The subscription went live only after its reply was written: when writing threw, it stayed
  // pending in the hub for good, holding the channel's layer subscription and buffering every
  // publication of the channel for a connection that was gone.
  void test('a subscribe reply that cannot be written leaves no subscription behind', async () => {
    const client = await connectAs(server, 'wes');
    const send = client.send.bind(client);
    client.send = () => {
      throw new Error('write failed');
    };
    client.sendJson({ op: 'subscribe', id: 1, channel: 'room:unwritten' });
    await sleep(10);
    client.send = send;
    assert.equal((await client.closed()).code, CloseCodes.internalError);
    await sleep(10);
    assert.equal(server.sb.hub.channelCount(), 0, 'the channel has no subscriber left on the node');
  });

  void test('a path alias whose subscribed frame cannot be written leaves no subscription behind', async () => {
    const send = Object.getOwnPropertyDescriptor(TestClient.prototype, 'send')!;
    Object.defineProperty(TestClient.prototype, 'send', {
      ...send,
      value(this: TestClient, frame: Buffer | string) {
        if (String(frame).includes('"op":"subscribed"')) throw new Error('write failed');
        (send.value as TestClient['send']).call(this, frame);
      },
    });
    try {
      const client = await TestClient.connect(server.sb, { path: '/ws/chat/unwritten/?frames=switchboard', token: await server.token('xena') });
      assert.equal((await client.closed()).code, CloseCodes.internalError);
    } finally {
      Object.defineProperty(TestClient.prototype, 'send', send);
    }
    await sleep(10);
    assert.equal(server.sb.hub.channelCount(), 0, 'the channel has no subscriber left on the node');
  });
});
