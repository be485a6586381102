import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { MessageFrame, ServerFrame } from '@switchboard/client/protocol';
import { SwitchboardClient } from '@switchboard/client';
import WebSocket from 'ws';
import { allow } from '../../src/core/channels/namespaces.js';
import { collectMessages, waitFor, WsTestClient, wsSuiteServer } from '../helpers/ws-client.js';

/** Who may read `gated:*` right now; the tests change it and then publish `access_changed`. */
const readers = new Set<string>();

void describe('access taken away while subscribed (namespace recheckOn)', () => {
  const server = wsSuiteServer({
    setup: (sb) => {
      sb.defineNamespace('gated', {
        subscribe: (ctx) => ctx.user !== null && readers.has(ctx.user.id),
        history: allow.authenticated,
        recheckOn: ['access_changed'],
      });
    },
  });

  async function subscriber(user: string, channel: string): Promise<WsTestClient> {
    const client = await WsTestClient.open(server.wsUrl, { token: await server.token(user) });
    await client.expectOp('welcome');
    await client.ok({ op: 'subscribe', channel });
    return client;
  }

  void test('the removed reader gets the event that removed them, then unsubscribed (forbidden), then nothing; the others go on', async () => {
    const channel = 'gated:order-1';
    readers.add('ann').add('bob');
    const ann = await subscriber('ann', channel);
    const bob = await subscriber('bob', channel);

    await server.sb.publish(channel, 'progress', { n: 1 });
    await collectMessages(ann, channel, 1);
    await collectMessages(bob, channel, 1);

    readers.delete('bob');
    await server.sb.publish(channel, 'access_changed', { worker: 'ann' });
    // Published right behind it: must not reach bob although his access check is still running.
    await server.sb.publish(channel, 'progress', { n: 2 });

    const [changed] = await collectMessages(bob, channel, 1);
    assert.equal(changed!.event, 'access_changed', 'bob hears the change that removed him');
    const ended = (await bob.nextMatching((f: ServerFrame) => f.op === 'unsubscribed', 2000, 'unsubscribed')) as Extract<ServerFrame, { op: 'unsubscribed' }>;
    assert.equal(ended.channel, channel);
    assert.equal(ended.error.code, 'forbidden');
    assert.equal(ended.error.temporary, false);
    await bob.expectNoMessages(300, channel);
    // The subscription is gone on the server: unsubscribing answers not_subscribed.
    const reply = await bob.request({ op: 'unsubscribe', channel });
    assert.equal(reply.ok, false);

    const annGot = await collectMessages(ann, channel, 2);
    assert.deepEqual(annGot.map((m: MessageFrame) => m.event), ['access_changed', 'progress'], 'ann gets everything, in order');
    await ann.disconnect();
    await bob.disconnect();
  });

  void test('events not named in recheckOn ask nothing again', async () => {
    const channel = 'gated:order-2';
    readers.add('cy');
    const cy = await subscriber('cy', channel);
    readers.delete('cy');
    await server.sb.publish(channel, 'progress', { n: 1 });
    await collectMessages(cy, channel, 1);
    await cy.expectNoMessages(200);
    await cy.disconnect();
  });

  void test('the SDK fails the subscription with the server\'s error and does not resubscribe it', async () => {
    const channel = 'gated:order-3';
    readers.add('dee');
    const client = new SwitchboardClient({ url: server.wsUrl, token: await server.token('dee'), WebSocket: WebSocket as never });
    const sub = client.subscribe(channel);
    const errors: string[] = [];
    sub.on('error', (err: { code: string }) => errors.push(err.code));
    await client.connect();
    await sub.ready;
    readers.delete('dee');
    await server.sb.publish(channel, 'access_changed', {});
    await waitFor(() => errors.length > 0, 3000, 'the subscription to fail');
    assert.deepEqual(errors, ['forbidden']);
    assert.equal(sub.state, 'failed');
    client.close();
  });
});
