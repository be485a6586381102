/**
 * The Django Channels frame style on path aliases, over real WebSockets: what a seed frontend that
 * switches on `data.type` gets and may send, its heartbeat, and the native frames left as they were.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { CloseCodes } from '@switchboard/client/protocol';
import type { Transport } from '../../src/core/realtime/transport.js';
import { suiteApp } from '../helpers/app.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { delay, waitFor, WsTestClient, wsSuiteServer } from '../helpers/ws-client.js';
import { addItem, catalogue, expectStatus, getCart, type Catalogue, type CartView } from '../commerce/support.js';

type Frame = Record<string, unknown> & { type?: string };

/** The next frame as the Channels frontend sees it (an object it switches on by `type`). */
async function nextFrame(client: WsTestClient, timeoutMs?: number): Promise<Frame> {
  const { text } = await client.nextRaw(timeoutMs);
  const frame = JSON.parse(text) as Frame;
  assert.ok(!('op' in frame), `a Channels connection got an op frame: ${text}`);
  return frame;
}

/** The next frame of `type` (others, e.g. presence, are left queued). */
async function nextOfType(client: WsTestClient, type: string, timeoutMs?: number): Promise<Frame> {
  return (await client.nextMatching((f) => (f as Frame).type === type, timeoutMs, `a ${type} frame`)) as unknown as Frame;
}

function aliasUrl(wsUrl: string, path: string): string {
  return wsUrl.replace(/\/ws$/, path);
}

void describe('Channels frames on the cart alias (the seed 000 frontend)', () => {
  const t = suiteApp('sqlite');
  let cat: Catalogue;
  before(async () => {
    cat = await catalogue(t, await t.loginAs('customer'));
  });

  void test('connection_established comes first, with the user, the channels and the cart as snapshot; then a REST change arrives as {type: cart_item_added} and {type: cart_update}', async () => {
    const { id, token } = await t.newCustomer();
    const mug = cat.product('MUG-01');
    const before = expectStatus(await addItem(t, token, { productId: mug.id, quantity: 1 }), 201) as CartView;

    const tab = await WsTestClient.open(aliasUrl(t.wsUrl, '/ws/cart/user/'), { token });
    const established = await nextFrame(tab);
    assert.equal(established.type, 'connection_established');
    assert.deepEqual(established.user, { id, role: 'customer', tenant: (established.user as { tenant: string }).tenant });
    assert.deepEqual(established.channels, [`cart:${id}`]);
    assert.deepEqual(established.snapshot, before, 'the snapshot is the current cart');
    assert.equal(typeof established.session, 'string');

    const after = expectStatus(await addItem(t, token, { productId: mug.id, quantity: 2 }), 201) as CartView;
    const added = await nextFrame(tab, 5000);
    assert.equal(added.type, 'cart_item_added');
    assert.equal(added.added, 2);
    assert.equal((added.item as { productId: string }).productId, mug.id);
    const update = await nextFrame(tab, 5000);
    // {type: event, ...data}: exactly the cart the REST call answered, with its type in front.
    assert.deepEqual(update, { type: 'cart_update', ...after });
    assert.equal(update.count, 3);
    await tab.disconnect();
  });

  void test('the switchboard_token cookie authenticates it (no connect frame), as the session cookie did in Django', async () => {
    const { id, token } = await t.newCustomer();
    const tab = await WsTestClient.open(aliasUrl(t.wsUrl, '/ws/cart/'), { cookie: `switchboard_token=${encodeURIComponent(token)}` });
    const established = await nextFrame(tab);
    assert.equal(established.type, 'connection_established');
    assert.deepEqual(established.channels, [`cart:${id}`]);
    await tab.disconnect();
  });

  void test('a client {type: cart_update} frame is refused with {type: error, code: forbidden}: the server owns the cart; the connection lives on', async () => {
    const { token } = await t.newCustomer();
    const tab = await WsTestClient.open(aliasUrl(t.wsUrl, '/ws/cart/user/'), { token });
    assert.equal((await nextFrame(tab)).type, 'connection_established');
    // What the seed's sendCartUpdate() sends.
    tab.send({ type: 'cart_update', count: 5, total: 2500.0, items: [] });
    const refused = await nextFrame(tab);
    assert.equal(refused.type, 'error');
    assert.equal(refused.code, 'forbidden');
    assert.match(String(refused.message), /publish is not allowed on cart:/);
    expectStatus(await addItem(t, token, { productId: cat.product('MUG-01').id, quantity: 1 }), 201);
    assert.equal((await nextOfType(tab, 'cart_update', 5000)).count, 1, 'and REST changes still arrive');
    assert.equal((await getCart(t, token)).count, 1, 'the refused frame changed nothing');
    await tab.disconnect();
  });

  void test('without a cookie or ?token= the connection is closed 4500 at once, with no frame', async () => {
    const tab = await WsTestClient.open(aliasUrl(t.wsUrl, '/ws/cart/user/'));
    const closed = await tab.closed();
    assert.equal(closed.code, CloseCodes.unauthorized);
    assert.match(closed.reason, /switchboard_token/);
    assert.deepEqual(tab.pending, []);
  });

  void test('?frames=switchboard gives native frames on the same alias; an unknown ?frames= is refused with 400', async () => {
    const { id, token } = await t.newCustomer();
    const tab = await WsTestClient.open(aliasUrl(t.wsUrl, '/ws/cart/user/?frames=switchboard'), { token });
    assert.equal((await tab.expectOp('welcome')).user?.id, id);
    assert.equal((await tab.expectOp('subscribed')).channel, `cart:${id}`);
    await tab.assertAlive();
    await tab.disconnect();
    const refused = await WsTestClient.refused(aliasUrl(t.wsUrl, '/ws/cart/user/?frames=django'), { token });
    assert.equal(refused.status, 400);
    assert.equal((JSON.parse(refused.body) as { error: { code: string } }).error.code, 'bad_request');
  });
});

