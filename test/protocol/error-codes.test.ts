import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ErrorCodes, type ErrorCode, type ReplyError } from '@switchboard/client/protocol';
import { TestClient } from '../../src/core/testing/index.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { connectAs } from './support.js';

type Scenario = (server: TestServer, downServer: TestServer) => Promise<ReplyError>;

async function failure(client: TestClient, frame: Record<string, unknown> & { op: string }): Promise<ReplyError> {
  const reply = await client.request(frame);
  if (reply.ok) assert.fail(`expected an error for ${JSON.stringify(frame)}, got ${JSON.stringify(reply.result)}`);
  return reply.error;
}

async function errorFrame(client: TestClient, text: string): Promise<ReplyError> {
  client.sendText(text);
  const frame = await client.receive();
  if (frame.op !== 'error') assert.fail(`expected an error frame, got ${JSON.stringify(frame)}`);
  return frame.error;
}

/**
 * One scenario per code in the catalogue, each on a fresh connection. Typed over every ErrorCode, so
 * a new code does not compile until it gets a scenario here.
 */
const scenarios: Record<ErrorCode, Scenario> = {
  bad_frame: async (s) => errorFrame(await connectAs(s, 'u'), '{"op":'),
  bad_request: async (s) => errorFrame(await connectAs(s, 'u'), '{"op":"ping"}'),
  unknown_op: async (s) => failure(await connectAs(s, 'u'), { op: 'teleport' }),
  not_connected: async (s) => failure(await TestClient.connect(s.sb), { op: 'ping' }),
  already_connected: async (s) => failure(await connectAs(s, 'u'), { op: 'connect', token: await s.token('u') }),
  invalid_channel: async (s) => failure(await connectAs(s, 'u'), { op: 'subscribe', channel: 'NOT valid' }),
  unknown_namespace: async (s) => failure(await connectAs(s, 'u'), { op: 'subscribe', channel: 'nope:x' }),
  forbidden: async (s) => failure(await connectAs(s, 'u'), { op: 'subscribe', channel: 'locked:x' }),
  already_subscribed: async (s) => {
    const c = await connectAs(s, 'u');
    await c.request({ op: 'subscribe', channel: 'nohist:a' });
    return failure(c, { op: 'subscribe', channel: 'nohist:a' });
  },
  not_subscribed: async (s) => failure(await connectAs(s, 'u'), { op: 'unsubscribe', channel: 'nohist:a' }),
  too_many_subscriptions: async (s) => {
    const c = await connectAs(s, 'u');
    await c.request({ op: 'subscribe', channel: 'nohist:a' });
    return failure(c, { op: 'subscribe', channel: 'nohist:b' });
  },
  rate_limited: async (s) => {
    const c = await connectAs(s, 'u');
    for (let i = 0; i < 3; i++) await c.request({ op: 'ping' });
    return failure(c, { op: 'ping' });
  },
  invalid_token: async (s) => failure(await connectAs(s, 'u'), { op: 'refresh', token: 'x.y.z' }),
  token_user_mismatch: async (s) => failure(await connectAs(s, 'u'), { op: 'refresh', token: await s.token('someone-else') }),
  backpressure: async (s) => {
    const c = await connectAs(s, 'u');
    // Exactly at the bound: not over it (that closes 4002), but nothing more can be promised.
    c.bufferedAmount = s.sb.config.limits.maxBufferedBytes;
    return failure(c, { op: 'history', channel: 'room:x' });
  },
  account_revoked: async (s) => failure(await TestClient.connect(s.sb), { op: 'connect', token: await s.token('gone') }),
  unavailable: async (_s, down) => failure(await connectAs(down, 'u'), { op: 'publish', channel: 'room:x', event: 'e', data: 1 }),
  internal: async (s) => failure(await connectAs(s, 'u'), { op: 'subscribe', channel: 'buggy:x' }),
};

void describe('every error code in the catalogue', () => {
  let server: TestServer;
  let down: TestServer;
  before(async () => {
    server = await startServer({
      listen: false,
      limits: { maxSubscriptions: 1, messageBurst: 3, messagesPerSecond: 0.1 },
      setup: (sb) => {
        sb.checkPrincipals(async (user) => user.id !== 'gone');
        sb.defineNamespace('buggy', {
          subscribe: () => {
            throw new Error('bug');
          },
        });
      },
    });
    down = await startServer({ listen: false });
    await down.sb.hub.layer.close();
  });
  after(async () => {
    await server.close();
    await down.close();
  });

  for (const code of Object.keys(ErrorCodes) as ErrorCode[]) {
    const scenario = scenarios[code];
    void test(`${code}, with the catalogue's temporary flag and message`, async () => {
      const error = await scenario(server, down);
      assert.equal(error.code, code, JSON.stringify(error));
      assert.equal(error.temporary, ErrorCodes[code].temporary);
      assert.ok(error.message.length > 0);
    });
  }
});
