import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CloseCodes, type MessageFrame, type PresenceResult, type SubscribeResult } from '@switchboard/client/protocol';
import { Cluster } from '../helpers/cluster.js';
import { inspector, redisUnavailable } from '../helpers/redis.js';
import { collectMessages, delay, WsTestClient } from '../helpers/ws-client.js';

const PRESENCE_TIMEOUT_MS = 3000;
const skip = await redisUnavailable();

/** Three real nodes on one Redis: what one node publishes, stores or counts, the others see. */
void describe('three nodes on one Redis', { skip }, () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await Cluster.start(['a', 'b', 'c'], {
      env: { SWITCHBOARD_MAX_CONNECTIONS_PER_USER: '2', SWITCHBOARD_PRESENCE_TIMEOUT_MS: String(PRESENCE_TIMEOUT_MS) },
    });
  });
  after(async () => {
    await WsTestClient.closeAll();
    await cluster?.stop();
  });

  async function open(node: string, user: string): Promise<WsTestClient> {
    const client = await WsTestClient.open(cluster.node(node).wsUrl, { token: await cluster.token(user) });
    await client.expectOp('welcome');
    return client;
  }

  void test('every node is ready', async () => {
    for (const node of cluster.nodes) assert.equal((await fetch(`${node.url}/readyz`, { signal: AbortSignal.timeout(3000) })).status, 200, node.name);
  });

  void test('a client on node a receives, in order, what is published over HTTP on node c; a client on b recovers it from history', async () => {
    const channel = 'chat:across';
    const onA = await open('a', 'ann');
    const subscribed = await onA.ok<SubscribeResult>({ op: 'subscribe', channel });
    const positions: { offset: number }[] = [];
    for (let i = 1; i <= 20; i++) positions.push(await cluster.publish(cluster.node('c'), channel, 'said', { i }));
    const got = await collectMessages(onA, channel, 20);
    assert.deepEqual(got.map((m) => m.offset), positions.map((p) => p.offset));
    assert.deepEqual(got.map((m) => (m.data as { i: number }).i), Array.from({ length: 20 }, (_, i) => i + 1));
    assert.ok(got.every((m) => m.epoch === subscribed.epoch));

    // Resuming on another node: the position from node a is good on node b.
    const onB = await open('b', 'ann');
    const resumed = await onB.ok<SubscribeResult>({ op: 'subscribe', channel, since: { epoch: got[9]!.epoch, offset: got[9]!.offset } });
    assert.equal(resumed.recovered, true);
    assert.deepEqual(resumed.publications.map((p) => p.offset), got.slice(10).map((m) => m.offset));
    // A client publishing on b reaches a as well.
    const own = await onB.ok<{ offset: number }>({ op: 'publish', channel, event: 'said', data: { i: 21 } });
    const [live] = (await collectMessages(onA, channel, 1)) as [MessageFrame];
    assert.equal(live.offset, own.offset);
    await onA.disconnect();
    await onB.disconnect();
  });

  void test('presence spans nodes: joins and leaves reach every node, a user with tabs on two nodes is listed once', async () => {
    const channel = 'chat:presence';
    const watcher = await open('b', 'watcher');
    await watcher.ok({ op: 'subscribe', channel });
    const tabA = await open('a', 'pat');
    await tabA.ok({ op: 'subscribe', channel });
    await watcher.nextMatching((f) => f.op === 'join' && f.user === 'pat', 3000, "pat's join");
    const tabC = await open('c', 'pat');
    await tabC.ok({ op: 'subscribe', channel });
    for (const client of [watcher, tabA, tabC]) {
      const listed = await client.ok<PresenceResult>({ op: 'presence', channel });
      assert.deepEqual(listed.users.map((u) => u.user).sort(), ['pat', 'watcher']);
    }
    await tabA.disconnect();
    await delay(200);
    assert.ok(!watcher.pending.some((r) => r.frame.op === 'leave'), 'one tab closing is not a leave');
    await tabC.disconnect();
    await watcher.nextMatching((f) => f.op === 'leave' && f.user === 'pat', 3000, "pat's leave");
    assert.equal(watcher.pending.filter((r) => r.frame.op === 'join' && r.frame.user === 'pat').length, 0, 'joined once');
    await watcher.disconnect();
  });

  void test('connections per user are limited across nodes', async () => {
    const first = await open('a', 'limited');
    const second = await open('b', 'limited');
    const third = await WsTestClient.open(cluster.node('c').wsUrl, { token: await cluster.token('limited') });
    assert.equal((await third.closed(3000)).code, CloseCodes.tooManyConnections);
    await first.disconnect();
    // Released on a: c admits the user again (the release may take a moment to reach Redis).
    let admitted: WsTestClient | null = null;
    for (let i = 0; i < 20 && !admitted; i++) {
      const attempt = await WsTestClient.open(cluster.node('c').wsUrl, { token: await cluster.token('limited') });
      const first = await attempt.next(3000).catch(() => null);
      if (first?.op === 'welcome') admitted = attempt;
      else await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(admitted, 'admitted on c once a connection on a closed');
    await admitted.disconnect();
    await second.disconnect();
  });

  void test('a node stopped with SIGTERM closes its clients with 4000, takes its users out of presence everywhere, and exits 0', async () => {
    const channel = 'chat:goodbye';
    const watcher = await open('a', 'stayer');
    await watcher.ok({ op: 'subscribe', channel });
    const leaving = await open('b', 'leaver');
    await leaving.ok({ op: 'subscribe', channel });
    await watcher.nextMatching((f) => f.op === 'join' && f.user === 'leaver', 3000, "leaver's join");
    assert.equal(await cluster.terminate(cluster.node('b')), 0);
    // Not left to the sweep of dead nodes: the node took itself out of the node set on the way.
    const redis = inspector();
    try {
      assert.equal(await redis.zcard(`${cluster.prefix}nodes`), 2);
    } finally {
      await redis.quit();
    }
    assert.equal((await leaving.closed(3000)).code, CloseCodes.shutdown);
    await watcher.nextMatching((f) => f.op === 'leave' && f.user === 'leaver', 3000, "leaver's leave");
    assert.deepEqual((await watcher.ok<PresenceResult>({ op: 'presence', channel })).users.map((u) => u.user), ['stayer']);
    await watcher.disconnect();
  });

  void test(`a node killed with SIGKILL stops counting within ${PRESENCE_TIMEOUT_MS} ms: its users leave on the other nodes, their connection slots free up`, async (t) => {
    const channel = 'chat:afterlife';
    const watchers = [await open('a', 'watch-a'), await open('a', 'watch-a2')];
    for (const w of watchers) await w.ok({ op: 'subscribe', channel });
    const ghost = await open('c', 'ghost');
    await ghost.ok({ op: 'subscribe', channel });
    const ghost2 = await open('c', 'ghost');
    for (const w of watchers) await w.nextMatching((f) => f.op === 'join' && f.user === 'ghost', 3000, "ghost's join");

    const killedAt = Date.now();
    await cluster.kill(cluster.node('c'));
    await ghost.closed(3000);
    await ghost2.closed(3000);
    const tookMs: number[] = [];
    for (const w of watchers) {
      await w.nextMatching((f) => f.op === 'leave' && f.user === 'ghost', PRESENCE_TIMEOUT_MS + 5000, "ghost's leave");
      tookMs.push(Date.now() - killedAt);
    }
    t.diagnostic(`leave seen by both watchers ${tookMs.join(' and ')} ms after SIGKILL (bound ${PRESENCE_TIMEOUT_MS} ms)`);
    assert.ok(Math.max(...tookMs) <= PRESENCE_TIMEOUT_MS, `leave after ${Math.max(...tookMs)} ms`);
    for (const w of watchers) {
      const listed = await w.ok<PresenceResult>({ op: 'presence', channel });
      assert.deepEqual(listed.users.map((u) => u.user).sort(), ['watch-a', 'watch-a2']);
      await delay(100);
      assert.equal(w.pending.filter((r) => r.frame.op === 'leave').length, 0, 'one leave per node');
    }
    // The dead node's two connections no longer count against the limit of 2.
    const back1 = await open('a', 'ghost');
    const back2 = await open('a', 'ghost');
    await back1.disconnect();
    await back2.disconnect();
    for (const w of watchers) await w.disconnect();
  });
});
