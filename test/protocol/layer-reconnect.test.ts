import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CloseCodes } from '@switchboard/client/protocol';
import { allow } from '../../src/channels/namespaces.js';
import { loadConfig } from '../../src/config.js';
import type { LayerHandlers } from '../../src/layer/channel-layer.js';
import { MemoryLayer } from '../../src/layer/memory-layer.js';
import { Switchboard } from '../../src/switchboard.js';
import { TestClient } from '../../src/testing/index.js';
import { TEST_SECRET } from '../helpers/server.js';

/** The memory layer never loses its subscriptions; this one can say it did, as a broker layer
 * does after an outage. */
class ReconnectingLayer extends MemoryLayer {
  handlers: LayerHandlers | null = null;
  override async start(handlers: LayerHandlers): Promise<void> {
    this.handlers = handlers;
    await super.start(handlers);
  }
}

void test('after the layer resubscribes, live subscribers of those channels are closed 4000 (counted) to recover', async () => {
  const config = loadConfig({ SWITCHBOARD_ENV: 'test' });
  config.jwtSecret = TEST_SECRET;
  config.dataDir = await mkdtemp(join(tmpdir(), 'switchboard-reconnect-'));
  const layer = new ReconnectingLayer();
  const sb = await Switchboard.create({ config, layer });
  sb.defineNamespace('room', { subscribe: allow.authenticated });
  try {
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
  } finally {
    await sb.close();
    await rm(config.dataDir, { recursive: true, force: true });
  }
});
