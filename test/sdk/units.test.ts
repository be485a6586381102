import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { SwitchboardClient, SwitchboardError, backoffDelay, jwtExpiry } from '@switchboard/client';
import { delay, waitFor } from './support.js';

/** Pure pieces of the SDK, and its types: no server needed. */

type CartEvents = { cart_update: { items: number }; cart_item_added: { sku: string } };

/** Compile-time checks of the typed API; only type-checked, never called. */
export function typeChecks(client: SwitchboardClient): void {
  const sub = client.subscribe<CartEvents, { total: number }>('cart:1');
  sub.on('cart_update', (data, meta) => {
    const items: number = data.items;
    const offset: number = meta.offset;
    void items;
    void offset;
  });
  // @ts-expect-error cart_item_added carries { sku }, not { items }
  sub.on('cart_item_added', (data) => data.items);
  // @ts-expect-error not an event of the map
  sub.on('cart_removed', () => undefined);
  sub.on('message', (event, _data, publication) => {
    const name: 'cart_update' | 'cart_item_added' = event;
    void name;
    if (publication.event === 'cart_update') {
      const items: number = publication.data.items;
      void items;
    }
  });
  sub.on('message', (event) => event);
  sub.on('snapshot', (snapshot) => {
    const total: number = snapshot.total;
    void total;
  });
  sub.on('unrecovered', (info) => {
    const reason: 'epoch_changed' | 'history_pruned' = info.reason;
    void reason;
  });
  const untyped = client.subscribe('room:1');
  untyped.on('whatever_event', (data: unknown) => data);
  client.on('state', (change) => {
    if (change.state === 'disconnected') {
      const again: boolean = change.willReconnect;
      void again;
    }
  });
}

test('backoff is full jitter under an exponential, capped ceiling', () => {
  const options = { minMs: 250, maxMs: 15_000 };
  assert.equal(backoffDelay(0, options, () => 0), 0);
  assert.equal(backoffDelay(0, options, () => 0.999999), 249);
  assert.equal(backoffDelay(3, options, () => 0.5), 1000);
  assert.equal(backoffDelay(10, options, () => 0.5), 7500, 'capped at maxMs');
  assert.equal(backoffDelay(10_000, options, () => 0.5), 7500, 'huge attempt counts stay finite');
  for (let i = 0; i < 100; i++) {
    const d = backoffDelay(4, options);
    assert.ok(d >= 0 && d < 4000);
  }
});

test('jwtExpiry reads exp from a base64url JWT payload, without Buffer', () => {
  const encode = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const token = `${encode({ alg: 'HS256' })}.${encode({ sub: 'zoë ✓', exp: 1_900_000_000 })}.sig`;
  assert.equal(jwtExpiry(token), 1_900_000_000_000);
  assert.equal(jwtExpiry(`${encode({ alg: 'HS256' })}.${encode({ sub: 'x' })}.sig`), null);
  assert.equal(jwtExpiry('garbage'), null);
  assert.equal(jwtExpiry('a.!!!.c'), null);
});

test('the client needs a WebSocket implementation and a URL', () => {
  // Node 20 has no global WebSocket: the error says what to pass.
  if (typeof (globalThis as { WebSocket?: unknown }).WebSocket === 'undefined') {
    assert.throws(() => new SwitchboardClient({ url: 'ws://127.0.0.1:1/ws' }), /options\.WebSocket/);
  }
  assert.throws(() => new SwitchboardClient({ url: '', WebSocket }), /url/);
  const client = new SwitchboardClient({ url: 'ws://127.0.0.1:1/ws', WebSocket });
  assert.equal(client.state, 'disconnected');
  assert.equal(client.connection, null);
  client.close();
});

test('errors carry code, temporary and field', () => {
  const fromReply = SwitchboardError.fromReply({ code: 'rate_limited', message: 'slow down', temporary: true });
  assert.equal(fromReply.code, 'rate_limited');
  assert.equal(fromReply.temporary, true);
  const local = new SwitchboardError('not_connected');
  assert.equal(local.temporary, true, 'defaults come from the protocol catalogue');
  assert.ok(local instanceof Error);
  assert.equal(new SwitchboardError('timeout').temporary, true);
  assert.equal(new SwitchboardError('forbidden').temporary, false);
});

test('a connect attempt to a closed port keeps retrying with backoff until close()', async () => {
  const client = new SwitchboardClient({ url: 'ws://127.0.0.1:1/ws', WebSocket, backoff: { minMs: 5, maxMs: 20 } });
  try {
    let attempts = 0;
    client.on('state', (s) => {
      if (s.state === 'connecting') attempts += 1;
    });
    const connecting = client.connect();
    await waitFor(() => attempts >= 3, 5000, 'three attempts');
    client.close();
    await assert.rejects(connecting, (err: unknown) => err instanceof SwitchboardError && err.code === 'client_closed');
    const after = attempts;
    await delay(100);
    assert.equal(attempts, after, 'no attempts after close()');
  } finally {
    client.close();
  }
});
