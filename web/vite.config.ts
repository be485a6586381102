import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import react from '@vitejs/plugin-react';
import { defineConfig, type Plugin } from 'vite';

const src = fileURLToPath(new URL('./src', import.meta.url));
/** Where `npm start` serves; `npm run dev:web` proxies the API and the WebSocket there. */
const node = process.env.SWITCHBOARD_DEV_TARGET ?? 'http://localhost:8000';

/**
 * Writes a .br and a .gz beside every compressible file in assets/, once, at build time: the node
 * sends them to browsers that accept them (src/core/http/web.ts) and never compresses per request.
 * Prints the gzipped size of the JavaScript and CSS, the number the app's budget is kept in.
 */
function precompress(): Plugin {
  let outDir = '';
  return {
    name: 'switchboard-precompress',
    apply: 'build',
    configResolved(config) {
      outDir = resolve(config.root, config.build.outDir);
    },
    async closeBundle() {
      const assets = join(outDir, 'assets');
      let js = 0;
      let css = 0;
      for (const name of await readdir(assets)) {
        if (!/\.(js|css|svg|json|map|txt)$/.test(name)) continue;
        const path = join(assets, name);
        const body = await readFile(path);
        const gz = gzipSync(body, { level: 9 });
        if (name.endsWith('.js')) js += gz.length;
        if (name.endsWith('.css')) css += gz.length;
        // Below a kilobyte compression saves less than the headers it costs.
        if (body.length < 1024) continue;
        await writeFile(`${path}.gz`, gz);
        await writeFile(`${path}.br`, brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: body.length } }));
      }
      const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
      const index = await stat(join(outDir, 'index.html'));
      this.info(`gzipped: ${kb(js)} of JavaScript, ${kb(css)} of CSS (budget: 150 KB in all); index.html ${index.size} B`);
    },
  };
}

export default defineConfig({
  plugins: [react(), precompress()],
  resolve: { alias: { '@': src } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    // Small images and icons go inline as data: URLs (the CSP allows img-src data:), fonts and
    // scripts never: script-src is 'self' only.
    assetsInlineLimit: 4096,
  },
  server: {
    port: 5173,
    strictPort: true,
    proxy: {
      '/api': { target: node, changeOrigin: false },
      // The WebSocket and its path aliases (/ws/cart/ ...). The node allows localhost origins outside
      // production, so the dev server's origin passes its Origin check.
      '^/ws(/|$)': { target: node, ws: true, changeOrigin: false },
    },
  },
  preview: { port: 4173, strictPort: true },
});
