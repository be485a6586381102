import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CloseCodes } from '@switchboard/client/protocol';
import { startServer, type TestServer } from '../helpers/server.js';
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
});
