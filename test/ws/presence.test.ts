import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { PresenceEventFrame, PresenceResult, ServerFrame } from '@switchboard/client/protocol';
import { waitFor, WsTestClient, wsSuiteServer } from '../helpers/ws-client.js';

const isPresence = (channel: string, op: 'join' | 'leave', user: string) => (f: ServerFrame) =>
  f.op === op && (f as PresenceEventFrame).channel === channel && (f as PresenceEventFrame).user === user;

void describe('ws presence', () => {
  const server = wsSuiteServer();

  async function join(user: string, channel: string): Promise<WsTestClient> {
    const c = await WsTestClient.open(server.wsUrl, { token: await server.token(user) });
    await c.expectOp('welcome');
    await c.ok({ op: 'subscribe', channel });
    return c;
  }

  async function members(c: WsTestClient, channel: string): Promise<string[]> {
    const result = await c.ok<PresenceResult>({ op: 'presence', channel });
    return result.users.map((u) => u.user).sort();
  }

  void test('the first user sees the second join and leave', async () => {
    const channel = 'room:x';
    const alice = await join('alice', channel);
    await alice.nextMatching(isPresence(channel, 'join', 'alice'));
    const bob = await join('bob', channel);

    const joined = await alice.nextMatching(isPresence(channel, 'join', 'bob'));
    assert.deepEqual(joined, { op: 'join', channel, user: 'bob' });
    assert.deepEqual(await members(alice, channel), ['alice', 'bob']);
    const listed = await alice.ok<PresenceResult>({ op: 'presence', channel });
    for (const entry of listed.users) assert.ok(!Number.isNaN(Date.parse(entry.since)));

    await bob.disconnect();
    const left = await alice.nextMatching(isPresence(channel, 'leave', 'bob'));
    assert.deepEqual(left, { op: 'leave', channel, user: 'bob' });
    assert.deepEqual(await members(alice, channel), ['alice']);

    // Unsubscribing is leaving too.
    const carol = await join('carol', channel);
    await alice.nextMatching(isPresence(channel, 'join', 'carol'));
    await carol.ok({ op: 'unsubscribe', channel });
    await alice.nextMatching(isPresence(channel, 'leave', 'carol'));
    await carol.disconnect();
    await alice.disconnect();
  });

  void test('one user with two sockets is listed once, joins once and leaves once', async () => {
    const channel = 'room:twotabs';
    const watcher = await join('watcher', channel);
    await watcher.nextMatching(isPresence(channel, 'join', 'watcher'));

    const tab1 = await join('dana', channel);
    await watcher.nextMatching(isPresence(channel, 'join', 'dana'));
    const tab2 = await join('dana', channel);
    assert.deepEqual(await members(watcher, channel), ['dana', 'watcher']);
    assert.deepEqual(await members(tab2, channel), ['dana', 'watcher']);

    // Closing one tab is not a leave: the user is still there.
    await tab1.disconnect();
    await waitFor(() => [...server.sb.gateway.sessions].filter((s) => s.user?.id === 'dana').length === 1, 2000, 'the server to drop the tab');
    assert.deepEqual(await members(watcher, channel), ['dana', 'watcher']);

    await tab2.disconnect();
    await watcher.nextMatching(isPresence(channel, 'leave', 'dana'));
    assert.deepEqual(await members(watcher, channel), ['watcher']);

    // Exactly one join and one leave for dana went out.
    await watcher.expectNoMessages(100);
    assert.equal(watcher.pending.filter((r) => r.frame.op === 'join' || r.frame.op === 'leave').length, 0, watcher.pending.map((r) => r.text).join('\n'));
    await watcher.disconnect();
  });

  void test('presence events do not reach subscribers not allowed to see presence', async () => {
    // nohist: has no presence rule and tracks no presence.
    const a = await join('erin', 'nohist:quiet');
    const b = await join('frank', 'nohist:quiet');
    await a.expectSilence(100);
    await b.disconnect();
    await a.expectSilence(100);
    await a.disconnect();
  });
});
