/**
 * The Python module in docs/django.md, run as the page prints it: python3 (standard library only)
 * against a real node. A stand-in for `django.db.transaction` gives it Django's on_commit rules
 * (callbacks run when the outermost atomic block commits, are dropped when it rolls back).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { startServer, TEST_API_KEY, TEST_SECRET, type TestServer } from '../helpers/server.js';
import { WsTestClient } from '../helpers/ws-client.js';

const run = promisify(execFile);
const DOC = join(import.meta.dirname, '..', '..', '..', 'docs', 'django.md');

/** The fenced code between the doc's markers, exactly as written there. */
function snippetFrom(markdown: string, name: string): string {
  const match = new RegExp(`<!-- ${name}:start -->\\s*\`\`\`python\\n([\\s\\S]*?)\`\`\`\\s*<!-- ${name}:end -->`).exec(markdown);
  if (!match?.[1]) throw new Error(`docs/django.md has no python block between <!-- ${name}:start --> and <!-- ${name}:end -->`);
  return match[1];
}

/** django.db.transaction as far as the snippet uses it: atomic() and on_commit(func, robust=). */
const TRANSACTION_STUB = `import contextlib
import logging

_pending = None


@contextlib.contextmanager
def atomic(using=None):
    global _pending
    outermost = _pending is None
    if outermost:
        _pending = []
    try:
        yield
    except BaseException:
        if outermost:
            _pending = None
        raise
    if outermost:
        callbacks, _pending = _pending, None
        for func, robust in callbacks:
            _call(func, robust)


def on_commit(func, using=None, robust=False):
    if _pending is None:
        _call(func, robust)
    else:
        _pending.append((func, robust))


def _call(func, robust):
    if not robust:
        func()
        return
    try:
        func()
    except Exception:
        logging.exception("on_commit callback failed")
`;

/** What a Django view would do, driving the doc's module. Prints one JSON line of results. */
const DRIVER = `import json
import sys

from django.db import transaction

import switchboard

command = sys.argv[1]
if command == "token":
    print(switchboard.switchboard_token(sys.argv[2]))
elif command == "publish":
    user = sys.argv[2]
    results = {}
    # A change that rolls back publishes nothing.
    try:
        with transaction.atomic():
            switchboard.publish_on_commit(f"user:{user}", "order_shipped", {"order": "rolled-back"}, "order-6-shipped")
            raise RuntimeError("rollback")
    except RuntimeError:
        pass
    # A committed one publishes once its block commits, not before.
    with transaction.atomic():
        switchboard.publish_on_commit(f"user:{user}", "order_shipped", {"order": "ord-7", "status": "shipped"}, "order-7-shipped")
    # Retries under the same key (their data marked, to tell them apart) answer the position of the
    # publication on_commit made and are not delivered again.
    results["retry"] = switchboard.publish(f"user:{user}", "order_shipped", {"order": "ord-7", "status": "retried"}, "order-7-shipped")
    results["again"] = switchboard.publish(f"user:{user}", "order_shipped", {"order": "ord-7", "status": "retried"}, "order-7-shipped")
    print(json.dumps(results))
`;

void describe('the Python snippet of docs/django.md, with python3 against a real node', () => {
  let node: TestServer;
  let dir: string;

  before(async () => {
    node = await startServer();
    dir = await mkdtemp(join(tmpdir(), 'switchboard-django-'));
    await mkdir(join(dir, 'django', 'db'), { recursive: true });
    await writeFile(join(dir, 'django', '__init__.py'), '');
    await writeFile(join(dir, 'django', 'db', '__init__.py'), '');
    await writeFile(join(dir, 'django', 'db', 'transaction.py'), TRANSACTION_STUB);
    await writeFile(join(dir, 'switchboard.py'), snippetFrom(await readFile(DOC, 'utf8'), 'django-publish'));
    await writeFile(join(dir, 'driver.py'), DRIVER);
  });

  after(async () => {
    await WsTestClient.closeAll();
    await node?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function python(...args: string[]): Promise<string> {
    // -I would drop the script's folder from the path; -E keeps the user's PYTHON* variables out.
    const { stdout } = await run('python3', ['-E', join(dir, 'driver.py'), ...args], {
      cwd: dir,
      timeout: 30_000,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', SWITCHBOARD_URL: node.url, SWITCHBOARD_API_KEY: TEST_API_KEY, SWITCHBOARD_JWT_SECRET: TEST_SECRET },
    });
    return stdout.trim();
  }

  void test('its token opens /ws/notifications/ from the cookie, and a publish after commit reaches that subscriber once', async () => {
    const token = await python('token', 'ada');
    const verified = await node.sb.tokens.verify(token);
    assert.ok(verified.ok, `the node accepts the token Python signed: ${JSON.stringify(verified)}`);
    assert.deepEqual(verified.user, { id: 'ada', role: 'user' });

    const tab = await WsTestClient.open(node.wsUrl.replace(/\/ws$/, '/ws/notifications/'), { cookie: `switchboard_token=${token}` });
    const established = (await tab.next()) as unknown as { type: string; user: { id: string }; channels: string[] };
    assert.equal(established.type, 'connection_established');
    assert.equal(established.user.id, 'ada');
    assert.deepEqual(established.channels, ['user:ada']);

    const results = JSON.parse(await python('publish', 'ada')) as { retry: { epoch: string; offset: number }; again: { epoch: string; offset: number } };
    // What arrives is the on_commit publication (status shipped), not a retry's.
    const shipped = await tab.nextRaw();
    assert.deepEqual(JSON.parse(shipped.text), { type: 'order_shipped', order: 'ord-7', status: 'shipped' });
    assert.deepEqual(results.again, results.retry);
    assert.equal(results.retry.offset, 1, 'the retries answer the first publication, and the rolled-back change published nothing before it');
    await tab.expectSilence(300);
    const history = await node.sb.history('user:ada');
    assert.deepEqual(
      history.publications.map((p) => [p.event, p.data]),
      [['order_shipped', { order: 'ord-7', status: 'shipped' }]],
    );
    await tab.disconnect();
  });
});
