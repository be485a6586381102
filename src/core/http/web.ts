import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** Serving a built single-page app (Vite's output: index.html, hashed files in assets/). */
export interface WebAppOptions {
  /** The folder of the build, e.g. `web/dist`. It may be built (or rebuilt) while the node runs. */
  root: string;
}

/** Paths that belong to the node, never to the app: a typo under them answers the API's JSON 404. */
const NODE_PATHS = /^\/(?:api|ws|healthz|readyz|metrics)(?:[/?]|$)/;
/** A file name the build makes: no folders, no dot files, nothing to decode. */
const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
/** A Host header fit to repeat in the CSP (anything else leaves connect-src at 'self'). */
const HOST = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.avif': 'image/avif',
  '.gif': 'image/gif',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.txt': 'text/plain; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
};

/** Hashed names change with their content, so a browser may keep them for good. */
export const IMMUTABLE = 'public, max-age=31536000, immutable';
/** index.html names the current hashed files: always asked again (a 304 when unchanged). */
export const NO_CACHE = 'no-cache';
/** favicon.svg, robots.txt: unhashed, rarely changed. */
const SHORT_CACHE = 'public, max-age=3600';

/**
 * The Content-Security-Policy of every page the node serves. Scripts, styles and everything else
 * only from this origin, no inline script or style (Vite's build emits none), no plugins, no
 * framing. connect-src names ws: and wss: of the page's host besides 'self': CSP 3 browsers let
 * 'self' cover the same host's WebSocket, older ones (Safari before 15.4) do not.
 */
export function contentSecurityPolicy(host: string | undefined): string {
  const sockets = host !== undefined && HOST.test(host) ? ` ws://${host} wss://${host}` : '';
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    `connect-src 'self'${sockets}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** Headers every response of the web app carries. HSTS is the TLS terminator's to send: the node
 * does not know whether the browser reached it over HTTPS. */
function securityHeaders(reply: FastifyReply, req: FastifyRequest): void {
  void reply.headers({
    'content-security-policy': contentSecurityPolicy(req.headers.host),
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'same-origin',
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
    'permissions-policy': 'camera=(), microphone=(), geolocation=(), browsing-topics=()',
  });
}

const NOT_BUILT = `<!doctype html>
<html lang="en">
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Switchboard: the web app is not built</title>
<h1>The web app is not built yet</h1>
<p>This node serves the shop's pages from <code>web/dist</code>, which does not exist.
Build them with <code>npm run build:web</code> (<code>npm install</code> does it too), then reload this page.</p>
<p>The API answers meanwhile: <a href="/api/openapi.json">/api/openapi.json</a>.</p>
</html>
`;

/** Which of a file's precompressed copies (made by the build) the browser takes, best first. */
function encodings(req: FastifyRequest): ('br' | 'gzip')[] {
  const header = req.headers['accept-encoding'];
  if (typeof header !== 'string') return [];
  const accepted = new Set<string>();
  for (const part of header.split(',')) {
    const [name = '', ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    if (q === undefined || Number(q.slice(2)) > 0) accepted.add(name.trim());
  }
  return (['br', 'gzip'] as const).filter((e) => accepted.has(e));
}

async function fileSize(path: string): Promise<number | null> {
  try {
    const s = await stat(path);
    return s.isFile() ? s.size : null;
  } catch {
    return null;
  }
}

/** True when the request is a page load (a browser navigation), not a fetch of data. */
function wantsHtml(req: FastifyRequest): boolean {
  const accept = req.headers.accept;
  return typeof accept === 'string' && accept.includes('text/html');
}

/**
 * Serves the web app from `options.root`: `/` and every page path (the SPA fallback) get
 * index.html, uncached; `/assets/*` the hashed files, cached for a year, precompressed when the
 * build made a .br or .gz copy; top-level files (favicon) for an hour. Returns the not-found
 * hook: the node's 404 handler asks it first, so an unknown page path that a browser navigates to
 * gets the app (which shows its own not-found page), while the node's paths keep their JSON 404.
 */
export function installWebApp(app: FastifyInstance, options: WebAppOptions): (req: FastifyRequest, reply: FastifyReply) => Promise<boolean> {
  const { root } = options;
  const assets = join(root, 'assets');

  async function sendIndex(req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    securityHeaders(reply, req);
    let html: Buffer;
    try {
      html = await readFile(join(root, 'index.html'));
    } catch {
      return reply.status(503).header('cache-control', 'no-store').type('text/html; charset=utf-8').send(NOT_BUILT);
    }
    const etag = `"${createHash('sha256').update(html).digest('base64url').slice(0, 27)}"`;
    void reply.header('cache-control', NO_CACHE).header('etag', etag).type('text/html; charset=utf-8');
    if (req.headers['if-none-match'] === etag) return reply.status(304).send();
    return reply.status(200).send(html);
  }

  async function sendFile(req: FastifyRequest, reply: FastifyReply, dir: string, name: string, cacheControl: string): Promise<FastifyReply | null> {
    if (!FILE_NAME.test(name)) return null;
    const path = join(dir, name);
    const type = TYPES[extname(name).toLowerCase()] ?? 'application/octet-stream';
    for (const encoding of encodings(req)) {
      const size = await fileSize(`${path}.${encoding === 'br' ? 'br' : 'gz'}`);
      if (size === null) continue;
      securityHeaders(reply, req);
      void reply.headers({ 'content-type': type, 'content-encoding': encoding, 'content-length': String(size), 'cache-control': cacheControl, vary: 'Accept-Encoding' });
      return reply.send(createReadStream(`${path}.${encoding === 'br' ? 'br' : 'gz'}`));
    }
    const size = await fileSize(path);
    if (size === null) return null;
    securityHeaders(reply, req);
    void reply.headers({ 'content-type': type, 'content-length': String(size), 'cache-control': cacheControl, vary: 'Accept-Encoding' });
    return reply.send(createReadStream(path));
  }

  app.get('/', sendIndex);
  app.get('/index.html', sendIndex);
  app.get<{ Params: { '*': string } }>('/assets/*', async (req, reply) => {
    const sent = await sendFile(req, reply, assets, req.params['*'], IMMUTABLE);
    // Never index.html for a missing asset: a browser holding an old page would run HTML as a script.
    return sent ?? reply.status(404).send({ error: { code: 'not_found', message: `no asset ${req.params['*']} in this build (reload the page)`, details: {} } });
  });

  return async (req, reply) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const path = req.url.split('?')[0] ?? '/';
    if (NODE_PATHS.test(path)) return false;
    const file = /^\/([^/]+)$/.exec(path)?.[1];
    if (file !== undefined && (await sendFile(req, reply, root, file, SHORT_CACHE))) return true;
    if (!wantsHtml(req)) return false;
    await sendIndex(req, reply);
    return true;
  };
}
