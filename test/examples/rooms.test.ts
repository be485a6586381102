import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, test } from 'node:test';
import type { MessageFrame, SubscribedFrame, UnsubscribedFrame } from '@switchboard/client/protocol';
import { builtinModules, newId, nowIso } from 'switchboard';
import { roomChannel, roomsModule, type MessageView, type Notice, type RoomSnapshot, type RoomView } from '../../examples/rooms/index.js';
import { forEachEngine, suiteApp, type ApiAnswer, type TestApp } from '../helpers/app.js';
import { WsTestClient } from '../helpers/ws-client.js';

// The example module run for real: a full node (the shop and the rooms) on SQLite and PostgreSQL,
// REST over HTTP, clients over real WebSockets.

interface User {
  token: string;
  id: string;
}

function expectStatus<T>(res: ApiAnswer<T>, status: number, what: string): T {
  assert.equal(res.status, status, `${what}: expected HTTP ${status}, got ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body;
}

function expectError(res: ApiAnswer, status: number, code: string, what: string): void {
  assert.equal(res.status, status, `${what}: expected HTTP ${status} ${code}, got ${res.status}: ${JSON.stringify(res.body)}`);
  assert.equal(res.body?.error?.code, code, `${what}: ${JSON.stringify(res.body)}`);
}

forEachEngine('example: team rooms', (engine) => {
  const t = suiteApp(engine, { modules: [...builtinModules, roomsModule] });
  let manager: User;
  before(async () => {
    const token = await t.loginAs('manager');
    manager = { token, id: (await t.request('GET', '/api/me', { token })).body.user.id };
  });

  const createRoom = async (owner: User, name = 'Front desk'): Promise<RoomView> => expectStatus(await t.request<RoomView>('POST', '/api/rooms', { token: owner.token, body: { name } }), 201, 'create a room');
  const addMember = async (owner: User, room: RoomView, member: User): Promise<RoomView> =>
    expectStatus(await t.request<RoomView>('POST', `/api/rooms/${room.id}/members`, { token: owner.token, body: { userId: member.id } }), 201, 'add a member');
  const post = async (author: User, room: RoomView, text: string): Promise<MessageView> =>
    expectStatus(await t.request<MessageView>('POST', `/api/rooms/${room.id}/messages`, { token: author.token, body: { text } }), 201, 'post a message');
  const view = async (user: User, room: RoomView): Promise<RoomView> => expectStatus(await t.request<RoomView>('GET', `/api/rooms/${room.id}`, { token: user.token }), 200, 'GET the room');

  /** A room with an owner and one member, both fresh users of the demo tenant. */
  async function roomWithMember(): Promise<{ room: RoomView; owner: User; member: User }> {
    const [owner, member] = await Promise.all([t.newCustomer('Olive Owner'), t.newCustomer('Milo Member')]);
    const room = await createRoom(owner);
    await addMember(owner, room, member);
    return { room, owner, member };
  }

  const connect = (user: User): Promise<WsTestClient> => WsTestClient.open(t.wsUrl, { token: user.token });
  const subscribe = (client: WsTestClient, room: RoomView): Promise<{ snapshot: RoomSnapshot }> => client.ok({ op: 'subscribe', channel: roomChannel(room.id) });
  const nextEvent = async (client: WsTestClient, room: RoomView, event: string): Promise<MessageFrame> =>
    (await client.nextMatching((f) => f.op === 'message' && f.channel === roomChannel(room.id) && f.event === event, 5000, `${event} on ${roomChannel(room.id)}`)) as MessageFrame;
  const aliasUrl = (room: RoomView): string => t.wsUrl.replace(/\/ws$/, `/ws/rooms/${room.id}/`);

  void test('a member subscribes and sees a message posted over REST, as the REST call answered it', async () => {
    const { room, owner, member } = await roomWithMember();
    const client = await connect(member);
    await subscribe(client, room);

    const posted = await post(owner, room, 'The 10:00 delivery is at gate 3');
    assert.equal(posted.author.id, owner.id);
    assert.equal(posted.author.name, 'Olive Owner');
    const pushed = await nextEvent(client, room, 'message');
    assert.deepEqual(pushed.data, posted, 'the message pushed is the message stored');
    await client.disconnect();
  });

  void test('the snapshot is the room as GET /api/rooms/:id shows it, with who is online and the notices still in history', async () => {
    const { room, owner, member } = await roomWithMember();
    await post(owner, room, 'first');
    await post(member, room, 'second');
    const ownerClient = await connect(owner);
    await subscribe(ownerClient, room);
    await eventually(async () => (await t.app.sb.presence(roomChannel(room.id))).some((p) => p.user === owner.id), 5000, 'the owner in presence');
    const notice = expectStatus(await t.request<Notice>('POST', `/api/rooms/${room.id}/announce`, { token: manager.token, body: { text: 'Doors close at 18:00' } }), 200, 'announce');
    assert.deepEqual((await nextEvent(ownerClient, room, 'system')).data, notice, 'the notice is pushed');

    const memberClient = await connect(member);
    const { snapshot } = await subscribe(memberClient, room);
    const stored = await view(member, room);
    assert.deepEqual(stored.messages.map((m) => m.text), ['first', 'second']);
    assert.deepEqual(stored.members.map((m) => [m.name, m.role]), [['Olive Owner', 'owner'], ['Milo Member', 'member']]);
    assert.deepEqual(snapshot, { ...stored, online: [owner.id], notices: [notice] });
    await Promise.all([ownerClient.disconnect(), memberClient.disconnect()]);
  });

  void test('anyone but a member is refused: forbidden on every op, 404 over REST, close 4501 on the alias', async () => {
    const { room, owner } = await roomWithMember();
    const stranger = await t.newCustomer('Stan Stranger');
    const client = await connect(stranger);
    const channel = roomChannel(room.id);
    for (const frame of [
      { op: 'subscribe', channel },
      { op: 'history', channel },
      { op: 'presence', channel },
      { op: 'publish', channel, event: 'typing', data: { user: stranger.id } },
    ]) {
      const reply = await client.request(frame);
      assert.equal(!reply.ok && reply.error.code, 'forbidden', `${frame.op}: ${JSON.stringify(reply)}`);
    }
    expectError(await t.request('GET', `/api/rooms/${room.id}`, { token: stranger.token }), 404, 'not_found', 'GET');
    expectError(await t.request('POST', `/api/rooms/${room.id}/messages`, { token: stranger.token, body: { text: 'hi' } }), 404, 'not_found', 'post');
    expectError(await t.request('POST', `/api/rooms/${room.id}/members`, { token: stranger.token, body: { userId: stranger.id } }), 404, 'not_found', 'add oneself');
    const alias = await WsTestClient.open(aliasUrl(room), { token: stranger.token });
    assert.equal((await alias.closed(5000)).code, 4501);
    assert.ok(!alias.pending.some((r) => r.frame.op === 'subscribed'), 'never subscribed');
    await client.expectNoMessages(100, channel);
    await post(owner, room, 'members only');
    await client.expectNoMessages(300, channel);
    await client.disconnect();
  });

  void test('a member removed gets member_removed, then unsubscribed (forbidden), and nothing after; the others stay', async () => {
    const { room, owner, member } = await roomWithMember();
    const [memberClient, ownerClient] = await Promise.all([connect(member), connect(owner)]);
    await subscribe(memberClient, room);
    await subscribe(ownerClient, room);
    await memberClient.ok({ op: 'subscribe', channel: `user:${member.id}` });

    expectStatus(await t.request('DELETE', `/api/rooms/${room.id}/members/${member.id}`, { token: owner.token }), 204, 'remove the member');
    const removed = await nextEvent(memberClient, room, 'member_removed');
    assert.deepEqual(removed.data, { userId: member.id, by: owner.id });
    const ended = (await memberClient.nextMatching((f) => f.op === 'unsubscribed', 5000, 'unsubscribed')) as UnsubscribedFrame;
    assert.equal(ended.channel, roomChannel(room.id));
    assert.equal(ended.error.code, 'forbidden');
    const note = (await memberClient.nextMatching((f) => f.op === 'message' && f.channel === `user:${member.id}`, 5000, 'room_removed')) as MessageFrame;
    assert.deepEqual([note.event, note.data], ['room_removed', { roomId: room.id }]);

    await post(owner, room, 'after the removal');
    assert.equal(((await nextEvent(ownerClient, room, 'message')).data as MessageView).text, 'after the removal', 'the owner still receives');
    await memberClient.expectNoMessages(300, roomChannel(room.id));
    const again = await memberClient.request({ op: 'subscribe', channel: roomChannel(room.id) });
    assert.equal(!again.ok && again.error.code, 'forbidden', 'and may not come back');
    await Promise.all([memberClient.disconnect(), ownerClient.disconnect()]);
  });

  void test('the alias /ws/rooms/<id>/ subscribes a member with the snapshot, and messages follow', async () => {
    const { room, owner, member } = await roomWithMember();
    await post(owner, room, 'before you came');
    const client = await WsTestClient.open(aliasUrl(room), { token: member.token });
    const subscribed = (await client.nextMatching((f) => f.op === 'subscribed', 5000, 'the alias subscription')) as SubscribedFrame;
    assert.equal(subscribed.channel, roomChannel(room.id));
    const snapshot = subscribed.snapshot as RoomSnapshot;
    assert.deepEqual(snapshot.messages.map((m) => m.text), ['before you came']);
    await post(owner, room, 'welcome');
    assert.equal(((await nextEvent(client, room, 'message')).data as MessageView).text, 'welcome');
    await client.disconnect();
  });

  void test('a member may publish typing as itself; a message, or typing in another’s name, is forbidden', async () => {
    const { room, owner, member } = await roomWithMember();
    const [memberClient, ownerClient] = await Promise.all([connect(member), connect(owner)]);
    await subscribe(ownerClient, room);
    const channel = roomChannel(room.id);
    await memberClient.ok({ op: 'publish', channel, event: 'typing', data: { user: member.id } });
    assert.deepEqual((await nextEvent(ownerClient, room, 'typing')).data, { user: member.id });
    for (const [event, data] of [
      ['typing', { user: owner.id }],
      ['typing', { user: member.id, text: 'extra fields' }],
      ['message', { text: 'forged', author: { id: owner.id, name: 'Olive Owner' } }],
      // Data a typing event could carry, under another event: the rule looks at the event too.
      ['message', { user: member.id }],
      ['member_removed', { user: member.id }],
    ] as const) {
      const reply = await memberClient.request({ op: 'publish', channel, event, data });
      assert.equal(!reply.ok && reply.error.code, 'forbidden', `${event} ${JSON.stringify(data)}`);
    }
    await ownerClient.expectNoMessages(200, channel);
    await Promise.all([memberClient.disconnect(), ownerClient.disconnect()]);
  });

  void test('only the owner adds and removes; a member may leave; the owner stays; only users of the tenant can be added', async () => {
    const { room, owner, member } = await roomWithMember();
    const other = await t.newCustomer('Otto Other');
    expectError(await t.request('POST', `/api/rooms/${room.id}/members`, { token: member.token, body: { userId: other.id } }), 403, 'forbidden', 'a member adds');
    expectError(await t.request('POST', `/api/rooms/${room.id}/members`, { token: owner.token, body: { userId: member.id } }), 409, 'already_member', 'twice');
    expectError(await t.request('POST', `/api/rooms/${room.id}/members`, { token: owner.token, body: { userId: 'usr_nobody' } }), 422, 'unknown_user', 'nobody');
    expectError(await t.request('POST', `/api/rooms/${room.id}/members`, { token: owner.token, body: {} }), 400, 'invalid_body', 'no userId');
    expectError(await t.request('DELETE', `/api/rooms/${room.id}/members/${owner.id}`, { token: member.token }), 403, 'forbidden', 'a member removes the owner');
    expectError(await t.request('DELETE', `/api/rooms/${room.id}/members/${owner.id}`, { token: owner.token }), 409, 'owner_stays', 'the owner leaves');
    expectStatus(await t.request('DELETE', `/api/rooms/${room.id}/members/${member.id}`, { token: member.token }), 204, 'a member leaves');
    expectError(await t.request('GET', `/api/rooms/${room.id}`, { token: member.token }), 404, 'not_found', 'gone');

    const foreign = await foreignAccount(t);
    expectError(await t.request('POST', `/api/rooms/${room.id}/members`, { token: owner.token, body: { userId: foreign.id } }), 422, 'unknown_user', 'another tenant’s user');
    expectError(await t.request('POST', `/api/rooms/${room.id}/announce`, { token: owner.token, body: { text: 'hi' } }), 403, 'forbidden', 'a customer announces');
  });

  void test('a membership row naming a user of another tenant does not open the room: the rules check the tenant too', async () => {
    const { room } = await roomWithMember();
    const foreign = await foreignAccount(t);
    await t.app.domain.db.insertInto('room_members').values({ room_id: room.id, user_id: foreign.id, role: 'member', added_at: nowIso() }).execute();
    const client = await connect(foreign);
    const reply = await client.request({ op: 'subscribe', channel: roomChannel(room.id) });
    assert.equal(!reply.ok && reply.error.code, 'forbidden');
    expectError(await t.request('GET', `/api/rooms/${room.id}`, { token: foreign.token }), 404, 'not_found', 'GET');
    await client.disconnect();
  });
});

/** An account in a tenant of its own, made in the database (registration knows only the demo
 * tenant), with a token minted for it. */
async function foreignAccount(t: TestApp): Promise<User> {
  const tenant = newId('ten');
  const id = newId('usr');
  const now = nowIso();
  const { db } = t.app.domain;
  await db.insertInto('tenants').values({ id: tenant, slug: `other-${randomBytes(4).toString('hex')}`, name: 'Other Ltd', created_at: now }).execute();
  await db
    .insertInto('users')
    .values({ id, email: `${id}@other.example`, name: 'Fay Foreign', password_hash: 'not-a-hash', role: 'customer', tenant_id: tenant, created_at: now, disabled_at: null, deleted_at: null })
    .execute();
  return { id, token: await t.app.sb.mintToken({ user: id, role: 'customer', tenant }) };
}

/** Polls an async condition every 20 ms, naming what it waited for when it gives up. */
async function eventually(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