void describe('Channels frames on the chat alias: client frames publish where the namespace allows it', () => {
  const server = wsSuiteServer();

  async function join(user: string, room: string): Promise<WsTestClient> {
    const tab = await WsTestClient.open(aliasUrl(server.wsUrl, `/ws/chat/${room}/`), { token: await server.token(user) });
    const established = await nextFrame(tab);
    assert.equal(established.type, 'connection_established');
    assert.deepEqual(established.channels, [`chat:${room}`]);
    return tab;
  }

  void test('{type: chat_message, ...} reaches everyone in the room, the sender included, as the same frame; presence is {type: presence}', async () => {
    const ann = await join('ann', 'lobby');
    assert.deepEqual(await nextOfType(ann, 'presence'), { type: 'presence', action: 'join', channel: 'chat:lobby', user: 'ann' });
    const ben = await join('ben', 'lobby');
    assert.deepEqual(await nextOfType(ann, 'presence'), { type: 'presence', action: 'join', channel: 'chat:lobby', user: 'ben' });
    ann.send({ type: 'chat_message', message: 'hi', room: 'lobby' });
    for (const tab of [ann, ben]) assert.deepEqual(await nextOfType(tab, 'chat_message'), { type: 'chat_message', message: 'hi', room: 'lobby' });
    const stored = await server.sb.history('chat:lobby');
    assert.deepEqual(stored.publications.at(-1)?.data, { message: 'hi', room: 'lobby' }, 'published as event chat_message with the rest as data');
    await ben.disconnect();
    assert.deepEqual(await nextOfType(ann, 'presence'), { type: 'presence', action: 'leave', channel: 'chat:lobby', user: 'ben' });
    await ann.disconnect();
  });

  void test("one connection's frames are published in the order it sent them", async () => {
    const tab = await join('cal', 'ordered');
    for (let i = 0; i < 30; i++) tab.send({ type: 'said', i });
    const got: number[] = [];
    while (got.length < 30) got.push((await nextOfType(tab, 'said')).i as number);
    assert.deepEqual(got, [...Array(30).keys()]);
    await tab.disconnect();
  });

  void test('refused frames get {type: error}: a server type, an op frame, no type, bad JSON; the connection lives on', async () => {
    const tab = await join('dee', 'errors');
    const cases: [string, string, RegExp][] = [
      [JSON.stringify({ type: 'connection_established' }), 'bad_request', /server's own/],
      [JSON.stringify({ type: 'error', code: 'x' }), 'bad_request', /server's own/],
      [JSON.stringify({ op: 'ping', id: 1 }), 'bad_request', /\?frames=switchboard/],
      [JSON.stringify({ message: 'no type' }), 'bad_request', /type must be/],
      [JSON.stringify({ type: 'has space' }), 'bad_request', /type must be/],
      ['{not json', 'bad_frame', /not valid JSON/],
      ['[1,2]', 'bad_frame', /JSON object/],
    ];
    for (const [text, code, message] of cases) {
      tab.sendText(text);
      const error = await nextOfType(tab, 'error');
      assert.equal(error.code, code, text);
      assert.match(String(error.message), message, text);
    }
    tab.send({ type: 'still_here' });
    assert.deepEqual(await nextOfType(tab, 'still_here'), { type: 'still_here' });
    await tab.disconnect();
  });

  void test('/ws/notifications/ refuses client frames: the user namespace lets no client publish', async () => {
    const tab = await WsTestClient.open(aliasUrl(server.wsUrl, '/ws/notifications/'), { token: await server.token('eve') });
    assert.deepEqual((await nextFrame(tab)).channels, ['user:eve']);
    tab.send({ type: 'mark_read', id: 3 });
    const refused = await nextFrame(tab);
    assert.deepEqual([refused.type, refused.code], ['error', 'forbidden']);
    await tab.disconnect();
  });

  void test('publication data becomes the frame: objects spread after type, anything else under data, a different own type nested', async () => {
    const tab = await join('fay', 'shapes');
    const cases: [string, unknown, Frame][] = [
      ['note', { title: 'hi', n: 1 }, { type: 'note', title: 'hi', n: 1 }],
      ['empty', {}, { type: 'empty' }],
      ['count', 42, { type: 'count', data: 42 }],
      ['text', 'plain', { type: 'text', data: 'plain' }],
      ['list', [1, 2], { type: 'list', data: [1, 2] }],
      ['nothing', null, { type: 'nothing', data: null }],
      // The Django habit of repeating the type in the payload: sent as is.
      ['same', { type: 'same', x: 1 }, { type: 'same', x: 1 }],
      // Another type: the event is what the frontend switches on, so data is nested whole.
      ['alert', { type: 'warning', x: 1 }, { type: 'alert', data: { type: 'warning', x: 1 } }],
      // "type" deeper down is just data.
      ['deep', { item: { type: 'mug' } }, { type: 'deep', item: { type: 'mug' } }],
    ];
    for (const [event, data, expected] of cases) {
      await server.sb.publish('chat:shapes', event, data);
      assert.deepEqual(await nextOfType(tab, expected.type!), expected, event);
    }
    await tab.disconnect();
  });

  void test('native frames on /ws are unchanged (and ?frames= is ignored there): welcome, replies, op message for the same publication', async () => {
    const native = await WsTestClient.open(`${server.wsUrl}?frames=channels`, { token: await server.token('gus') });
    const welcome = await native.expectOp('welcome');
    assert.equal(welcome.user?.id, 'gus');
    const subscribed = await native.ok<{ offset: number }>({ op: 'subscribe', channel: 'chat:both' });
    const channels = await join('hal', 'both');
    const position = await server.sb.publish('chat:both', 'said', { text: 'to both' });
    const message = await native.nextMatching((f) => f.op === 'message');
    assert.deepEqual(message, { op: 'message', channel: 'chat:both', event: 'said', data: { text: 'to both' }, epoch: position.epoch, offset: subscribed.offset + 1, time: (message as { time: string }).time });
    assert.deepEqual(await nextOfType(channels, 'said'), { type: 'said', text: 'to both' });
    await native.disconnect();
    await channels.disconnect();
  });
});

void describe('Channels frames: a subscription the server ends, and anonymous connections', () => {
  /** Who may read gated:<key>; a `revoke` event makes every node ask again. */
  const readers = new Set<string>();
  const server = wsSuiteServer({
    allowAnonymous: true,
    setup: (sb) => {
      sb.defineNamespace('gated', { subscribe: (ctx) => ctx.user !== null && readers.has(ctx.user.id), recheckOn: ['revoke'] });
      sb.addRoute('/ws/gated/:id/', ({ id }) => [`gated:${id}`], { frames: 'channels' });
      sb.addRoute('/ws/news/', () => ['public:news'], { frames: 'channels' });
    },
  });

  void test('losing the right to read: the event that removed the user, then {type: error, code: forbidden, channel}, then close 4501', async () => {
    readers.add('ivy');
    const tab = await WsTestClient.open(aliasUrl(server.wsUrl, '/ws/gated/g1/'), { token: await server.token('ivy') });
    assert.deepEqual((await nextFrame(tab)).channels, ['gated:g1']);
    readers.delete('ivy');
    await server.sb.publish('gated:g1', 'revoke', { who: 'ivy' });
    assert.deepEqual(await nextFrame(tab), { type: 'revoke', who: 'ivy' });
    const ended = await nextFrame(tab);
    assert.deepEqual([ended.type, ended.code, ended.channel], ['error', 'forbidden', 'gated:g1']);
    assert.equal((await tab.closed()).code, CloseCodes.forbidden);
  });

  void test('with anonymous access on, a Channels connection without a token is anonymous (user null) where the alias allows it', async () => {
    await server.sb.publish('public:news', 'headline', { text: 'before' });
    const tab = await WsTestClient.open(aliasUrl(server.wsUrl, '/ws/news/'));
    const established = await nextFrame(tab);
    assert.equal(established.type, 'connection_established');
    assert.equal(established.user, null);
    assert.deepEqual(established.channels, ['public:news']);
    await server.sb.publish('public:news', 'headline', { text: 'after' });
    assert.deepEqual(await nextFrame(tab), { type: 'headline', text: 'after' });
    // Nobody publishes to public from a client.
    tab.send({ type: 'headline', text: 'mine' });
    assert.equal((await nextFrame(tab)).code, 'forbidden');
    await tab.disconnect();
    // An alias the anonymous user may not use closes 4501, as with a token.
    const refused = await WsTestClient.open(aliasUrl(server.wsUrl, '/ws/notifications/'));
    assert.equal((await refused.closed()).code, CloseCodes.forbidden);
  });
});

/** A transport that records what it is sent, to see which Buffers fan-out hands each socket. */
class RecordingTransport implements Transport {
  readonly sent: (Buffer | string)[] = [];
  bufferedAmount = 0;
  send(frame: Buffer | string): void {
    this.sent.push(frame);
  }
  close(): void {}
  ping(): void {}
}

void describe('fan-out builds each publication once per frame style', () => {
  const server = wsSuiteServer({ listen: false });

  void test('every Channels subscriber gets the same Buffer, every native one another single Buffer', async () => {
    const transports: { style: 'channels' | 'switchboard'; transport: RecordingTransport }[] = [];
    for (const [i, style] of (['channels', 'switchboard', 'channels', 'switchboard', 'channels', 'switchboard'] as const).entries()) {
      const query = `token=${await server.token(`u${i}`)}${style === 'switchboard' ? '&frames=switchboard' : ''}`;
      const decision = await server.sb.gateway.accept({ url: `/ws/chat/fanout/?${query}`, headers: { host: 'switchboard.test' } });
      assert.ok(decision.ok);
      const transport = new RecordingTransport();
      decision.open(transport);
      transports.push({ style, transport });
    }
    // Subscribed once connection_established (Channels) or subscribed (native) is out.
    await waitFor(() => transports.every(({ transport }) => transport.sent.some((f) => /"type":"connection_established"|"op":"subscribed"/.test(f.toString()))), 3000, 'every alias subscribed');
    await delay(50);
    for (const { transport } of transports) transport.sent.length = 0;
    await server.sb.publish('chat:fanout', 'said', { text: 'once' });
    await waitFor(() => transports.every(({ transport }) => transport.sent.some((f) => f.toString().includes('once'))), 3000, 'the publication everywhere');
    const frameOf = (t: RecordingTransport) => t.sent.find((f) => f.toString().includes('once'))!;
    const channelsFrames = new Set(transports.filter((x) => x.style === 'channels').map((x) => frameOf(x.transport)));
    const nativeFrames = new Set(transports.filter((x) => x.style === 'switchboard').map((x) => frameOf(x.transport)));
    assert.equal(channelsFrames.size, 1, 'one Buffer for every Channels subscriber');
    assert.equal(nativeFrames.size, 1, 'one Buffer for every native subscriber');
    const [channelsFrame] = channelsFrames;
    const [nativeFrame] = nativeFrames;
    assert.ok(Buffer.isBuffer(channelsFrame) && Buffer.isBuffer(nativeFrame));
    assert.deepEqual(JSON.parse(channelsFrame.toString()), { type: 'said', text: 'once' });
    assert.equal((JSON.parse(nativeFrame.toString()) as { op: string }).op, 'message');
    for (const session of [...server.sb.gateway.sessions]) server.sb.gateway.onClosed(session);
  });
});

void describe('the heartbeat of Channels connections: WebSocket pings, answered by the client library', () => {
  const HEARTBEAT_MS = 300;
  let server: TestServer;
  before(async () => {
    server = await startServer({ limits: { heartbeatMs: HEARTBEAT_MS } });
  });
  // after(): closed in the last test, so no hook ordering with wsSuiteServer is needed.

  /** A raw client, like a browser's WebSocket: `autoPong` as browsers do (true) or not. */
  async function openRaw(path: string, token: string, autoPong: boolean) {
    const ws = new WebSocket(`${aliasUrl(server.wsUrl, path)}?token=${encodeURIComponent(token)}`, { autoPong });
    const texts: string[] = [];
    let pings = 0;
    let closed: { code: number; reason: string } | null = null;
    ws.on('message', (data: Buffer) => texts.push(data.toString('utf8')));
    ws.on('ping', () => pings++);
    ws.on('close', (code: number, reason: Buffer) => (closed = { code, reason: reason.toString() }));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return { ws, texts, pings: () => pings, closed: () => closed as { code: number; reason: string } | null };
  }

  void test('an idle Channels client that only answers WebSocket pings stays connected past several heartbeats; one that does not is closed 4001; /ws still sends {"op":"ping"}', async () => {
    try {
      const idle = await openRaw('/ws/chat/quiet/', await server.token('ida'), true);
      const mute = await openRaw('/ws/chat/quiet/', await server.token('max'), false);
      await delay(HEARTBEAT_MS * 6);
      assert.equal(idle.closed(), null, `the idle client was closed: ${JSON.stringify(idle.closed())}`);
      assert.ok(idle.pings() >= 3, `WebSocket pings received: ${idle.pings()}`);
      assert.ok(!idle.texts.some((t) => t.includes('"op"')), `no op frame on a Channels connection: ${idle.texts.join(' ')}`);
      assert.equal(mute.closed()?.code, CloseCodes.heartbeatTimeout, 'a client that answers no ping is closed 4001');
      // It still works after the wait: a frame it sends is published.
      idle.ws.send(JSON.stringify({ type: 'awake' }));
      await waitFor(() => idle.texts.some((t) => t === '{"type":"awake"}'), 3000, 'its own publication');

      const native = await WsTestClient.open(server.wsUrl, { token: await server.token('ned'), autoPong: false });
      await native.expectOp('welcome');
      let wsPings = 0;
      native.ws.on('ping', () => wsPings++);
      assert.deepEqual(await native.next(HEARTBEAT_MS * 3), { op: 'ping' });
      assert.equal(wsPings, 0, 'native connections get no WebSocket pings');
      assert.equal((await native.closed(HEARTBEAT_MS * 6)).code, CloseCodes.heartbeatTimeout, 'and a native client that answers nothing is closed 4001 as before');
      idle.ws.close();
    } finally {
      await WsTestClient.closeAll();
      await server.close();
    }
  });
});
