import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { MessageFrame, ServerFrame } from '@switchboard/client/protocol';
import { allow } from '../../src/core/channels/namespaces.js';
import { loadConfig } from '../../src/core/config.js';
import type { LayerHandlers } from '../../src/core/layer/channel-layer.js';
import { MemoryLayer } from '../../src/core/layer/memory-layer.js';
import { MemoryPresence } from '../../src/core/presence/memory-presence.js';
import type { PresenceChange } from '../../src/core/presence/presence-store.js';
import { Switchboard } from '../../src/core/switchboard.js';
import { TestClient } from '../../src/core/testing/index.js';
import { TEST_SECRET } from '../helpers/server.js';
import { delay } from '../helpers/wait.js';

/** A broker's pub/sub and its history reads travel on different connections: a publication can
 * reach the node after a history read that already holds it. This layer delivers 30 ms late. */
class LaggingLayer extends MemoryLayer {
  override async start(handlers: LayerHandlers): Promise<void> {
    await super.start({ ...handlers, publication: (p) => setTimeout(() => handlers.publication(p), 30) });
  }
}

/** Joins answer slowly, leaves at once, as a remote store may. */
class SlowJoinPresence extends MemoryPresence {
  override async join(channel: string, user: string, client: string): Promise<PresenceChange> {
    await delay(40);
    return super.join(channel, user, client);
  }
}

async function node(options: { layer?: MemoryLayer; presence?: MemoryPresence }): Promise<{ sb: Switchboard; close: () => Promise<void> }> {
  const config = loadConfig({ SWITCHBOARD_ENV: 'test' });
  config.jwtSecret = TEST_SECRET;
  config.dataDir = await mkdtemp(join(tmpdir(), 'switchboard-lag-'));
  const sb = await Switchboard.create({ config, ...options });
  sb.defineNamespace('room', { subscribe: allow.authenticated, history: allow.authenticated, presence: allow.authenticated, trackPresence: true });
  return {
    sb,
    close: async () => {
      await sb.close();
      await rm(config.dataDir, { recursive: true, force: true });
    },
  };
}

async function connect(sb: Switchboard, user: string): Promise<TestClient> {
  const client = await TestClient.connect(sb, { token: await sb.mintToken({ user, role: 'customer' }) });
  assert.equal((await client.receive()).op, 'welcome');
  return client;
}

async function drain(client: TestClient, ms: number): Promise<ServerFrame[]> {
  const frames: ServerFrame[] = [];
  const until = Date.now() + ms;
  for (;;) {
    const left = until - Date.now();
    if (left <= 0) return frames;
    try {
      frames.push(await client.receive(left));
    } catch {
      return frames;
    }
  }
}

void test('a publication the subscribe reply already held is not sent again when the broker delivers it late', async () => {
  const { sb, close } = await node({ layer: new LaggingLayer() });
  try {
    const early = await connect(sb, 'early');
    assert.equal((await early.request({ op: 'subscribe', channel: 'room:lag' })).ok, true);
    for (let i = 1; i <= 3; i++) await sb.publish('room:lag', 'n', i);
    // 1..3 are in history and still on their way to this node.
    const late = await connect(sb, 'late');
    const reply = await late.request({ op: 'subscribe', channel: 'room:lag', since: { epoch: (await sb.history('room:lag', { limit: 0 })).position.epoch, offset: 0 } });
    assert.ok(reply.ok);
    assert.deepEqual((reply.result as { publications: { offset: number }[] }).publications.map((p) => p.offset), [1, 2, 3]);
    const fresh = await connect(sb, 'fresh');
    const plain = await fresh.request({ op: 'subscribe', channel: 'room:lag' });
    assert.ok(plain.ok && (plain.result as { offset: number }).offset === 3);
    await delay(60); // the late deliveries arrive
    await sb.publish('room:lag', 'n', 4);
    const offsets = async (c: TestClient) => (await drain(c, 150)).filter((f): f is MessageFrame => f.op === 'message').map((f) => f.offset);
    assert.deepEqual(await offsets(late), [4]);
    assert.deepEqual(await offsets(fresh), [4]);
    assert.deepEqual(await offsets(early), [1, 2, 3, 4]);
  } finally {
    await close();
  }
});

void test('with a presence store that answers late, a quick unsubscribe still leaves: join and leave of a session stay in order', async () => {
  const presence = new SlowJoinPresence();
  const { sb, close } = await node({ presence });
  try {
    const watcher = await connect(sb, 'watcher');
    assert.equal((await watcher.request({ op: 'subscribe', channel: 'room:order' })).ok, true);
    const quick = await connect(sb, 'quick');
    assert.equal((await quick.request({ op: 'subscribe', channel: 'room:order' })).ok, true);
    assert.equal((await quick.request({ op: 'unsubscribe', channel: 'room:order' })).ok, true);
    const events = (await drain(watcher, 300)).filter((f) => (f.op === 'join' || f.op === 'leave') && f.user === 'quick');
    assert.deepEqual(events.map((f) => f.op), ['join', 'leave']);
    assert.deepEqual((await presence.list('room:order')).map((m) => m.user), ['watcher']);
  } finally {
    await close();
  }
});
