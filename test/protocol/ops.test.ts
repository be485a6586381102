import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { HistoryResult, PresenceResult, PublishResult, RefreshResult, StreamPosition } from '@switchboard/client/protocol';
import { allow } from '../../src/core/channels/namespaces.js';
import { TestClient } from '../../src/core/testing/index.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { connectAs, expectError, expectOk, rawToken, unique } from './support.js';

void describe('publish, presence, history, refresh, ping', () => {
  let server: TestServer;
  let alice: TestClient;
  before(async () => {
    server = await startServer({
      listen: false,
      setup: (sb) => {
        // Customers may be in the lobby; only staff see who is there.
        sb.defineNamespace('lobby', { subscribe: allow.authenticated, presence: allow.roles('staff'), trackPresence: true });
      },
    });
    alice = await connectAs(server, 'alice');
  });
  after(async () => {
    alice.disconnect();
    await server.close();
  });

  void describe('publish', () => {
    void test('allowed on room:: the result is the position and subscribers (the publisher too) get it', async () => {
      const channel = unique('room:pub-');
      const reader = await connectAs(server, 'reader');
      const writer = await connectAs(server, 'writer');
      expectOk(await reader.request({ op: 'subscribe', channel }));
      expectOk(await writer.request({ op: 'subscribe', channel }));
      const data = { text: 'héllo ✓', n: 1.5, list: [true, null], nested: { deep: { x: 'y' } } };
      const result = expectOk<PublishResult>(await writer.request({ op: 'publish', channel, event: 'chat.message', data }));
      assert.equal(typeof result.epoch, 'string');
      assert.equal(result.offset, 1);
      assert.deepEqual(Object.keys(result).sort(), ['epoch', 'offset']);
      for (const client of [reader, writer]) {
        const frames = [];
        for (;;) {
          const f = await client.receive();
          if (f.op === 'message') {
            assert.deepEqual([f.channel, f.event, f.data, f.epoch, f.offset], [channel, 'chat.message', data, result.epoch, 1]);
            break;
          }
          frames.push(f.op);
        }
        assert.ok(frames.every((op) => op === 'join'), `only presence before the message: ${frames.join()}`);
      }
      const second = expectOk<PublishResult>(await reader.request({ op: 'publish', channel, event: 'e', data: null }));
      assert.equal(second.offset, 2, 'null is valid data');
      writer.disconnect();
      reader.disconnect();
    });

    void test('allowed on nohist: and chat:, forbidden where the namespace has no publish rule', async () => {
      expectOk(await alice.request({ op: 'publish', channel: unique('nohist:p-'), event: 'e', data: 1 }));
      expectOk(await alice.request({ op: 'publish', channel: 'chat:lobby', event: 'e', data: 1 }));
      for (const channel of ['user:alice', 'user:bob', 'locked:x', 'public:news', 'admin:x', 'tenant:acme']) {
        const error = expectError(await alice.request({ op: 'publish', channel, event: 'e', data: 1 }), 'forbidden', 'channel');
        assert.match(error.message, /publish/);
      }
      // The server itself may publish there.
      await server.sb.publish('user:alice', 'notice', {});
    });

    void test('bad event names → bad_request naming event', async () => {
      for (const event of ['', 'has space', 'x'.repeat(65), 'émoji', 'a/b']) {
        expectError(await alice.request({ op: 'publish', channel: 'room:x', event, data: 1 }), 'bad_request', 'event');
      }
      expectError(await alice.request({ op: 'publish', channel: 'room:x', event: 7, data: 1 }), 'bad_request', 'event');
      expectOk(await alice.request({ op: 'publish', channel: 'room:x', event: `A-z_0.9:${'x'.repeat(56)}`, data: 1 }));
    });

    void test('missing data → bad_request naming data; bad channels → invalid_channel / unknown_namespace', async () => {
      expectError(await alice.request({ op: 'publish', channel: 'room:x', event: 'e' }), 'bad_request', 'data');
      expectError(await alice.request({ op: 'publish', channel: 'Room X', event: 'e', data: 1 }), 'invalid_channel', 'channel');
      expectError(await alice.request({ op: 'publish', channel: 'nope:x', event: 'e', data: 1 }), 'unknown_namespace', 'channel');
    });
  });

  void describe('presence', () => {
    void test('join/leave events; one entry per user with two connections; leave only when the last goes', async () => {
      const channel = unique('room:presence-');
      const watcher = await connectAs(server, 'wanda');
      expectOk(await watcher.request({ op: 'subscribe', channel }));
      assert.deepEqual(await watcher.receive(), { op: 'join', channel, user: 'wanda' });

      const b1 = await connectAs(server, 'bert');
      const b2 = await connectAs(server, 'bert');
      expectOk(await b1.request({ op: 'subscribe', channel }));
      assert.deepEqual(await watcher.receive(), { op: 'join', channel, user: 'bert' });
      expectOk(await b2.request({ op: 'subscribe', channel }));
      await watcher.expectSilence(50);

      const listed = expectOk<PresenceResult>(await watcher.request({ op: 'presence', channel }));
      assert.deepEqual(listed.users.map((u) => u.user).sort(), ['bert', 'wanda']);
      for (const u of listed.users) assert.ok(Math.abs(Date.parse(u.since) - Date.now()) < 5000, u.since);
      // Anyone the rule allows may ask, subscribed or not.
      const outsider = expectOk<PresenceResult>(await alice.request({ op: 'presence', channel }));
      assert.equal(outsider.users.length, 2);

      expectOk(await b1.request({ op: 'unsubscribe', channel }));
      await watcher.expectSilence(50);
      assert.equal(expectOk<PresenceResult>(await watcher.request({ op: 'presence', channel })).users.length, 2);
      b2.disconnect();
      assert.deepEqual(await watcher.receive(), { op: 'leave', channel, user: 'bert' });
      const after = expectOk<PresenceResult>(await watcher.request({ op: 'presence', channel }));
      assert.deepEqual(after.users.map((u) => u.user), ['wanda']);
      b1.disconnect();
      watcher.disconnect();
    });

    void test('an unsubscribed channel has no presence; a user whose subscription ends leaves', async () => {
      const channel = unique('room:presence-');
      assert.deepEqual(expectOk<PresenceResult>(await alice.request({ op: 'presence', channel })), { users: [] });
      const watcher = await connectAs(server, 'wes');
      expectOk(await watcher.request({ op: 'subscribe', channel }));
      await watcher.receive(); // own join
      const c = await connectAs(server, 'cleo');
      expectOk(await c.request({ op: 'subscribe', channel }));
      assert.deepEqual(await watcher.receive(), { op: 'join', channel, user: 'cleo' });
      expectOk(await c.request({ op: 'unsubscribe', channel }));
      assert.deepEqual(await watcher.receive(), { op: 'leave', channel, user: 'cleo' });
      c.disconnect();
      watcher.disconnect();
    });

    void test('forbidden without the rule; subscribers not allowed to see presence get no join/leave', async () => {
      expectError(await alice.request({ op: 'presence', channel: 'nohist:x' }), 'forbidden', 'channel');
      expectError(await alice.request({ op: 'presence', channel: 'user:alice' }), 'forbidden', 'channel');
      expectError(await alice.request({ op: 'presence', channel: 'locked:x' }), 'forbidden', 'channel');
      expectError(await alice.request({ op: 'presence', channel: 'nope:x' }), 'unknown_namespace', 'channel');

      const channel = unique('lobby:');
      const customer = await connectAs(server, 'cust');
      const staff = await connectAs(server, 'stef', 'staff');
      expectOk(await staff.request({ op: 'subscribe', channel }));
      assert.deepEqual(await staff.receive(), { op: 'join', channel, user: 'stef' });
      expectOk(await customer.request({ op: 'subscribe', channel }));
      assert.deepEqual(await staff.receive(), { op: 'join', channel, user: 'cust' });
      expectError(await customer.request({ op: 'presence', channel }), 'forbidden', 'channel');
      const listed = expectOk<PresenceResult>(await staff.request({ op: 'presence', channel }));
      assert.deepEqual(listed.users.map((u) => u.user).sort(), ['cust', 'stef']);
      staff.disconnect();
      await customer.expectSilence(50);
      customer.disconnect();
    });
  });

  void describe('history', () => {
    let channel: string;
    let positions: StreamPosition[];
    before(async () => {
      channel = unique('room:hist-');
      positions = [];
      for (let i = 1; i <= 5; i++) positions.push(await server.sb.publish(channel, `e${i}`, { i }));
    });

    void test('no since: the newest publications oldest first, the position, complete', async () => {
      const all = expectOk<HistoryResult>(await alice.request({ op: 'history', channel }));
      assert.deepEqual(all.publications.map((p) => [p.offset, p.event, p.data]), [1, 2, 3, 4, 5].map((i) => [i, `e${i}`, { i }]));
      assert.deepEqual({ epoch: all.epoch, offset: all.offset }, positions[4]);
      assert.equal(all.complete, true);
      for (const p of all.publications) assert.match(p.time, /^\d{4}-.*Z$/);
      const newest = expectOk<HistoryResult>(await alice.request({ op: 'history', channel, limit: 2 }));
      assert.deepEqual(newest.publications.map((p) => p.offset), [4, 5]);
      const none = expectOk<HistoryResult>(await alice.request({ op: 'history', channel, limit: 0 }));
      assert.deepEqual(none.publications, []);
      assert.equal(none.offset, 5);
    });

    void test('since: what came after, limited from the oldest', async () => {
      const after2 = expectOk<HistoryResult>(await alice.request({ op: 'history', channel, since: positions[1]! }));
      assert.deepEqual(after2.publications.map((p) => p.offset), [3, 4, 5]);
      assert.equal(after2.complete, true);
      const one = expectOk<HistoryResult>(await alice.request({ op: 'history', channel, since: positions[1]!, limit: 1 }));
      assert.deepEqual(one.publications.map((p) => p.offset), [3]);
      assert.equal(one.complete, true);
      assert.equal(one.offset, 5, 'the position says there is more');
      const upToDate = expectOk<HistoryResult>(await alice.request({ op: 'history', channel, since: positions[4]! }));
      assert.deepEqual(upToDate.publications, []);
      assert.equal(upToDate.complete, true);
    });

    void test('since outside retained history → complete false', async () => {
      const foreign = expectOk<HistoryResult>(await alice.request({ op: 'history', channel, since: { epoch: 'elsewhere', offset: 1 } }));
      assert.equal(foreign.complete, false);
      assert.deepEqual(foreign.publications, []);
      assert.equal(foreign.epoch, positions[0]!.epoch);
      const tiny = unique('tiny:hist-');
      const tp: StreamPosition[] = [];
      for (let i = 0; i < 6; i++) tp.push(await server.sb.publish(tiny, 'e', i));
      const pruned = expectOk<HistoryResult>(await alice.request({ op: 'history', channel: tiny, since: tp[0]! }));
      assert.equal(pruned.complete, false);
      assert.deepEqual(pruned.publications, []);
      const kept = expectOk<HistoryResult>(await alice.request({ op: 'history', channel: tiny }));
      assert.deepEqual(kept.publications.map((p) => p.offset), [4, 5, 6]);
    });

    void test('an unused channel: offset 0, nothing, complete', async () => {
      const fresh = expectOk<HistoryResult>(await alice.request({ op: 'history', channel: unique('room:empty-') }));
      assert.equal(fresh.offset, 0);
      assert.deepEqual(fresh.publications, []);
      assert.equal(fresh.complete, true);
    });

    void test('policy and validation', async () => {
      expectError(await alice.request({ op: 'history', channel: 'nohist:x' }), 'forbidden', 'channel');
      expectError(await alice.request({ op: 'history', channel: 'user:bob' }), 'forbidden', 'channel');
      expectOk(await alice.request({ op: 'history', channel: 'user:alice' }));
      expectError(await alice.request({ op: 'history', channel, limit: 1001 }), 'bad_request', 'limit');
      expectError(await alice.request({ op: 'history', channel, limit: -1 }), 'bad_request', 'limit');
      expectError(await alice.request({ op: 'history', channel, limit: 1.5 }), 'bad_request', 'limit');
      expectError(await alice.request({ op: 'history', channel, since: { epoch: 'e' } }), 'bad_request', 'since.offset');
    });
  });

  void describe('refresh', () => {
    void test('a new token of the same user gives the new expiry', async () => {
      const client = await connectAs(server, 'rita');
      const before = client.session.expiresAt!;
      const result = expectOk<RefreshResult>(await client.request({ op: 'refresh', token: await server.token('rita', 'customer', 7200) }));
      const expiresAt = Date.parse(result.expiresAt ?? '');
      assert.ok(Math.abs(expiresAt - (Date.now() + 7_200_000)) < 5000, result.expiresAt ?? 'null');
      assert.ok(expiresAt > before);
      assert.equal(client.session.expiresAt, expiresAt);
      const forever = expectOk<RefreshResult>(await client.request({ op: 'refresh', token: await server.token('rita', 'customer', 0) }));
      assert.equal(forever.expiresAt, null);
      assert.equal(client.session.expiresAt, null);
      client.disconnect();
    });

    void test('invalid_token keeps the connection and its old expiry', async () => {
      const client = await connectAs(server, 'sid');
      const before = client.session.expiresAt;
      const bad = expectError(await client.request({ op: 'refresh', token: 'garbage' }), 'invalid_token', 'token');
      assert.equal(bad.temporary, false);
      const expired = await rawToken({ sub: 'sid', role: 'customer', exp: Math.floor(Date.now() / 1000) - 10 });
      expectError(await client.request({ op: 'refresh', token: expired }), 'invalid_token', 'token');
      expectError(await client.request({ op: 'refresh', token: '' }), 'bad_request', 'token');
      assert.equal(client.session.expiresAt, before);
      expectOk(await client.request({ op: 'ping' }));
      client.disconnect();
    });

    void test('token_user_mismatch for another user’s token; the user stays', async () => {
      const client = await connectAs(server, 'tom');
      const error = expectError(await client.request({ op: 'refresh', token: await server.token('jerry') }), 'token_user_mismatch', 'token');
      assert.equal(error.temporary, false);
      assert.equal(client.session.user?.id, 'tom');
      expectError(await client.request({ op: 'subscribe', channel: 'user:jerry' }), 'forbidden');
      client.disconnect();
    });

    void test('refresh before connect → not_connected', async () => {
      const client = await TestClient.connect(server.sb);
      expectError(await client.request({ op: 'refresh', token: await server.token('uli') }), 'not_connected');
      client.disconnect();
    });
  });

  void describe('ping and pong', () => {
    void test('ping → empty result', async () => {
      const reply = await alice.request({ op: 'ping' });
      assert.deepEqual(reply, { op: 'reply', id: reply.id, ok: true, result: {} });
    });

    void test('pong gets no reply, authenticated or not', async () => {
      alice.sendJson({ op: 'pong' });
      await alice.expectSilence(50);
      const fresh = await TestClient.connect(server.sb);
      fresh.sendJson({ op: 'pong' });
      await fresh.expectSilence(30);
      fresh.disconnect();
    });
  });
});
