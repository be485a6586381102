import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TestClient } from '../../src/core/testing/index.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { expectOk, sleep } from './support.js';

// A path alias whose resolver and policy rule are slow (a database lookup each): the client
// subscribes to the alias's channel itself while the alias is still being authorized.
void describe('path alias racing the client’s own subscribe', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({
      listen: false,
      setup: (sb) => {
        sb.defineNamespace('slow', {
          subscribe: async (ctx) => {
            await sleep(20);
            return ctx.user !== null;
          },
        });
        sb.addRoute('/ws/slow/', async () => {
          await sleep(10);
          return ['slow:1'];
        });
      },
    });
  });
  after(async () => server.close());

  void test('the client wins the race: the connection stays, subscribed once', async () => {
    const client = await TestClient.connect(server.sb, { path: '/ws/slow/', token: await server.token('uma') });
    assert.equal((await client.receive()).op, 'welcome');
    expectOk(await client.request({ op: 'subscribe', channel: 'slow:1' }));
    await sleep(50); // the alias's own subscribe has finished by now
    await client.request({ op: 'ping' });
    assert.equal(client.session.closed, false, 'the connection was closed');
    assert.equal(client.session.subs.size, 1);
    client.disconnect();
  });
});
