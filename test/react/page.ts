/**
 * The page the hooks' browser tests drive (bundled by esbuild in hooks.test.ts, once against
 * React 19 and once against React 18). The test tells it what to render through
 * `window.sbTest.render(config)`; every component writes what it shows into `window.sbViews`
 * after each commit, and every subscribe and unsubscribe frame the client sends is recorded in
 * `window.sbSent`, so the test can count them.
 */
import { createElement as h, StrictMode, useEffect, version, type ReactElement } from 'react';
import { createRoot } from 'react-dom/client';
import { SwitchboardProvider, useChannel, useConnectionState, usePresence, type ChannelEvent } from '@switchboard/react';

interface CartLine {
  id: string;
  sku: string;
  quantity: number;
}
interface Cart {
  version: number;
  count: number;
  totalMinor: number;
  items: CartLine[];
}
type CartEvents = {
  cart_update: Cart;
  cart_item_added: { version: number; item: CartLine; added: number };
  cart_item_removed: { version: number; item: CartLine };
};

/** Follows the cart by its whole-cart updates; older versions (already in a snapshot) are skipped. */
function cartReducer(cart: Cart, event: ChannelEvent<CartEvents>): Cart {
  return event.event === 'cart_update' && event.data.version > cart.version ? event.data : cart;
}

export interface ViewConfig {
  kind: 'cart' | 'presence';
  /** Names the component: its key, and its entry in window.sbViews. */
  name: string;
  channel: string | null;
}
export interface RenderConfig {
  strict?: boolean;
  views: ViewConfig[];
}
export interface SentFrame {
  op: string;
  channel?: string;
  since?: unknown;
}
export interface CartShown {
  status: string;
  version: number | null;
  skus: string[];
  count: number | null;
  snapshotVersion: number | null;
  resyncedAt: number | null;
  lastEvent: string | null;
  error: string | null;
  /** cart_update callbacks this component received through `on`. */
  updates: number;
}
export interface PresenceShown {
  status: string;
  users: string[];
  error: string | null;
}

declare global {
  interface Window {
    sbTest: { render(config: RenderConfig): void; reactVersion: string };
    sbViews: Record<string, CartShown | PresenceShown>;
    sbSent: SentFrame[];
    sbConnection: string[];
  }
}

window.sbViews = {};
window.sbSent = [];
window.sbConnection = [];

/** The browser's WebSocket, recording what the client subscribes and unsubscribes. */
class RecordingWebSocket extends WebSocket {
  override send(data: string): void {
    const frame = JSON.parse(data) as SentFrame;
    if (frame.op === 'subscribe' || frame.op === 'unsubscribe') window.sbSent.push({ op: frame.op, channel: frame.channel, since: frame.since });
    super.send(data);
  }
}

const updatesSeen: Record<string, number> = {};

function CartView({ name, channel }: { name: string; channel: string | null }): ReactElement {
  const cart = useChannel<CartEvents, Cart>(channel, {
    reduce: cartReducer,
    on: {
      cart_update: () => {
        updatesSeen[name] = (updatesSeen[name] ?? 0) + 1;
      },
    },
  });
  useEffect(() => {
    window.sbViews[name] = {
      status: cart.status,
      version: cart.state?.version ?? null,
      skus: cart.state?.items.map((i) => `${i.sku}x${i.quantity}`).sort() ?? [],
      count: cart.state?.count ?? null,
      snapshotVersion: cart.snapshot?.version ?? null,
      resyncedAt: cart.resyncedAt,
      lastEvent: cart.lastEvent?.event ?? null,
      error: cart.error?.code ?? null,
      updates: updatesSeen[name] ?? 0,
    };
  });
  return h('p', { id: name }, `${cart.status}: ${cart.state ? `${cart.state.count} items, v${cart.state.version}` : '…'}`);
}

function PresenceView({ name, channel }: { name: string; channel: string | null }): ReactElement {
  const presence = usePresence(channel);
  useEffect(() => {
    window.sbViews[name] = { status: presence.status, users: [...presence.users].sort(), error: presence.error?.code ?? null };
  });
  return h('p', { id: name }, presence.users.join(', '));
}

function Banner(): ReactElement {
  const connection = useConnectionState();
  useEffect(() => {
    if (window.sbConnection.at(-1) !== connection.status) window.sbConnection.push(connection.status);
  }, [connection.status]);
  return h('p', { id: 'banner' }, connection.status);
}

const params = new URLSearchParams(location.search);
const url = params.get('ws')!;
const token = params.get('token')!;
const root = createRoot(document.getElementById('root')!);

window.sbTest = {
  reactVersion: version,
  render(config) {
    const views = config.views.map((v) => h(v.kind === 'cart' ? CartView : PresenceView, { key: v.name, name: v.name, channel: v.channel }));
    const app = h(
      SwitchboardProvider,
      { url, getToken: () => token, WebSocket: RecordingWebSocket, backoff: { minMs: 50, maxMs: 200 } },
      h(Banner),
      ...views,
    );
    root.render(config.strict ? h(StrictMode, null, app) : app);
  },
};
