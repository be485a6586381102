/**
 * The node's figures on `ops:node`: published every interval whether or not anyone listens, so a
 * console opened late gets the last minutes in its snapshot; the numbers follow what the node does
 * (traffic, delivery, a blocked loop, an outbox backlog); only admins may read it; with Redis every
 * node's samples reach every console, tagged by node.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ServerFrame } from '@switchboard/client/protocol';
import { builtinModules, createConsoleModule } from '../../src/modules/index.js';
import { transact } from '../../src/core/domain/context.js';
import { OPS_CHANNEL, quantileFromBuckets, SAMPLE_EVENT, type NodeSample, type OpsSnapshot } from '../../src/modules/console/index.js';
import { startApp, suiteApp, type TestApp } from '../helpers/app.js';
import { deleteKeys, REDIS_URL, redisUnavailable, uniquePrefix } from '../helpers/redis.js';
import { delay, WsTestClient } from '../helpers/ws-client.js';
import { connected, demo, otherShop } from './support.js';

const FAST = 100;
const fastModules = () => [...builtinModules.filter((m) => m.name !== 'console'), createConsoleModule({ feedIntervalMs: FAST })];

/** Takes samples off the client until one passes `match`; fails after `timeoutMs`. */
async function sampleWhere(client: WsTestClient, match: (s: NodeSample) => boolean, timeoutMs = 5000, what = 'a matching sample'): Promise<NodeSample> {
  const deadline = Date.now() + timeoutMs;
  const seen: NodeSample[] = [];
  while (Date.now() < deadline) {
    let frame: ServerFrame;
    try {
      frame = await client.nextMatching((f) => f.op === 'message' && f.channel === OPS_CHANNEL, deadline - Date.now(), what);
    } catch {
      break;
    }
    if (frame.op !== 'message' || frame.event !== SAMPLE_EVENT) continue;
    const sample = frame.data as NodeSample;
    seen.push(sample);
    if (match(sample)) return sample;
  }
  assert.fail(`no ${what} within ${timeoutMs} ms; last samples: ${JSON.stringify(seen.slice(-3))}`);
}

void describe('quantileFromBuckets', () => {
  const bounds = [0.001, 0.005, 0.01, Infinity];
  void test('interpolates inside the bucket the rank falls in, as histogram_quantile does', () => {
    // 100 observations: 50 under 1 ms, 40 in 1-5 ms, 10 in 5-10 ms.
    assert.equal(quantileFromBuckets(bounds, [50, 90, 100, 100], 0.5), 0.001);
    assert.ok(Math.abs(quantileFromBuckets(bounds, [50, 90, 100, 100], 0.99)! - 0.0095) < 1e-9);
  });
  void test('no observations: null; past the last finite bound: that bound', () => {
    assert.equal(quantileFromBuckets(bounds, [0, 0, 0, 0], 0.99), null);
    assert.equal(quantileFromBuckets(bounds, [0, 0, 0, 10], 0.99), 0.01);
  });
});

