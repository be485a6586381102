import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { killChildren, listeningUrl, start, waitUntil, within, type Run } from '../helpers/cli.js';

// The README's "Try it" run as written: its shell and JavaScript snippets are taken from README.md
// (each code block right after a `<!-- readme-test: NAME -->` comment) and run in a folder laid out
// like a fresh clone after `npm start` (dist/, node_modules/, the node's ./data), against a node on
// a random port: `localhost:8000` becomes that node, and `listen` finds it through SWITCHBOARD_URL.
// A README that drifts from what works fails here.

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const STARTUP_MS = 60_000;
const EVENT_MS = 20_000;

interface Snippet {
  lang: string;
  code: string;
}

function readmeSnippets(markdown: string): Map<string, Snippet> {
  const snippets = new Map<string, Snippet>();
  for (const [, name, lang, code] of markdown.matchAll(/<!-- readme-test: ([\w-]+) -->\n```(\w*)\n([\s\S]*?)\n```/g)) snippets.set(name!, { lang: lang!, code: code! });
  return snippets;
}

/** Shell snippets run in a process group of their own, so the commands they start die with them. */
const groups = new Set<number>();

function shell(code: string, cwd: string, env: NodeJS.ProcessEnv) {
  const child = spawn('sh', ['-c', code], { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  groups.add(child.pid!);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const done = new Promise<Run>((resolve) => child.on('close', (exitCode, signal) => resolve({ code: exitCode, signal, stdout, stderr })));
  return { child, done, output: () => ({ stdout, stderr }), stop: (signal: NodeJS.Signals) => killGroup(child.pid!, signal) };
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

const EVENT_LINE = /^\d\d:\d\d:\d\d\.\d{3} (\S+) (\S+)(?: #\d+)? (.*)$/gm;

void describe('README: Try it', () => {
  let dir: string;
  let port: string;
  let snippets: Map<string, Snippet>;
  let env: NodeJS.ProcessEnv;
  const snippet = (name: string): string => {
    const found = snippets.get(name);
    assert.ok(found, `README.md has no code block marked <!-- readme-test: ${name} -->`);
    return found.code;
  };
  /** The snippet aimed at the test's node instead of localhost:8000. */
  const aimed = (name: string): string => {
    const code = snippet(name);
    assert.match(code, /localhost:8000/, `${name} talks to the node at localhost:8000`);
    return code.replaceAll('localhost:8000', `127.0.0.1:${port}`);
  };
  /** Runs a one-shot snippet (terminal 3) to its end. */
  const oneShot = async (name: string) => {
    const run = shell(aimed(name), dir, env);
    const timer = setTimeout(() => run.stop('SIGKILL'), EVENT_MS);
    const result = await run.done;
    clearTimeout(timer);
    assert.equal(result.code, 0, `${name}: ${JSON.stringify(result)}`);
    return result;
  };
  const addToCart = async () => {
    const { stdout } = await oneShot('add-to-cart');
    const cart = JSON.parse(stdout) as { count: number; items?: { sku: string; quantity: number }[] };
    assert.ok(Array.isArray(cart.items), `add-to-cart should answer the cart: ${stdout}`);
    return cart as { count: number; items: { sku: string; quantity: number }[] };
  };

  before(async () => {
    snippets = readmeSnippets(await readFile(join(REPO, 'README.md'), 'utf8'));
    dir = await mkdtemp(join(tmpdir(), 'switchboard-readme-'));
    await symlink(join(REPO, 'dist'), join(dir, 'dist'));
    await symlink(join(REPO, 'node_modules'), join(dir, 'node_modules'));
    // Terminal 1: `npm start` is `tsc -b` and then this, with the data in ./data.
    const node = start(['serve'], { SWITCHBOARD_DATA: join(dir, 'data') });
    await waitUntil(() => listeningUrl(node.output().stdout) !== null || node.child.exitCode !== null, STARTUP_MS, 'the node to listen');
    const url = listeningUrl(node.output().stdout);
    assert.ok(url, JSON.stringify(node.output()));
    port = new URL(url).port;
    env = { PATH: process.env.PATH ?? '', SWITCHBOARD_URL: url };
  });
  after(async () => {
    for (const pid of groups) killGroup(pid, 'SIGKILL');
    killChildren();
    await rm(dir, { recursive: true, force: true });
  });

  void test('terminal 2 prints the cart events that terminal 3 causes, as the README shows them', async () => {
    const listener = shell(snippet('listen-cart'), dir, env);
    await waitUntil(() => /^listening to cart:/m.test(listener.output().stderr) || listener.child.exitCode !== null, STARTUP_MS, 'terminal 2 to listen');
    assert.equal(listener.child.exitCode, null, JSON.stringify(listener.output()));

    const cart = await addToCart();
    assert.deepEqual(cart.items.map((i) => [i.sku, i.quantity]), [['COF-250', 2]]);
    await waitUntil(() => / cart_update #\d+ /.test(listener.output().stdout), EVENT_MS, 'the cart_update line in terminal 2');
    const printed = [...listener.output().stdout.matchAll(EVENT_LINE)].map(([, channel, event, data]) => ({ channel: channel!, event: event!, data: JSON.parse(data!) as { items?: { sku: string }[] } }));
    assert.deepEqual(printed.map((l) => l.event), ['snapshot', 'cart_item_added', 'cart_update']);
    assert.match(printed[2]!.channel, /^cart:usr_\w+$/);
    assert.deepEqual(printed[2]!.data.items?.map((i) => i.sku), ['COF-250']);

    // The sample output in the README is what it printed: the same events, in the same format.
    const readme = await readFile(join(REPO, 'README.md'), 'utf8');
    const sample = /and terminal 2 prints[^\n]*\n\n```\n([\s\S]*?)\n```/.exec(readme);
    assert.ok(sample, 'the README shows what terminal 2 prints');
    assert.deepEqual([...sample[1]!.matchAll(EVENT_LINE)].map(([, , event]) => event), ['cart_item_added', 'cart_update']);
    listener.stop('SIGINT');
    await within(listener.done, 10_000, 'terminal 2 to stop on Ctrl-C');
  });

  void test('the JavaScript snippet signs in, connects with the SDK and logs the cart updates', async () => {
    const code = snippet('sdk');
    assert.equal(snippets.get('sdk')!.lang, 'js');
    await writeFile(join(dir, 'cart.mjs'), aimed('sdk'));
    assert.equal((code.match(/localhost:8000/g) ?? []).length, 2, 'the sign-in and the WebSocket both point at the node');
    const script = shell('node cart.mjs', dir, env);
    await waitUntil(() => /^cart now: \d+ items/m.test(script.output().stdout) || script.child.exitCode !== null, STARTUP_MS, 'cart.mjs to print the cart');
    assert.equal(script.child.exitCode, null, JSON.stringify(script.output()));
    assert.match(script.output().stdout, /^connected as customer@demo\.test; Ctrl-C to stop$/m);
    const before = Number(/^cart now: (\d+) items/m.exec(script.output().stdout)![1]);

    const cart = await addToCart();
    assert.equal(cart.count, before + 2);
    await waitUntil(() => /^cart_update #\d+: \d+ items/m.test(script.output().stdout), EVENT_MS, 'cart.mjs to log the cart_update');
    assert.match(script.output().stdout, new RegExp(`^cart_update #\\d+: ${cart.count} items, total \\d+$`, 'm'));
    assert.equal(script.output().stderr, '', 'no errors');
    script.stop('SIGINT');
    await within(script.done, 10_000, 'cart.mjs to stop on Ctrl-C');
  });

  void test('another backend publishes to chat:lobby, and a listener with a development token prints it', async () => {
    const listener = shell(snippet('listen-chat'), dir, env);
    await waitUntil(() => /^listening to chat:lobby;/m.test(listener.output().stderr) || listener.child.exitCode !== null, STARTUP_MS, 'the chat listener');
    assert.equal(listener.child.exitCode, null, JSON.stringify(listener.output()));
    assert.match(listener.output().stderr, /^note: this token is for channels \(WebSocket\) only/m, 'token --user says what its token is for');

    const { stdout } = await oneShot('publish');
    const position = JSON.parse(stdout) as { epoch: string; offset: number };
    assert.equal(typeof position.epoch, 'string');
    await waitUntil(() => new RegExp(`^\\S+ chat:lobby hello #${position.offset} \\{"text":"hi"\\}$`, 'm').test(listener.output().stdout), EVENT_MS, 'the hello line');
    listener.stop('SIGINT');
    await within(listener.done, 10_000, 'the chat listener to stop');
  });
});
