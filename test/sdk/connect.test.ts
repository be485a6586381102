import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SwitchboardError, type PublicationMeta, type SubscribedInfo } from '@switchboard/client';
import { startServer } from '../helpers/server.js';
import { closeClients, delay, makeClient, useServer, waitFor, within } from './support.js';

interface Cart {
  items: number;
}
interface Item {
  sku: string;
}
type CartEvents = { cart_update: Cart; cart_item_added: Item };

const suite = useServer();

test('connect, subscribe, and receive typed publications in order with their positions', async () => {
  const rec = makeClient({ url: suite.server.wsUrl, token: await suite.server.token('alice') });
  const info = await within(rec.client.connect(), 3000, 'connect');
  assert.equal(info.user?.id, 'alice');
  assert.ok(info.heartbeat > 0);
  assert.equal(rec.client.state, 'connected');

  const sub = rec.client.subscribe<CartEvents>('room:cart-1');
  const updates: [Cart, PublicationMeta][] = [];
  const items: Item[] = [];
  const all: string[] = [];
  sub.on('cart_update', (data, meta) => updates.push([data, meta]));
  sub.on('cart_item_added', (data) => items.push(data));
  sub.on('message', (event, _data, meta) => all.push(`${event}@${meta.offset}`));
  const subscribed = await within(sub.ready, 3000, 'subscribed');
  assert.equal(subscribed.offset, 0);
  assert.equal(subscribed.recovered, false);
  assert.equal(sub.state, 'subscribed');

  await suite.server.sb.publish('room:cart-1', 'cart_update', { items: 1 });
  await suite.server.sb.publish('room:cart-1', 'cart_item_added', { sku: 'A-1' });
  await suite.server.sb.publish('room:cart-1', 'cart_update', { items: 2 });
  await waitFor(() => all.length === 3, 3000, 'three publications');

  assert.deepEqual(all, ['cart_update@1', 'cart_item_added@2', 'cart_update@3']);
  assert.deepEqual(
    updates.map(([d]) => d),
    [{ items: 1 }, { items: 2 }],
  );
  assert.deepEqual(items, [{ sku: 'A-1' }]);
  const meta = updates[0]![1];
  assert.equal(meta.channel, 'room:cart-1');
  assert.equal(meta.epoch, subscribed.epoch);
  assert.ok(!Number.isNaN(Date.parse(meta.time)));
  assert.deepEqual(sub.position, { epoch: subscribed.epoch, offset: 3 });
});

test('publish, history, presence and ping go through the connection', async () => {
  const rec = makeClient({ url: suite.server.wsUrl, token: await suite.server.token('bob') });
  await within(rec.client.connect(), 3000, 'connect');
  const sub = rec.client.subscribe('room:ops');
  const seen: unknown[] = [];
  const fromClientEvent: string[] = [];
  sub.on('message', (_event, data) => seen.push(data));
  rec.client.on('message', (p) => fromClientEvent.push(`${p.channel}/${p.event}/${p.offset}`));
  await within(sub.ready, 3000, 'subscribed');

  const first = await rec.client.publish('room:ops', 'note', { n: 1 });
  const second = await rec.client.publish('room:ops', 'note', { n: 2 });
  assert.equal(second.epoch, first.epoch);
  assert.equal(second.offset, first.offset + 1);
  await waitFor(() => seen.length === 2, 3000, 'own publications');
  assert.deepEqual(seen, [{ n: 1 }, { n: 2 }]);
  assert.deepEqual(fromClientEvent, [`room:ops/note/${first.offset}`, `room:ops/note/${second.offset}`]);

  const page = await rec.client.history('room:ops', { since: first });
  assert.equal(page.complete, true);
  assert.deepEqual(
    page.publications.map((p) => p.data),
    [{ n: 2 }],
  );

  const presence = await rec.client.presence('room:ops');
  assert.ok(presence.users.some((u) => u.user === 'bob'));

  const rtt = await rec.client.ping();
  assert.ok(rtt >= 0);
});

