import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SubscribedInfo, UnrecoveredInfo } from '@switchboard/client';
import { startServer, type TestServer } from '../helpers/server.js';
import { closeClients, delay, makeClient, tamperable, useServer, waitConnected, waitFor, within, type Proxy, type Recorded } from './support.js';

const suite = useServer();

/** Cuts the client off and keeps it off while `whileDown` runs, then lets it back. */
async function outage(p: Proxy, rec: Recorded, whileDown: () => Promise<void>): Promise<void> {
  const disconnectsBefore = rec.disconnectedCount();
  p.refusing = true;
  p.dropAll();
  await waitFor(() => rec.disconnectedCount() > disconnectsBefore, 3000, 'the client to notice the drop');
  await whileDown();
  // Let a few reconnect attempts fail against the refusing proxy.
  const accepted = p.accepted;
  await waitFor(() => p.accepted >= accepted + 2, 3000, 'failed reconnect attempts');
  p.refusing = false;
}

test('after a dropped connection the client gets exactly the missed publications, in order, once', async () => {
  const p = await suite.proxy();
  const rec = makeClient({ url: p.wsUrl, token: await suite.server.token('ivy') });
  await within(rec.client.connect(), 3000, 'connect');
  const sub = rec.client.subscribe('room:missed');
  const offsets: number[] = [];
  const data: unknown[] = [];
  const subscribed: SubscribedInfo[] = [];
  const unrecovered: UnrecoveredInfo[] = [];
  sub.on('message', (_e, d, meta) => {
    offsets.push(meta.offset);
    data.push(d);
  });
  sub.on('subscribed', (info) => subscribed.push(info));
  sub.on('unrecovered', (info) => unrecovered.push(info));
  await within(sub.ready, 3000, 'subscribed');
  await suite.server.sb.publish('room:missed', 'n', 1);
  await suite.server.sb.publish('room:missed', 'n', 2);
  await waitFor(() => offsets.length === 2, 3000, 'two live publications');

  const k = 5;
  await outage(p, rec, async () => {
    for (let i = 3; i < 3 + k; i++) await suite.server.sb.publish('room:missed', 'n', i);
  });
  await waitConnected(rec, 2);
  await waitFor(() => offsets.length === 2 + k, 3000, 'the missed publications');
  await suite.server.sb.publish('room:missed', 'n', 8);
  await waitFor(() => offsets.length === 8, 3000, 'a live publication after recovery');
  await delay(100);

  assert.deepEqual(offsets, [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.deepEqual(data, [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.equal(subscribed.length, 2);
  assert.equal(subscribed[1]!.resumed, true);
  assert.equal(subscribed[1]!.recovered, true);
  assert.deepEqual(unrecovered, []);
  const drop = rec.states.find((s) => s.state === 'disconnected');
  assert.ok(drop?.state === 'disconnected' && drop.willReconnect && drop.code === 1006);
});

test('duplicates are dropped and a gap inside a live connection is filled by resubscribing', async () => {
  let droppedOnce = false;
  const { hooks, WebSocket } = tamperable({
    incoming: (text) => {
      const frame = JSON.parse(text) as { op: string; offset?: number };
      if (frame.op !== 'message') return [text];
      if (frame.offset === 2) return [text, text, text]; // duplicated in transit
      if (frame.offset === 4 && !droppedOnce) {
        droppedOnce = true;
        return []; // lost in transit: 5 arrives after 3
      }
      return [text];
    },
  });
  const rec = makeClient({ url: suite.server.wsUrl, token: await suite.server.token('jack'), WebSocket });
  await within(rec.client.connect(), 3000, 'connect');
  const sub = rec.client.subscribe('room:gappy');
  const offsets: number[] = [];
  const states: string[] = [];
  sub.on('message', (_e, _d, meta) => offsets.push(meta.offset));
  sub.on('state', (s) => states.push(s));
  await within(sub.ready, 3000, 'subscribed');
  for (let i = 1; i <= 6; i++) await suite.server.sb.publish('room:gappy', 'n', i);
  await waitFor(() => offsets.length >= 6, 3000, 'six publications');
  await delay(100);

  assert.deepEqual(offsets, [1, 2, 3, 4, 5, 6]);
  assert.ok(states.includes('resyncing'));
  assert.equal(sub.state, 'subscribed');
  const sent = hooks.sent.map((t) => JSON.parse(t) as { op: string; channel?: string; since?: { offset: number } });
  const resubscribe = sent.find((f) => f.op === 'subscribe' && f.since !== undefined);
  assert.equal(resubscribe?.since?.offset, 3, 'resumed from the last position delivered');
  assert.ok(sent.some((f) => f.op === 'unsubscribe'), 'the old subscription was dropped first');
  assert.equal(rec.disconnectedCount(), 0, 'no reconnect was needed');
});

test('a message from an unknown epoch makes the client resync from its last position', async () => {
  let rewritten = false;
  const { WebSocket } = tamperable({
    incoming: (text) => {
      const frame = JSON.parse(text) as { op: string; offset?: number };
      if (frame.op === 'message' && frame.offset === 2 && !rewritten) {
        rewritten = true;
        return [JSON.stringify({ ...frame, epoch: 'some-other-epoch' })];
      }
      return [text];
    },
  });
  const rec = makeClient({ url: suite.server.wsUrl, token: await suite.server.token('kim'), WebSocket });
  await within(rec.client.connect(), 3000, 'connect');
  const sub = rec.client.subscribe('room:epochs');
  const seen: string[] = [];
  const unrecovered: UnrecoveredInfo[] = [];
  sub.on('message', (_e, _d, meta) => seen.push(`${meta.epoch}/${meta.offset}`));
  sub.on('unrecovered', (info) => unrecovered.push(info));
  const { epoch } = await within(sub.ready, 3000, 'subscribed');
  await suite.server.sb.publish('room:epochs', 'n', 1);
  await suite.server.sb.publish('room:epochs', 'n', 2);
  await suite.server.sb.publish('room:epochs', 'n', 3);
  await waitFor(() => seen.length >= 3, 3000, 'three publications');
  await delay(50);
  assert.deepEqual(seen, [`${epoch}/1`, `${epoch}/2`, `${epoch}/3`]);
  assert.deepEqual(unrecovered, []);
});

test('a gap longer than history gives an unrecovered signal, then delivery continues', async () => {
  const p = await suite.proxy();
  const rec = makeClient({ url: p.wsUrl, token: await suite.server.token('lou') });
  await within(rec.client.connect(), 3000, 'connect');
  const sub = rec.client.subscribe('tiny:pruned');
  const offsets: number[] = [];
  const unrecovered: UnrecoveredInfo[] = [];
  sub.on('message', (_e, _d, meta) => offsets.push(meta.offset));
  sub.on('unrecovered', (info) => unrecovered.push(info));
  const { epoch } = await within(sub.ready, 3000, 'subscribed');
  await suite.server.sb.publish('tiny:pruned', 'n', 1);
  await waitFor(() => offsets.length === 1, 3000, 'first publication');

  // History keeps 3: offsets 2..6 published while away leave only 4..6, so 2 and 3 are lost.
  await outage(p, rec, async () => {
    for (let i = 2; i <= 6; i++) await suite.server.sb.publish('tiny:pruned', 'n', i);
  });
  await waitFor(() => unrecovered.length === 1, 5000, 'the unrecovered signal');
  assert.deepEqual(unrecovered[0], {
    since: { epoch, offset: 1 },
    position: { epoch, offset: 6 },
    reason: 'history_pruned',
    hasSnapshot: false,
  });
  assert.deepEqual(offsets, [1], 'nothing partial was delivered');
  assert.deepEqual(sub.position, { epoch, offset: 6 });

  await suite.server.sb.publish('tiny:pruned', 'n', 7);
  await waitFor(() => offsets.length === 2, 3000, 'live delivery after the refetch signal');
  assert.deepEqual(offsets, [1, 7]);
});

test('a server-made subscription is re-made on reconnect and the client fills the gap', async () => {
  const p = await suite.proxy('/ws/chat/recovery/?frames=switchboard');
  const rec = makeClient({ url: p.wsUrl, token: await suite.server.token('max') });
  const made: SubscribedInfo[] = [];
  rec.client.on('subscribed', (_sub, info) => made.push(info));
  await within(rec.client.connect(), 3000, 'connect');
  await waitFor(() => made.length === 1, 3000, 'the server-made subscription');
  const sub = rec.client.getSubscription('chat:recovery');
  assert.ok(sub);
  const offsets: number[] = [];
  sub.on('message', (_e, _d, meta) => offsets.push(meta.offset));
  await suite.server.sb.publish('chat:recovery', 'said', 'a');
  await waitFor(() => offsets.length === 1, 3000, 'first message');

  await outage(p, rec, async () => {
    await suite.server.sb.publish('chat:recovery', 'said', 'b');
    await suite.server.sb.publish('chat:recovery', 'said', 'c');
  });
  await waitFor(() => offsets.length === 3, 5000, 'the missed messages');
  await suite.server.sb.publish('chat:recovery', 'said', 'd');
  await waitFor(() => offsets.length === 4, 3000, 'live again');
  await delay(50);
  assert.deepEqual(offsets, [1, 2, 3, 4]);
  assert.equal(made.length, 2);
  assert.equal(made[1]!.recovered, true);
  assert.equal(sub.serverMade, true);
});

test('after a server restart the client reconnects on its own and is told the stream was reset', async () => {
  let first: TestServer | null = await startServer();
  const { port } = first;
  let second: TestServer | null = null;
  try {
    const rec = makeClient({ url: first.wsUrl, token: await first.token('nia', 'customer', 3600) });
    await within(rec.client.connect(), 3000, 'connect');
    const sub = rec.client.subscribe('room:restart');
    const seen: string[] = [];
    const unrecovered: UnrecoveredInfo[] = [];
    sub.on('message', (_e, _d, meta) => seen.push(`${meta.epoch}/${meta.offset}`));
    sub.on('unrecovered', (info) => unrecovered.push(info));
    const { epoch: oldEpoch } = await within(sub.ready, 3000, 'subscribed');
    await first.sb.publish('room:restart', 'n', 1);
    await first.sb.publish('room:restart', 'n', 2);
    await waitFor(() => seen.length === 2, 3000, 'two publications');

    await first.close();
    first = null;
    await waitFor(() => rec.states.some((s) => s.state === 'disconnected'), 3000, 'the disconnect');
    const shutdown = rec.states.find((s) => s.state === 'disconnected');
    assert.ok(shutdown?.state === 'disconnected' && shutdown.code === 4000 && shutdown.willReconnect);

    // Same port, same secret: the old token still verifies; the in-memory streams are gone.
    second = await startServer({ port });
    await waitConnected(rec, 2, 5000);
    await waitFor(() => unrecovered.length === 1, 3000, 'the unrecovered signal');
    const info = unrecovered[0]!;
    assert.equal(info.reason, 'epoch_changed');
    assert.deepEqual(info.since, { epoch: oldEpoch, offset: 2 });
    assert.notEqual(info.position.epoch, oldEpoch);

    await second.sb.publish('room:restart', 'n', 3);
    await waitFor(() => seen.length === 3, 3000, 'delivery on the new server');
    assert.equal(seen[2], `${info.position.epoch}/1`);
  } finally {
    closeClients();
    await first?.close();
    await second?.close();
  }
});

test('a recovery reply that stops short of the position it reports is treated as unrecovered, not a silent gap', async () => {
  const { WebSocket } = tamperable({
    incoming: (text) => {
      const frame = JSON.parse(text) as { op: string; ok?: boolean; result?: { recovered?: boolean; publications?: unknown[] } };
      if (frame.op === 'reply' && frame.ok && frame.result?.recovered === true && (frame.result.publications?.length ?? 0) > 0) {
        frame.result.publications!.pop(); // as a buggy or truncating server would
        return [JSON.stringify(frame)];
      }
      return [text];
    },
  });
  const p = await suite.proxy();
  const rec = makeClient({ url: p.wsUrl, token: await suite.server.token('lena'), WebSocket });
  await within(rec.client.connect(), 3000, 'connect');
  const sub = rec.client.subscribe('room:short');
  const offsets: number[] = [];
  const unrecovered: UnrecoveredInfo[] = [];
  sub.on('message', (_e, _d, meta) => offsets.push(meta.offset));
  sub.on('unrecovered', (info) => unrecovered.push(info));
  await within(sub.ready, 3000, 'subscribed');
  await suite.server.sb.publish('room:short', 'n', 1);
  await waitFor(() => offsets.length === 1, 3000, 'a live publication');

  // Kept off while 2..4 are published: a reconnect in between would recover only part of them.
  await outage(p, rec, async () => {
    for (let i = 2; i <= 4; i++) await suite.server.sb.publish('room:short', 'n', i);
  });
  await waitConnected(rec, 2);
  await waitFor(() => unrecovered.length === 1, 3000, 'the unrecovered signal');
  assert.deepEqual(offsets, [1], 'nothing from the incomplete recovery is delivered');
  await suite.server.sb.publish('room:short', 'n', 5);
  await waitFor(() => offsets.length === 2, 3000, 'live delivery after the refetch signal');
  assert.deepEqual(offsets, [1, 5]);
});
