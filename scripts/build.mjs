#!/usr/bin/env node
// `npm install` runs this (the `prepare` script): it compiles the server, the SDK, the tests and the
// benches with TypeScript once, so `npm start` runs built code at once instead of compiling first
// (a first `tsc -b` takes 15 s on a fast machine and over a minute on a slow one), then builds the
// web app (web/ -> web/dist, which the node serves at /), and says so while it works. `npm start`
// and `npm test` still run `tsc -b`, which is a half-second no-op when nothing changed.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

const root = new URL('..', import.meta.url).pathname;
// A Docker build installs before it copies the sources in; it builds them itself afterwards.
if (!existsSync(`${root}src`)) process.exit(0);
const require = createRequire(import.meta.url);
const resolve = (id) => {
  try {
    return require.resolve(id);
  } catch {
    return null;
  }
};
const seconds = (since) => `${((Date.now() - since) / 1000).toFixed(1)} s`;

const tsc = resolve('typescript/bin/tsc');
if (!tsc) {
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
console.log(`switchboard: compiled in ${seconds(started)}`);

// The web app: type-checked (tsc -b web), then bundled by Vite into web/dist. Without it the node
// still serves the API, and `/` says to run `npm run build:web`.
// Vite's package exports no bin file; its manifest names it.
const viteManifest = resolve('vite/package.json');
const vite = viteManifest ? new URL(require(viteManifest).bin.vite, `file://${viteManifest}`).pathname : null;
if (existsSync(`${root}web/package.json`) && vite) {
  const webStarted = Date.now();
  console.log('switchboard: building the web app (tsc -b web, vite build web -> web/dist; 10-30 s)...');
  const checked = spawnSync(process.execPath, [tsc, '-b', 'web'], { cwd: root, stdio: 'inherit' });
  const built = checked.status === 0 ? spawnSync(process.execPath, [vite, 'build', 'web'], { cwd: root, stdio: 'inherit' }) : checked;
  if (built.status !== 0) {
    console.error('switchboard: the web app did not build (above); the node serves the API without it. Fix it, then `npm run build:web`');
    process.exit(built.status ?? 1);
  }
  console.log(`switchboard: web app built in ${seconds(webStarted)} (web/dist)`);
} else {
  console.log('switchboard: Vite is not installed; skipping the web app (`npm run build:web` builds it)');
}
console.log(`switchboard: built in ${seconds(started)}; \`npm start\` serves on http://localhost:8000`);