test('requests made while not connected reject with a temporary not_connected error', async () => {
  const rec = makeClient({ url: suite.server.wsUrl, token: await suite.server.token('carol') });
  await assert.rejects(rec.client.publish('room:x', 'e', 1), (err: unknown) => {
    assert.ok(err instanceof SwitchboardError);
    assert.equal(err.code, 'not_connected');
    assert.equal(err.temporary, true);
    return true;
  });
  await assert.rejects(rec.client.publish('Not A Channel', 'e', 1), (err: unknown) => err instanceof SwitchboardError && err.code === 'invalid_channel');
});

test('a subscription made before connecting is sent once connected', async () => {
  const rec = makeClient({ url: suite.server.wsUrl, token: await suite.server.token('dave') });
  const sub = rec.client.subscribe('room:early');
  assert.equal(sub.state, 'pending');
  assert.equal(rec.client.subscribe('room:early'), sub, 'one subscription per channel');
  void rec.client.connect();
  const info = await within(sub.ready, 3000, 'subscribed after connect');
  assert.equal(info.serverMade, false);
  assert.equal(rec.client.getSubscription('room:early'), sub);
});

test('forbidden and invalid channels fail the subscription for good, without retries', async () => {
  const rec = makeClient({ url: suite.server.wsUrl, token: await suite.server.token('erin') });
  await within(rec.client.connect(), 3000, 'connect');
  const locked = rec.client.subscribe('locked:vault');
  const errors: SwitchboardError[] = [];
  locked.on('error', (err) => errors.push(err));
  await assert.rejects(within(locked.ready, 3000, 'refusal'), (err: unknown) => err instanceof SwitchboardError && err.code === 'forbidden');
  assert.equal(locked.state, 'failed');
  await delay(300);
  assert.equal(errors.length, 1, 'refused once, not retried');
  assert.equal(rec.client.getSubscription('locked:vault'), null);

  const invalid = rec.client.subscribe('Bad Name!');
  const invalidErrors: SwitchboardError[] = [];
  invalid.on('error', (err) => invalidErrors.push(err));
  await assert.rejects(within(invalid.ready, 1000, 'local refusal'), (err: unknown) => err instanceof SwitchboardError && err.code === 'invalid_channel');
  assert.equal(invalidErrors.length, 1);

  // The connection is unaffected.
  assert.equal(rec.client.state, 'connected');
  assert.equal(rec.disconnectedCount(), 0);
});

test('unsubscribe stops delivery and frees the channel on the server', async () => {
  const rec = makeClient({ url: suite.server.wsUrl, token: await suite.server.token('frank') });
  await within(rec.client.connect(), 3000, 'connect');
  const sub = rec.client.subscribe('room:leave');
  const seen: number[] = [];
  sub.on('message', (_e, _d, meta) => seen.push(meta.offset));
  await within(sub.ready, 3000, 'subscribed');
  await suite.server.sb.publish('room:leave', 'e', 1);
  await waitFor(() => seen.length === 1, 3000, 'first message');
  await within(sub.unsubscribe(), 3000, 'unsubscribe');
  assert.equal(sub.state, 'unsubscribed');
  await suite.server.sb.publish('room:leave', 'e', 2);
  await delay(150);
  assert.deepEqual(seen, [1]);
  // Subscribing again is a new subscription, accepted by the server (it was really removed there).
  const again = rec.client.subscribe('room:leave');
  assert.notEqual(again, sub);
  const info = await within(again.ready, 3000, 'resubscribed');
  assert.equal(info.offset, 2);
});

test('a bad token is refused once: connect() rejects and the client does not retry', async () => {
  const rec = makeClient({ url: suite.server.wsUrl, token: 'not-a-jwt', backoff: { minMs: 5, maxMs: 10 } });
  await assert.rejects(within(rec.client.connect(), 3000, 'refusal'), (err: unknown) => {
    assert.ok(err instanceof SwitchboardError);
    assert.equal(err.code, 'invalid_token');
    assert.equal(err.closeCode, 4500);
    assert.equal(err.temporary, false);
    return true;
  });
  await delay(300);
  assert.equal(rec.attempts(), 1, 'exactly one attempt');
  const last = rec.lastState();
  assert.equal(last?.state, 'disconnected');
  assert.equal(last?.state === 'disconnected' && last.willReconnect, false);
  assert.equal(rec.client.state, 'disconnected');
  assert.ok(rec.errors.some((e) => e instanceof SwitchboardError && e.code === 'invalid_token'));
});