void describe('the ops feed (memory layer)', () => {
  const t = suiteApp('sqlite', { modules: fastModules() });

  void test('is published with nobody listening, so a console opened late gets the last minutes in its snapshot', async () => {
    await delay(6 * FAST);
    const admin = await demo(t, 'admin');
    const client = await connected(t, admin.token);
    const result = await client.ok<{ snapshot: OpsSnapshot }>({ op: 'subscribe', channel: OPS_CHANNEL });
    const { samples, windowMs, intervalMs } = result.snapshot;
    assert.equal(windowMs, 5 * 60_000);
    assert.equal(intervalMs, FAST);
    assert.ok(samples.length >= 4, `samples before anyone subscribed: ${samples.length}`);
    const last = samples.at(-1)!;
    assert.equal(last.node, t.app.sb.nodeId);
    for (const key of ['connections', 'subscriptions', 'channels', 'messagesInPerSec', 'messagesOutPerSec', 'publicationsPerSec', 'loopLagP99Ms', 'loopLagMaxMs', 'rssBytes', 'heapUsedBytes', 'intervalMs'] as const) {
      assert.equal(typeof last[key], 'number', key);
    }
    assert.ok(last.rssBytes > 10_000_000, 'RSS in bytes');
    assert.match(last.host, /:\d+$/);
    // Then a sample each interval, live.
    const next = await sampleWhere(client, (s) => s.at > last.at, 2000, 'a newer sample');
    assert.ok(next.connections >= 1, 'counts the console itself');
    client.terminate();
  });

  void test('follows the traffic: messages in and out per second, publications, publish-to-deliver p99, subscriptions', async () => {
    const admin = await demo(t, 'admin');
    const customer = await demo(t, 'customer');
    const watcher = await connected(t, admin.token, [OPS_CHANNEL]);
    const subscribers = await Promise.all([1, 2, 3].map(() => connected(t, customer.token, [`tenant:${customer.tenant}`])));
    const stop = Date.now() + 1500;
    const traffic = (async () => {
      // Under each connection's message rate (50/s): the pings take turns.
      for (let i = 0; Date.now() < stop; i++) {
        await t.app.sb.publish(`tenant:${customer.tenant}`, 'tick', { at: Date.now() });
        await subscribers[i % subscribers.length]!.ok({ op: 'ping' });
        await delay(10);
      }
    })();
    const busy = await sampleWhere(watcher, (s) => s.messagesOutPerSec >= 30 && s.publicationsPerSec >= 5 && s.messagesInPerSec >= 5 && s.deliverP99Ms !== null, 5000, 'a sample with the traffic');
    await traffic;
    assert.ok(busy.subscriptions >= 4 && busy.channels >= 2 && busy.connections >= 4, JSON.stringify(busy));
    assert.ok(busy.deliverP99Ms! >= 0 && busy.deliverP99Ms! < 1000, JSON.stringify(busy));
    // Quiet again: the rates fall back (the feed's own publication is one a tick).
    await sampleWhere(watcher, (s) => s.messagesOutPerSec < 30 && s.messagesInPerSec < 5, 3000, 'a quiet sample');
    for (const c of [watcher, ...subscribers]) c.terminate();
  });

  void test('shows a blocked event loop, and the outbox backlog while the dispatcher is stopped', async () => {
    const admin = await demo(t, 'admin');
    const watcher = await connected(t, admin.token, [OPS_CHANNEL]);
    await sampleWhere(watcher, () => true, 2000, 'a first sample');
    const until = Date.now() + 150;
    while (Date.now() < until); // the loop is blocked for 150 ms
    await sampleWhere(watcher, (s) => s.loopLagMaxMs >= 100, 2000, 'a sample with the blocked loop');

    await t.app.dispatcher.stop();
    try {
      await transact(t.app.domain, async (unit) => {
        for (let i = 0; i < 3; i++) unit.emit({ channel: `tenant:${admin.id}`, event: 'held', data: { i } });
      });
      await sampleWhere(watcher, (s) => (s.outboxPending ?? 0) >= 3, 3000, 'a sample with the backlog');
    } finally {
      t.app.dispatcher.start();
    }
    await sampleWhere(watcher, (s) => s.outboxPending === 0, 5000, 'a sample with the backlog gone');
    watcher.terminate();
  });

  void test('only admins (of any shop) may read it; nobody may publish to it', async () => {
    for (const role of ['customer', 'worker', 'manager'] as const) {
      const client = await connected(t, (await demo(t, role)).token);
      const reply = await client.request({ op: 'subscribe', channel: OPS_CHANNEL });
      assert.equal(!reply.ok && reply.error.code, 'forbidden', role);
      client.terminate();
    }
    const other = await otherShop(t);
    const theirs = await connected(t, other.admin.token, [OPS_CHANNEL]);
    const reply = await theirs.request({ op: 'publish', channel: OPS_CHANNEL, event: SAMPLE_EVENT, data: { node: 'forged' } });
    assert.equal(!reply.ok && reply.error.code, 'forbidden');
    const bare = await theirs.request({ op: 'subscribe', channel: 'ops:other' });
    assert.equal(!bare.ok && bare.error.code, 'forbidden', 'ops has one channel, ops:node');
    theirs.terminate();
  });
});

void describe('the ops feed with two nodes on Redis', async () => {
  const skip = await redisUnavailable();
  let a: TestApp;
  let b: TestApp;
  const prefix = uniquePrefix('ops');
  before(async () => {
    if (skip) return;
    a = await startApp({ engine: 'sqlite', modules: fastModules(), redis: { url: REDIS_URL, prefix } });
    b = await startApp({ engine: 'sqlite', modules: fastModules(), redis: { url: REDIS_URL, prefix }, shareWith: a });
  });
  after(async () => {
    if (skip) return;
    await WsTestClient.closeAll();
    await b?.close();
    await a?.close();
    await deleteKeys(prefix);
  });

  void test("a console on either node gets both nodes' samples, each tagged with its node", { skip }, async () => {
    assert.notEqual(a.app.sb.nodeId, b.app.sb.nodeId);
    const admin = await demo(a, 'admin');
    await delay(4 * FAST);
    const client = await connected(b, admin.token);
    const { snapshot } = await client.ok<{ snapshot: OpsSnapshot }>({ op: 'subscribe', channel: OPS_CHANNEL });
    assert.deepEqual([...new Set(snapshot.samples.map((s) => s.node))].sort(), [a.app.sb.nodeId, b.app.sb.nodeId].sort());
    const nodes = new Set<string>();
    await sampleWhere(client, (s) => nodes.add(s.node).size === 2, 3000, "both nodes' live samples");
    client.terminate();
  });
});
