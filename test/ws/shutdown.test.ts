import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CloseCodes } from '@switchboard/client/protocol';
import { HttpRefused, WsTestClient, wsSuiteServer } from '../helpers/ws-client.js';

void describe('ws graceful shutdown', () => {
  const server = wsSuiteServer();

  void test('sb.close() closes connected clients with 4000 and refuses new upgrades meanwhile', async () => {
    const open = async (user: string): Promise<WsTestClient> => {
      const c = await WsTestClient.open(server.wsUrl, { token: await server.token(user) });
      await c.expectOp('welcome');
      await c.ok({ op: 'subscribe', channel: 'room:shutdown' });
      return c;
    };
    const a = await open('a');
    const b = await open('b');
    // A client that does not read keeps the server in its drain phase (up to shutdownGraceMs),
    // with the listener still open: the window where new upgrades must be refused.
    const lagging = await open('lagging');
    lagging.pause();
    const token = await server.token('latecomer');

    const closing = server.sb.close();
    assert.deepEqual(await a.closed(), { code: CloseCodes.shutdown, reason: 'server shutting down' });
    assert.equal((await b.closed()).code, CloseCodes.shutdown);

    // A new connection during shutdown is refused before the upgrade (503 while draining, or the
    // connection itself once the listener is closed); it never gets a session.
    const outcome = await WsTestClient.open(server.wsUrl, { token }).then(
      async (c) => {
        c.terminate();
        return 'accepted';
      },
      (err: unknown) => (err instanceof HttpRefused ? err.status : (err as NodeJS.ErrnoException).code ?? String(err)),
    );
    assert.equal(outcome, 503, 'a new upgrade while draining is answered 503');

    lagging.resume();
    assert.equal((await lagging.closed(5000)).code, CloseCodes.shutdown);
    await closing;
    assert.equal(server.sb.gateway.sessions.size, 0);

    // After close, nothing listens any more.
    await assert.rejects(WsTestClient.open(server.wsUrl, { token, timeoutMs: 1000 }), (err: NodeJS.ErrnoException) => err.code === 'ECONNREFUSED');
  });
});

void describe('ws shutdown racing an upgrade', () => {
  const server = wsSuiteServer();

  void test('an upgrade whose token check is in flight when shutdown starts is refused, not left open', async () => {
    const { tokens } = server.sb;
    const verify = tokens.verify.bind(tokens);
    let arrived!: () => void;
    const inVerify = new Promise<void>((resolve) => (arrived = resolve));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    tokens.verify = async (token) => {
      arrived();
      await gate;
      return verify(token);
    };
    const token = await server.token('straddler');
    const attempt = WsTestClient.open(server.wsUrl, { token }).then(
      (c) => c,
      (err: unknown) => err as Error,
    );
    await inVerify;
    const closing = server.sb.close();
    release();
    const outcome = await attempt;
    if (outcome instanceof WsTestClient) {
      // Accepted after all: then it must at least be told to go right away.
      const closed = await outcome.closed(1500).catch(() => null);
      assert.equal(closed?.code, CloseCodes.shutdown, 'a connection accepted during shutdown was left open');
    } else {
      assert.ok(outcome instanceof HttpRefused, String(outcome));
      assert.equal(outcome.status, 503);
    }
    let done = false;
    await Promise.race([closing.then(() => (done = true)), new Promise((resolve) => setTimeout(resolve, 3000))]);
    assert.ok(done, 'sb.close() did not finish within 3 s');
  });
});