test('a getToken that returns a bad token is not retried either (4500 is final)', async () => {
  let calls = 0;
  const rec = makeClient({
    url: suite.server.wsUrl,
    getToken: () => {
      calls += 1;
      return 'still.not.valid';
    },
    backoff: { minMs: 5, maxMs: 10 },
  });
  await assert.rejects(within(rec.client.connect(), 3000, 'refusal'), (err: unknown) => err instanceof SwitchboardError && err.code === 'invalid_token');
  await delay(200);
  assert.equal(calls, 1);
  assert.equal(rec.attempts(), 1);
});

test('a server-made subscription (path alias) is exposed as a subscription and a client event', async () => {
  const rec = makeClient({ url: `ws://127.0.0.1:${suite.server.port}/ws/chat/lobby/?frames=switchboard`, token: await suite.server.token('gina') });
  const made: SubscribedInfo[] = [];
  let channel = '';
  rec.client.on('subscribed', (sub, info) => {
    channel = sub.channel;
    made.push(info);
  });
  await within(rec.client.connect(), 3000, 'connect');
  await waitFor(() => made.length === 1, 3000, 'the server-made subscription');
  assert.equal(channel, 'chat:lobby');
  assert.equal(made[0]!.serverMade, true);
  const sub = rec.client.getSubscription('chat:lobby');
  assert.ok(sub);
  assert.equal(sub.serverMade, true);
  const seen: unknown[] = [];
  sub.on('message', (_e, data) => seen.push(data));
  await suite.server.sb.publish('chat:lobby', 'said', { text: 'hi' });
  await waitFor(() => seen.length === 1, 3000, 'a message on the alias channel');
  assert.deepEqual(seen, [{ text: 'hi' }]);
});

test('close() stops everything: no reconnect, pending requests rejected, state disconnected', async () => {
  const rec = makeClient({ url: suite.server.wsUrl, token: await suite.server.token('hank') });
  await within(rec.client.connect(), 3000, 'connect');
  const sub = rec.client.subscribe('room:closing');
  await within(sub.ready, 3000, 'subscribed');
  rec.client.close();
  assert.equal(rec.client.state, 'disconnected');
  const last = rec.lastState();
  assert.ok(last?.state === 'disconnected' && last.willReconnect === false && last.code === 1000);
  await delay(200);
  assert.equal(rec.attempts(), 1);
  assert.equal(sub.state, 'pending', 'kept, to resume if connect() is called again');
  await assert.rejects(rec.client.ping(), (err: unknown) => err instanceof SwitchboardError && err.code === 'not_connected');

  // connect() again resumes the subscription from its position.
  await within(rec.client.connect(), 3000, 'reconnect');
  await waitFor(() => sub.state === 'subscribed', 3000, 'resubscribed');
});

test('a url function is asked before every attempt, so reconnects can go to another node', async () => {
  const other = await startServer();
  try {
    // The first node on the list is down (nothing listens on port 1); then alternate between two.
    const urls = ['ws://127.0.0.1:1/ws', suite.server.wsUrl, other.wsUrl];
    const asked: string[] = [];
    const url = () => {
      const next = urls[asked.length % urls.length]!;
      asked.push(next);
      return next;
    };
    const rec = makeClient({ url, token: await suite.server.token('nomad'), getToken: () => suite.server.token('nomad') });
    await within(rec.client.connect(), 3000, 'connect after a refused first node');
    assert.deepEqual(asked, urls.slice(0, 2));
    const sub = rec.client.subscribe('room:nomad');
    await within(sub.ready, 3000, 'subscribed');
    for (const session of [...suite.server.sb.gateway.sessions]) if (session.user?.id === 'nomad') suite.server.sb.gateway.close(session, 4000, 'test');
    await waitFor(() => rec.connectedCount() === 2 && rec.client.state === 'connected', 3000, 'a connection to the other node');
    assert.deepEqual(asked, urls);
    assert.equal([...other.sb.gateway.sessions].filter((s) => s.user?.id === 'nomad').length, 1);
  } finally {
    closeClients();
    await other.close();
  }
});
