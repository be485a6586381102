#!/usr/bin/env node
// Runs every compiled test file (dist/test/**/*.test.js) with node's test runner. Node 20 has no
// glob support in `--test`, so the files are listed here. Arguments filter files by substring.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const testDir = join(root, 'dist', 'test');

function find(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? find(join(dir, e.name)) : e.name.endsWith('.test.js') ? [join(dir, e.name)] : [],
  );
}

const filters = process.argv.slice(2);
const files = find(testDir)
  .filter((f) => filters.length === 0 || filters.some((s) => relative(testDir, f).includes(s)))
  .sort();
if (files.length === 0) {
  console.error('no test files found (did tsc -b run?)');
  process.exit(1);
}
// The multi-node suites run real node processes under load, and the React hooks suite a browser on
// two bundled pages: they go last, one at a time, so they neither starve the timing-sensitive suites
// (heartbeats of 100 ms) nor get starved by them.
const heavy = (f) => relative(testDir, f).startsWith('multinode') || relative(testDir, f).startsWith('react/hooks');
const phases = [
  { files: files.filter((f) => !heavy(f)), concurrency: 2 },
  { files: files.filter(heavy), concurrency: 1 },
];
/** Runs one phase, passing its output through and noting every skipped test with its reason. */
function runPhase(phase, skipped) {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ['--enable-source-maps', '--test', `--test-concurrency=${phase.concurrency}`, '--test-timeout=600000', ...phase.files],
      { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent' } },
    );
    let partial = '';
    child.stdout.setEncoding('utf8').on('data', (chunk) => {
      process.stdout.write(chunk);
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        const m = /^\s*ok \d+ - (.*) # SKIP (.*)$/.exec(line);
        if (m) skipped.push(`${m[1]}: ${m[2]}`);
      }
    });
    child.on('close', (code) => resolve(code ?? 1));
  });
}

let status = 0;
const skipped = [];
for (const phase of phases) {
  if (phase.files.length === 0) continue;
  const code = await runPhase(phase, skipped);
  if (code !== 0) status = code;
}
// Said at the end, where it is read: a suite skipped because its server is missing is not a pass.
if (skipped.length > 0) {
  console.log(`\n# ${skipped.length} skipped:`);
  for (const line of skipped) console.log(`#   ${line}`);
}
process.exit(status);
