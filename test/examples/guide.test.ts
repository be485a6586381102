import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const GUIDE = 'docs/guide.md';
/** A line that stands for code left out of a quote: the parts around it are checked apart. */
const ELISION = /^\s*\/\/ …\s*$/;

interface Quote {
  /** 1-based line of the block's opening fence in the guide. */
  line: number;
  file: string;
  parts: string[];
}

/** Every ```ts block of the guide: its first line names the file it quotes (`// examples/...`). */
async function quotes(): Promise<Quote[]> {
  const lines = (await readFile(join(root, GUIDE), 'utf8')).split('\n');
  const out: Quote[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.trim() !== '```ts') continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && lines[i]!.trim() !== '```'; i++) body.push(lines[i]!);
    const file = /^\/\/ ((?:test\/)?examples\/\S+\.ts)$/.exec(body[0] ?? '')?.[1];
    assert.ok(file, `${GUIDE}:${start + 1}: a ts block starts with a comment naming the file it quotes (// examples/...), got ${JSON.stringify(body[0])}`);
    const parts: string[][] = [[]];
    for (const line of body.slice(1)) {
      if (ELISION.test(line)) parts.push([]);
      else parts.at(-1)!.push(line);
    }
    out.push({ line: start + 1, file, parts: parts.map((p) => p.join('\n').replace(/^\n+|\n+$/g, '')).filter((p) => p.length > 0) });
  }
  return out;
}

void test('every ts block of the guide is quoted verbatim from the file it names, in order', async () => {
  const all = await quotes();
  assert.ok(all.length >= 10, `the guide quotes the example (${all.length} ts blocks)`);
  for (const quote of all) {
    const source = await readFile(join(root, quote.file), 'utf8').catch(() => assert.fail(`${GUIDE}:${quote.line}: ${quote.file} does not exist`));
    let from = 0;
    for (const part of quote.parts) {
      const at = source.indexOf(part, from);
      if (at < 0) {
        // Name the first line that differs, so a drift is quick to fix.
        const first = part.split('\n').find((l) => !source.includes(l)) ?? part.split('\n')[0];
        assert.fail(`${GUIDE}:${quote.line}: not in ${quote.file}${source.includes(part) ? ' in this order' : ''}; first line not found there: ${JSON.stringify(first)}`);
      }
      from = at + part.length;
    }
  }
});

void test('the guide quotes every file of the example module', async () => {
  const named = new Set((await quotes()).map((q) => q.file));
  const files = (await readdir(join(root, 'examples/rooms'))).filter((f) => f.endsWith('.ts')).map((f) => `examples/rooms/${f}`);
  assert.deepEqual(files.filter((f) => !named.has(f)), [], 'files of examples/rooms the guide never shows');
});

void test('examples/rooms/main.js starts a node with the rooms from the environment, serves them, and stops on SIGTERM', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'rooms-main-'));
  const env = { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', SWITCHBOARD_DATA: dataDir, SWITCHBOARD_ENV: 'development', LOG_LEVEL: 'info' };
  const child = spawn(process.execPath, [join(root, 'dist/examples/rooms/main.js')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  try {
    const deadline = Date.now() + 20_000;
    let url: string | undefined;
    while (!(url = /"url":"(http:[^"]+)"/.exec(stdout)?.[1])) {
      if (Date.now() > deadline || child.exitCode !== null) assert.fail(`no listening line: ${stdout}${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.match(stdout, /0004_rooms_tables/, 'the rooms migration ran');
    const json = async (path: string, token?: string, body?: object) => {
      const res = await fetch(url + path, {
        method: body ? 'POST' : 'GET',
        headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const login = await json('/api/auth/login', undefined, { email: 'manager@demo.test', password: 'manager-demo' });
    assert.equal(login.status, 200, JSON.stringify(login.body));
    const token = login.body.token as string;
    const room = await json('/api/rooms', token, { name: 'Front desk' });
    assert.equal(room.status, 201, JSON.stringify(room.body));
    assert.equal((await json(`/api/rooms/${room.body.id as string}`, token)).body.name, 'Front desk');
  } finally {
    child.kill('SIGTERM');
    assert.equal(await exited, 0, `exit status after SIGTERM (stderr: ${stderr})`);
    await rm(dataDir, { recursive: true, force: true });
  }
});
