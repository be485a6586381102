import assert from 'node:assert/strict';
import { readdirSync, readlinkSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../src/core/config.js';
import { MemoryLayer } from '../../src/core/layer/memory-layer.js';
import { Switchboard } from '../../src/core/switchboard.js';
import { builtinModules } from '../../src/modules/index.js';
import type { SwitchboardModule } from '../../src/core/module.js';
import { startApp } from '../helpers/app.js';
import { TEST_SECRET } from '../helpers/server.js';

/** The SQLite database files this process holds open. */
function openDatabases(): string[] {
  return readdirSync('/proc/self/fd').flatMap((fd) => {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      return target.endsWith('switchboard.db') ? [target] : [];
    } catch {
      return []; // closed since it was listed
    }
  });
}

/**
 * createApp opened the database and the core (on Redis: its connections and the node's heartbeat,
 * which keep the process alive) before installing the modules; when a module's install threw, all
 * of it stayed open, with nothing left to close it by.
 */
test('createApp: a module that fails to install leaves the database and the core closed', async () => {
  const broken: SwitchboardModule = {
    name: 'broken',
    install() {
      throw new Error('this module cannot install');
    },
  };
  const before = openDatabases();
  await assert.rejects(startApp({ engine: 'sqlite', demo: false, modules: [...builtinModules, broken] }), /this module cannot install/);
  assert.deepEqual(openDatabases(), before);
});

/** The same one level down: the layer and presence (on Redis, its connections) were made before the
 * node subscribed to its account events, and a failure there left them open. */
test('Switchboard.create: a layer that cannot subscribe the account events is closed again', async () => {
  class NoSubscribe extends MemoryLayer {
    closed = false;
    override subscribe(): Promise<void> {
      return Promise.reject(new Error('cannot subscribe'));
    }
    override close(): Promise<void> {
      this.closed = true;
      return super.close();
    }
  }
  const layer = new NoSubscribe();
  const dataDir = await mkdtemp(join(tmpdir(), 'switchboard-create-'));
  try {
    const config = loadConfig({ SWITCHBOARD_ENV: 'test', SWITCHBOARD_DATA: dataDir, SWITCHBOARD_JWT_SECRET: TEST_SECRET });
    await assert.rejects(Switchboard.create({ config, layer }), /cannot subscribe/);
    assert.equal(layer.closed, true);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
