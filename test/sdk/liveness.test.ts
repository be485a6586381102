import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SwitchboardError, jwtExpiry } from '@switchboard/client';
import { delay, makeClient, useServer, waitConnected, waitFor, within } from './support.js';

/** Heartbeats and token lifetimes, with a server whose clocks are turned down to milliseconds. */

const suite = useServer({ limits: { heartbeatMs: 100, tokenGraceMs: 200 } });

test('answering pings keeps an idle connection open', async () => {
  const rec = makeClient({ url: suite.server.wsUrl, token: await suite.server.token('olga'), heartbeatSlackMs: 250 });
  const info = await within(rec.client.connect(), 3000, 'connect');
  assert.equal(info.heartbeat, 100);
  // The server drops clients silent for 2 heartbeats; the client drops servers silent for 350 ms.
  await delay(800);
  assert.equal(rec.disconnectedCount(), 0);
  assert.equal(rec.client.state, 'connected');
  await within(rec.client.ping(), 1000, 'ping');
});

test('a server gone silent is detected by the heartbeat watchdog and the client reconnects', async () => {
  const proxy = await suite.proxy();
  const rec = makeClient({ url: proxy.wsUrl, token: await suite.server.token('pete'), heartbeatSlackMs: 250 });
  await within(rec.client.connect(), 3000, 'connect');
  const sub = rec.client.subscribe('room:silence');
  const offsets: number[] = [];
  sub.on('message', (_e, _d, meta) => offsets.push(meta.offset));
  await within(sub.ready, 3000, 'subscribed');

  // The network goes quiet both ways, without closing anything.
  const frozenAt = Date.now();
  proxy.freeze();
  await suite.server.sb.publish('room:silence', 'n', 1); // lost on the frozen connection
  await waitFor(() => rec.disconnectedCount() === 1, 3000, 'heartbeat loss');
  const detectedAfter = Date.now() - frozenAt;
  const lost = rec.states.find((s) => s.state === 'disconnected');
  assert.ok(lost?.state === 'disconnected');
  assert.equal(lost.code, 4001);
  assert.equal(lost.willReconnect, true);
  assert.ok(detectedAfter >= 250 && detectedAfter < 1500, `detected after ${detectedAfter} ms`);

  await waitConnected(rec, 2, 3000);
  await waitFor(() => offsets.length === 1, 3000, 'the publication lost in the silence');
  assert.deepEqual(offsets, [1]);
});

test('refreshing the token before expiry keeps the connection past the original expiry', async () => {
  let minted = 0;
  const getToken = async () => {
    minted += 1;
    return suite.server.token('quinn', 'customer', 2);
  };
  const first = await suite.server.token('quinn', 'customer', 2);
  const expiry = jwtExpiry(first);
  assert.ok(expiry !== null);
  const rec = makeClient({ url: suite.server.wsUrl, token: first, getToken, heartbeatSlackMs: 250 });
  const refreshed: (string | null)[] = [];
  rec.client.on('refreshed', (r) => refreshed.push(r.expiresAt));
  const info = await within(rec.client.connect(), 3000, 'connect');
  assert.equal(info.expiresAt, new Date(expiry).toISOString());

  // Past the original expiry plus the server's grace, with margin.
  await delay(Math.max(0, expiry - Date.now()) + 200 + 600);
  assert.equal(rec.disconnectedCount(), 0, 'never disconnected');
  assert.ok(refreshed.length >= 1, 'refreshed at least once');
  assert.ok(minted >= 1);
  assert.ok(Date.parse(refreshed[refreshed.length - 1]!) > expiry);
  await within(rec.client.ping(), 1000, 'ping on the refreshed connection');
  assert.deepEqual(rec.errors, []);
});

test('without getToken an expired token ends the connection for good', async () => {
  const token = await suite.server.token('rita', 'customer', 1);
  const rec = makeClient({ url: suite.server.wsUrl, token, heartbeatSlackMs: 250 });
  await within(rec.client.connect(), 3000, 'connect');
  await waitFor(() => rec.disconnectedCount() === 1, 4000, 'the expiry close');
  const last = rec.lastState();
  assert.ok(last?.state === 'disconnected');
  assert.equal(last.code, 4004);
  assert.equal(last.willReconnect, false);
  assert.ok(last.error instanceof SwitchboardError && last.error.code === 'token_expired');
  await delay(200);
  assert.equal(rec.attempts(), 1);
});

test('a token that expired before connecting is replaced through getToken', async () => {
  const stale = await suite.server.token('sam', 'customer', 1);
  const expiry = jwtExpiry(stale)!;
  await delay(Math.max(0, expiry - Date.now()) + 50);
  let calls = 0;
  const rec = makeClient({
    url: suite.server.wsUrl,
    token: stale,
    getToken: () => {
      calls += 1;
      return suite.server.token('sam', 'customer', 60);
    },
  });
  const info = await within(rec.client.connect(), 3000, 'connect with a fresh token');
  assert.equal(info.user?.id, 'sam');
  assert.equal(calls, 1);
  assert.equal(rec.attempts(), 2);
  const refused = rec.states.find((s) => s.state === 'disconnected');
  assert.ok(refused?.state === 'disconnected' && refused.code === 4004 && refused.willReconnect);
});
