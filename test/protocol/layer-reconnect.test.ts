import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CloseCodes } from '@switchboard/client/protocol';
import { allow } from '../../src/core/channels/namespaces.js';
import { loadConfig } from '../../src/core/config.js';
import type { HistoryOptions, HistoryPage, LayerHandlers } from '../../src/core/layer/channel-layer.js';
import { MemoryLayer } from '../../src/core/layer/memory-layer.js';
import { Switchboard } from '../../src/core/switchboard.js';
import { TestClient } from '../../src/core/testing/index.js';
import { TEST_SECRET } from '../helpers/server.js';

/** The memory layer never loses its subscriptions; this one can say it did, as a broker layer
 * does after an outage. While `gate` is set, history reads wait for it (a subscribe in progress). */
class ReconnectingLayer extends MemoryLayer {
  handlers: LayerHandlers | null = null;
  gate: Promise<void> | null = null;
  override async start(handlers: LayerHandlers): Promise<void> {
    this.handlers = handlers;
    await super.start(handlers);
  }
  override async history(channel: string, options?: HistoryOptions): Promise<HistoryPage> {
    if (this.gate) await this.gate;
    return super.history(channel, options);
  }
}

/** A node on a ReconnectingLayer with `room:*` open to any authenticated user, closed after `body`. */
async function withNode(body: (sb: Switchboard, layer: ReconnectingLayer) => Promise<void>): Promise<void> {
  const config = loadConfig({ SWITCHBOARD_ENV: 'test' });
  config.jwtSecret = TEST_SECRET;
  config.dataDir = await mkdtemp(join(tmpdir(), 'switchboard-reconnect-'));
  const layer = new ReconnectingLayer();
  const sb = await Switchboard.create({ config, layer });
  sb.defineNamespace('room', { subscribe: allow.authenticated });
  try {
    await body(sb, layer);
  } finally {
    await sb.close();
    await rm(config.dataDir, { recursive: true, force: true });
  }
}

void test('after the layer resubscribes, live subscribers of those channels are closed 4000 (counted) to recover', async () => {
  await withNode(async (sb, layer) => {
    const open = async (user: string, channel: string) => {
      const client = await TestClient.connect(sb, { token: await sb.mintToken({ user, role: 'customer' }) });
      await client.receive(); // welcome
      assert.equal((await client.request({ op: 'subscribe', channel })).ok, true);
      return client;
    };
    const affected = await open('a', 'room:lost');
    const other = await open('b', 'room:kept');
    layer.handlers!.resubscribed!(['room:lost']);
    assert.equal((await affected.closed()).code, CloseCodes.shutdown);
    assert.equal((await other.request({ op: 'ping' })).ok, true, 'other channels are untouched');
    const metrics = await sb.metrics.registry.getSingleMetricAsString('switchboard_closes_total');
    assert.match(metrics, /switchboard_closes_total\{code="4000"\} 1/);
    other.disconnect();
  });
});

void test('a subscribe still in progress when the layer resubscribes is closed 4000 too, so it retries', async () => {
  await withNode(async (sb, layer) => {
    const client = await TestClient.connect(sb, { token: await sb.mintToken({ user: 'mid', role: 'customer' }) });
    await client.receive(); // welcome
    let open!: () => void;
    layer.gate = new Promise<void>((resolve) => (open = resolve));
    client.sendJson({ op: 'subscribe', id: 1, channel: 'room:mid' });
    // The subscribe has joined the channel (pending) and waits in its history read.
    for (let i = 0; i < 20 && sb.hub.channelCount() === 0; i++) await new Promise((r) => setTimeout(r, 5));
    layer.handlers!.resubscribed!(['room:mid']);
    assert.equal((await client.closed()).code, CloseCodes.shutdown);
    layer.gate = null;
    open();
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(sb.hub.channelCount(), 0, 'the abandoned subscribe leaves nothing behind');
  });
});
