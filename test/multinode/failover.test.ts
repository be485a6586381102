import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { SwitchboardClient, type SubscribedInfo } from '@switchboard/client';
import type { PresenceResult } from '@switchboard/client/protocol';
import { Cluster, type NodeProcess } from '../helpers/cluster.js';
import { redisUnavailable } from '../helpers/redis.js';
import { waitFor, WsTestClient } from '../helpers/ws-client.js';

const CHANNELS = 30;
const PUBLISHES = 20_000;
const KILL_AFTER = 5_000;
const CLIENTS_ON_B = 10;
const IN_FLIGHT = 32;
const PRESENCE_TIMEOUT_MS = 3000;

const skip = await redisUnavailable();

/** What one SDK client saw of one channel. */
interface ChannelLog {
  seqs: number[];
  offsets: number[];
  subscribed: SubscribedInfo[];
  /** When the last resubscribe (resumed) was answered. */
  resumedAt: number;
  unrecovered: number;
}

interface Watched {
  user: string;
  client: SwitchboardClient;
  channels: Map<string, ChannelLog>;
  urlsAsked: string[];
}

void describe('a node dies under load: its clients resume on the others', { skip }, () => {
  let cluster: Cluster;
  const clients: SwitchboardClient[] = [];
  before(async () => {
    cluster = await Cluster.start(['a', 'b', 'c'], {
      env: {
        // History deep enough that the gap of a failover is always still there.
        SWITCHBOARD_HISTORY_SIZE: '5000',
        SWITCHBOARD_PRESENCE_TIMEOUT_MS: String(PRESENCE_TIMEOUT_MS),
        // The publishers below send far more than an app's client would.
        SWITCHBOARD_MESSAGES_PER_SECOND: '100000',
        SWITCHBOARD_MESSAGE_BURST: '100000',
      },
    });
  });
  after(async () => {
    for (const client of clients) client.close();
    await WsTestClient.closeAll();
    await cluster?.stop();
  });

  /** An SDK client that starts on `first` and, on every later attempt, asks for the next node of `then`. */
  async function watch(user: string, first: NodeProcess, then: NodeProcess[], channels: string[]): Promise<Watched> {
    const urlsAsked: string[] = [];
    const url = (): string => {
      const next = urlsAsked.length === 0 ? first.wsUrl : then[urlsAsked.length % then.length]!.wsUrl;
      urlsAsked.push(next);
      return next;
    };
    const client = new SwitchboardClient({ url, getToken: () => cluster.token(user), WebSocket, backoff: { minMs: 50, maxMs: 500 }, requestTimeoutMs: 5000 });
    clients.push(client);
    const logs = new Map<string, ChannelLog>();
    for (const channel of channels) {
      const log: ChannelLog = { seqs: [], offsets: [], subscribed: [], resumedAt: 0, unrecovered: 0 };
      logs.set(channel, log);
      const sub = client.subscribe(channel);
      sub.on('message', (_event, data, meta) => {
        log.seqs.push((data as { seq: number }).seq);
        log.offsets.push(meta.offset);
      });
      sub.on('subscribed', (info) => {
        log.subscribed.push(info);
        if (info.resumed) log.resumedAt = Date.now();
      });
      sub.on('unrecovered', () => (log.unrecovered += 1));
    }
    await client.connect();
    await Promise.all([...channels].map((c) => client.getSubscription(c)!.ready));
    return { user, client, channels: logs, urlsAsked };
  }

  void test(`SIGKILL during ${PUBLISHES} publishes on ${CHANNELS} channels: every client of the dead node resumes elsewhere, recovered, with 0 lost and 0 duplicated`, async (t) => {
    const [a, b, c] = [cluster.node('a'), cluster.node('b'), cluster.node('c')];
    const channels = Array.from({ length: CHANNELS }, (_, i) => `chat:failover-${i}`);
    const onB = await Promise.all(Array.from({ length: CLIENTS_ON_B }, (_, i) => watch(`b-user-${i}`, b, [a, c], channels)));
    const onA = await watch('a-user', a, [c], channels);
    const everyone = [...onB, onA];
    // A user only on b, who does not come back: presence must drop them once b is swept.
    const ghost = await WsTestClient.open(b.wsUrl, { token: await cluster.token('ghost') });
    await ghost.expectOp('welcome');
    await ghost.ok({ op: 'subscribe', channel: channels[0]! });

    // Publish through clients on a and c (never b), IN_FLIGHT at a time; kill b partway through.
    // (HTTP publishing across nodes is covered in cluster.test.ts; a WebSocket is cheaper per publish.)
    const publishers = [await cluster.publisher(a, 'publisher-a'), await cluster.publisher(c, 'publisher-c')];
    const published = channels.map(() => new Map<number, number>()); // per channel: offset -> seq
    let acknowledged = 0;
    let next = 0;
    let killedAt = 0;
    let killing: Promise<void> | null = null;
    const worker = async (): Promise<void> => {
      for (;;) {
        const seq = next++;
        if (seq >= PUBLISHES) return;
        const ch = seq % CHANNELS;
        const position = await publishers[seq % 2]!.publish(channels[ch]!, 'tick', { seq });
        published[ch]!.set(position.offset, seq);
        acknowledged += 1;
        if (acknowledged === KILL_AFTER) {
          killedAt = Date.now();
          killing = cluster.kill(b);
        }
      }
    };
    const startedAt = Date.now();
    await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
    const publishMs = Date.now() - startedAt;
    for (const p of publishers) p.close();
    await killing;
    assert.ok(killedAt > 0 && b.exited, 'b was killed during the publishes');

    // Every client ends at every channel's last offset.
    const finalOffset = published.map((m) => m.size);
    assert.equal(finalOffset.reduce((x, y) => x + y, 0), PUBLISHES, 'every publish was acknowledged once');
    const caughtUp = (w: Watched) => channels.every((ch, i) => w.client.getSubscription(ch)?.position?.offset === finalOffset[i]);
    await waitFor(() => everyone.every(caughtUp), 60_000, 'every client to reach the last offset of every channel');
    const caughtUpMs = Date.now() - killedAt;

    let lost = 0;
    let duplicated = 0;
    let misordered = 0;
    for (const w of everyone) {
      for (const [i, ch] of channels.entries()) {
        const log = w.channels.get(ch)!;
        const expected = Array.from({ length: finalOffset[i]! }, (_, k) => k + 1);
        const seen = new Set(log.offsets);
        lost += expected.filter((o) => !seen.has(o)).length;
        duplicated += log.offsets.length - seen.size;
        if (log.offsets.some((o, k) => k > 0 && o <= log.offsets[k - 1]!)) misordered += 1;
        assert.deepEqual(log.seqs, expected.map((o) => published[i]!.get(o)), `${w.user} on ${ch}: the data of each offset, in order`);
        assert.equal(log.unrecovered, 0, `${w.user} on ${ch}: never unrecovered`);
      }
    }
    assert.deepEqual({ lost, duplicated, misordered }, { lost: 0, duplicated: 0, misordered: 0 });
    for (const w of onB) {
      assert.ok(w.urlsAsked.length >= 2 && w.urlsAsked.slice(1).every((u) => u !== b.wsUrl), `${w.user} reconnected to a or c: ${w.urlsAsked.join(' ')}`);
      for (const ch of channels) {
        const resumes = w.channels.get(ch)!.subscribed.filter((s) => s.resumed);
        assert.ok(resumes.length >= 1, `${w.user} resubscribed to ${ch}`);
        assert.ok(resumes.every((s) => s.recovered), `${w.user} recovered ${ch}`);
      }
    }
    const resumeMs = Math.max(...onB.flatMap((w) => channels.map((ch) => w.channels.get(ch)!.resumedAt - killedAt)));
    assert.ok(onA.channels.get(channels[0]!)!.subscribed.length === 1, 'the client on a was never disturbed');

    // Presence converges: the ghost is swept, every b user is listed once (now on a or c).
    const watcher = await WsTestClient.open(a.wsUrl, { token: await cluster.token('presence-check') });
    await watcher.expectOp('welcome');
    const expectedUsers = ['a-user', ...onB.map((w) => w.user), 'presence-check'].sort();
    let users: string[] = [];
    const deadline = Date.now() + PRESENCE_TIMEOUT_MS + 5000;
    await watcher.ok({ op: 'subscribe', channel: channels[0]! });
    for (;;) {
      users = (await watcher.ok<PresenceResult>({ op: 'presence', channel: channels[0]! })).users.map((u) => u.user).sort();
      if (JSON.stringify(users) === JSON.stringify(expectedUsers) || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.deepEqual(users, expectedUsers);
    const presenceMs = Date.now() - killedAt;
    t.diagnostic(
      `${PUBLISHES} publishes in ${publishMs} ms; b SIGKILLed after ${KILL_AFTER} acknowledged; ` +
        `all ${CLIENTS_ON_B} clients of b resubscribed (recovered) to all ${CHANNELS} channels on a or c ${resumeMs} ms after the kill, ` +
        `all ${everyone.length} clients at the last offset of every channel ${caughtUpMs} ms after it; ` +
        `0 lost, 0 duplicated of ${everyone.length * PUBLISHES} deliveries; presence converged by ${presenceMs} ms after the kill`,
    );
  });
});
