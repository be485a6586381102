#!/usr/bin/env node
// `npm install` runs this (the `prepare` script): it compiles the server, the SDK, the tests and the
// benches with TypeScript once, so `npm start` runs built code at once instead of compiling first
// (a first `tsc -b` takes 15 s on a fast machine and over a minute on a slow one), and says so
// while it works. `npm start` and `npm test` still run `tsc -b`, which is a half-second no-op when
// nothing changed.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

const root = new URL('..', import.meta.url).pathname;
// A Docker build installs before it copies the sources in; it builds them itself afterwards.
if (!existsSync(`${root}src`)) process.exit(0);
const require = createRequire(import.meta.url);
let tsc;
try {
  tsc = require.resolve('typescript/bin/tsc');
} catch {
  console.log('switchboard: TypeScript is not installed (npm install --omit=dev?); skipping the build');
  process.exit(0);
}
const started = Date.now();
console.log('switchboard: compiling the server, the SDK and the tests (tsc -b; 15 s to a couple of minutes the first time)...');
const result = spawnSync(process.execPath, [tsc, '-b'], { cwd: root, stdio: 'inherit' });
if (result.status !== 0) {
  console.error('switchboard: the TypeScript build failed (above); `npm start` will try again');
  process.exit(result.status ?? 1);
}
console.log(`switchboard: built in ${((Date.now() - started) / 1000).toFixed(1)} s; \`npm start\` serves on http://localhost:8000`);
