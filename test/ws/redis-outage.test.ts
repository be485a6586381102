import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CloseCodes, type SubscribeResult } from '@switchboard/client/protocol';
import { OwnRedis } from '../helpers/redis-server.js';
import { TEST_API_KEY, startServer, type TestServer } from '../helpers/server.js';
import { collectMessages, waitFor, WsTestClient } from '../helpers/ws-client.js';

/** A node on Redis, through a Redis outage: it says it is not ready, refuses work with temporary
 * errors rather than queueing it, and afterwards tells its clients to resume. */
void describe('a node on Redis while Redis is down and after', { skip: OwnRedis.unavailable() }, () => {
  let redis: OwnRedis;
  let server: TestServer;
  before(async () => {
    redis = await OwnRedis.start();
    server = await startServer({ redis: { url: redis.url, prefix: 'sb:', timeoutMs: 1000 } });
  });
  after(async () => {
    await WsTestClient.closeAll();
    await server?.close();
    await redis?.destroy();
  });

  const readyz = async () => (await fetch(`${server.url}/readyz`, { signal: AbortSignal.timeout(3000) })).status;
  const publish = (data: unknown) =>
    fetch(`${server.url}/api/publish`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ channel: 'room:outage', event: 'n', data }),
      signal: AbortSignal.timeout(5000),
    });

  void test('down: /readyz 503, publishes and subscribes fail as unavailable, new connections are sent away; back: clients are told to resume', async () => {
    const client = await WsTestClient.open(server.wsUrl, { token: await server.token('olga') });
    await client.expectOp('welcome');
    const subscribed = await client.ok<SubscribeResult>({ op: 'subscribe', channel: 'room:outage' });
    assert.equal((await publish(1)).status, 200);
    const [first] = await collectMessages(client, 'room:outage', 1);
    assert.equal(first!.offset, 1);
    assert.equal(await readyz(), 200);

    await redis.stop();
    await waitFor(() => !server.sb.hub.layer.ready(), 5000, 'the node to notice');
    assert.equal(await readyz(), 503);
    const refused = await publish(2);
    assert.equal(refused.status, 503);
    assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'unavailable');
    const reply = await client.request({ op: 'subscribe', channel: 'room:other' });
    assert.ok(!reply.ok && reply.error.code === 'unavailable' && reply.error.temporary, JSON.stringify(reply));
    const published = await client.request({ op: 'publish', channel: 'room:outage', event: 'n', data: 3 });
    assert.ok(!published.ok && published.error.code === 'unavailable', JSON.stringify(published));
    const presence = await client.request({ op: 'presence', channel: 'room:outage' });
    assert.ok(!presence.ok && presence.error.code === 'unavailable', JSON.stringify(presence));
    const newcomer = await WsTestClient.open(server.wsUrl, { token: await server.token('nina') });
    assert.equal((await newcomer.closed(3000)).code, CloseCodes.shutdown, 'cannot count its connection: sent to reconnect');

    await redis.restart();
    assert.equal((await client.closed(10_000)).code, CloseCodes.shutdown, 'told to resubscribe and recover');
    await waitFor(() => server.sb.hub.layer.ready(), 5000, 'ready again');
    assert.equal(await readyz(), 200);
    const again = await WsTestClient.open(server.wsUrl, { token: await server.token('olga') });
    await again.expectOp('welcome');
    const resumed = await again.ok<SubscribeResult>({ op: 'subscribe', channel: 'room:outage', since: { epoch: subscribed.epoch, offset: 1 } });
    // Redis restarted (its data restored from the append-only file): positions from before do not resume.
    assert.equal(resumed.recovered, false);
    assert.notEqual(resumed.epoch, subscribed.epoch);
    assert.equal((await publish(4)).status, 200);
    const [live] = await collectMessages(again, 'room:outage', 1);
    assert.equal(live!.data, 4);
    await again.disconnect();
  });
});
