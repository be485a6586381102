import assert from 'node:assert/strict';
import { readdirSync, readlinkSync } from 'node:fs';
import { test } from 'node:test';
import { builtinModules } from '../../src/modules/index.js';
import type { SwitchboardModule } from '../../src/core/module.js';
import { startApp } from '../helpers/app.js';

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
