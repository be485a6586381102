import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { createElement as h, type ReactElement } from 'react';
import { renderToString } from 'react-dom/server';
import WebSocket from 'ws';
import * as api from '@switchboard/react';
import { SwitchboardClient, SwitchboardProvider, useChannel, useConnectionState, usePresence, type ChannelEvent } from '@switchboard/react';

/** The package as Node (and TypeScript, for the checks below) resolves it: by name, from its exports. */

interface Cart {
  version: number;
  count: number;
}
type CartEvents = { cart_update: Cart; cart_item_removed: { version: number; item: { id: string } } };

test('@switchboard/react resolves in Node by its name and exports the provider and the hooks', async () => {
  assert.deepEqual(
    Object.keys(api).sort(),
    ['SwitchboardClient', 'SwitchboardError', 'SwitchboardProvider', 'useChannel', 'useConnectionState', 'usePresence', 'useSwitchboard'],
  );
  const pkg = JSON.parse(await readFile(join(import.meta.dirname, '..', '..', '..', 'packages', 'react', 'package.json'), 'utf8')) as Record<string, Record<string, string>>;
  assert.deepEqual(Object.keys(pkg.dependencies ?? {}), ['@switchboard/client'], 'no dependency beyond the SDK');
  assert.deepEqual(Object.keys(pkg.peerDependencies ?? {}), ['react']);
});

test('rendered on a server, the hooks say connecting and nothing is opened', () => {
  const client = new SwitchboardClient({ url: 'ws://127.0.0.1:9/ws', token: 'x', WebSocket });
  function Badge(): ReactElement {
    const { status, state } = useChannel<CartEvents, Cart>('cart:42', { reduce: (cart, e) => (e.event === 'cart_update' ? e.data : cart) });
    const presence = usePresence('chat:lobby');
    const connection = useConnectionState();
    return h('p', null, `${connection.status}/${status}/${state?.count ?? '-'}/${presence.status}`);
  }
  const html = renderToString(h(SwitchboardProvider, { client }, h(Badge)));
  assert.equal(html, '<p>connecting/connecting/-/connecting</p>');
  assert.equal(client.state, 'disconnected', 'effects (connect, subscribe) do not run on a server');
  assert.deepEqual(client.subscriptions, []);
});

test('outside a provider the hooks say where they belong', () => {
  function Lost(): ReactElement {
    useChannel('cart:42');
    return h('p');
  }
  assert.throws(() => renderToString(h(Lost)), /inside <SwitchboardProvider>/);
});

// Type checks: compiled with the tests, so a regression in the typings fails the build.
export function typed(): void {
  const reduce = (cart: Cart, event: ChannelEvent<CartEvents>): Cart => {
    if (event.event === 'cart_item_removed') return { ...cart, version: event.data.version, count: cart.count - 1 };
    // @ts-expect-error -- narrowed by `event`: a cart_update carries a Cart, which has no `item`
    if (event.event === 'cart_update') return event.data.item;
    return cart;
  };
  function Typed(): ReactElement {
    const cart = useChannel<CartEvents, Cart>('cart:42', {
      reduce,
      on: {
        cart_update: (data, meta) => void [data.version, meta.offset],
        // @ts-expect-error -- not an event of the map
        cart_deleted: () => undefined,
      },
    });
    const version: number | undefined = cart.state?.version;
    // @ts-expect-error -- the state may be undefined until the snapshot arrives
    const count: number = cart.state.count;
    return h('p', null, version, count);
  }
  void Typed;
}
