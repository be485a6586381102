import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { ServerFrame } from '@switchboard/client/protocol';
import { builtinModules, createApp, loadConfig, type App } from 'switchboard';
import { TestClient } from 'switchboard/testing';
import { roomsModule } from '../../examples/rooms/index.js';
import { reseedModules } from '../../src/app.js';

// The rooms module tested the way the guide shows: a whole node in the test process (SQLite in a
// temporary folder, the demo accounts), REST through Fastify's inject and WebSocket frames through
// TestClient. No port, no socket.

let app: App;
let dataDir: string;
before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'rooms-'));
  const config = loadConfig({ SWITCHBOARD_ENV: 'test', SWITCHBOARD_DATA: dataDir, SWITCHBOARD_DEMO_DATA: 'true' });
  app = await createApp({ config, modules: [...builtinModules, roomsModule] });
});
after(async () => {
  await app.sb.close();
  await rm(dataDir, { recursive: true, force: true });
});

/** A REST call, in-process. */
async function call(token: string, method: 'GET' | 'POST' | 'DELETE', url: string, payload?: object) {
  const res = await app.sb.http.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(payload ? { payload } : {}) });
  return res.body ? res.json() : null;
}

async function signIn(email: string, password: string): Promise<{ token: string; id: string }> {
  const res = await app.sb.http.inject({ method: 'POST', url: '/api/auth/login', payload: { email, password } });
  const { token, user } = res.json<{ token: string; user: { id: string } }>();
  return { token, id: user.id };
}

/** The next frame that is not a presence event. */
async function nextFrame(client: TestClient): Promise<ServerFrame> {
  for (;;) {
    const frame = await client.receive(2000);
    if (frame.op !== 'join' && frame.op !== 'leave') return frame;
  }
}

test('a member sees messages posted over REST until the owner removes them', async () => {
  const owner = await signIn('manager@demo.test', 'manager-demo');
  const member = await signIn('worker@demo.test', 'worker-demo');
  const room = await call(owner.token, 'POST', '/api/rooms', { name: 'Front desk' });
  await call(owner.token, 'POST', `/api/rooms/${room.id}/members`, { userId: member.id });

  const client = await TestClient.connect(app.sb, { token: member.token });
  assert.equal((await client.receive()).op, 'welcome');
  const reply = await client.request({ op: 'subscribe', channel: `room:${room.id}` });
  assert.ok(reply.ok, JSON.stringify(reply));

  const posted = await call(owner.token, 'POST', `/api/rooms/${room.id}/messages`, { text: 'Parcel at the desk' });
  const pushed = await nextFrame(client);
  assert.ok(pushed.op === 'message' && pushed.event === 'message');
  assert.deepEqual(pushed.data, posted);

  await call(owner.token, 'DELETE', `/api/rooms/${room.id}/members/${member.id}`);
  const removed = await nextFrame(client);
  assert.ok(removed.op === 'message' && removed.event === 'member_removed');
  const ended = await nextFrame(client);
  assert.ok(ended.op === 'unsubscribed' && ended.error.code === 'forbidden');
  client.disconnect();
});

test('reloading the demo data with the rooms module deletes the rooms before the users they name', async () => {
  const owner = await signIn('manager@demo.test', 'manager-demo');
  await call(owner.token, 'POST', '/api/rooms', { name: 'Doomed' });
  await reseedModules(app.modules, app.domain, loadConfig({ SWITCHBOARD_ENV: 'test', SWITCHBOARD_DATA: dataDir }), app.domain.log);
  assert.deepEqual(await app.domain.db.selectFrom('rooms').select('id').execute(), []);
  assert.ok(await app.domain.db.selectFrom('users').select('id').where('email', '=', 'manager@demo.test').executeTakeFirst(), 'the demo accounts are back');
});
