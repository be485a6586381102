/**
 * The baseline: a plain `ws` broadcast server, what fan-out costs with no framework around it.
 * It answers the same client workload as Switchboard (connect, subscribe, publish frames of the
 * JSON protocol) with no authentication, no authorization, no history, no limits, no metrics:
 *
 * - `publish`: the frame is JSON-parsed (it already is: every frame is parsed on arrival), a
 *   message frame of exactly Switchboard's shape is built once, as a Buffer,
 *   `{"op":"message","channel":..,"event":..,"data":..,"epoch":..,"offset":..,"time":..}`,
 *   and sent to every other client with `for (const c of wss.clients) c.send(frame)` as a text
 *   frame (`binary: false`, as Switchboard sends it); then the publisher gets a reply.
 * - `connect`, `subscribe`, `ping`: a success reply, nothing remembered (connections only).
 *
 * Run by the benches: `PORT=... node dist/bench/baseline-ws-server.js`. GET /readyz answers 200.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';

const port = Number(process.env.PORT ?? 8001);
const host = process.env.HOST ?? '127.0.0.1';
const EPOCH = randomBytes(6).toString('base64url');
const TEXT = { binary: false } as const;

const server = createServer((req, res) => {
  const ok = req.url === '/readyz' || req.url === '/healthz';
  res.writeHead(ok ? 200 : 404, { 'content-type': 'application/json' }).end(ok ? '{"status":"ready"}' : '{}');
});
const wss = new WebSocketServer({ server, path: '/ws', perMessageDeflate: false, maxPayload: 64 * 1024 });

let offset = 0;
let sessions = 0;

wss.on('connection', (ws: WebSocket) => {
  const session = `b${++sessions}`;
  ws.on('error', () => undefined);
  ws.on('message', (raw: Buffer, isBinary: boolean) => {
    if (isBinary) return;
    let msg: { op?: unknown; id?: unknown; channel?: unknown; event?: unknown; data?: unknown };
    try {
      msg = JSON.parse(raw.toString('utf8')) as typeof msg;
    } catch {
      return;
    }
    const id = typeof msg.id === 'number' ? msg.id : 0;
    switch (msg.op) {
      case 'publish': {
        offset += 1;
        const frame = Buffer.from(
          `{"op":"message","channel":${JSON.stringify(msg.channel)},"event":${JSON.stringify(msg.event)},"data":${JSON.stringify(msg.data)},` +
            `"epoch":"${EPOCH}","offset":${offset},"time":"${new Date().toISOString()}"}`,
        );
        for (const c of wss.clients) if (c !== ws) c.send(frame, TEXT);
        ws.send(`{"op":"reply","id":${id},"ok":true,"result":{"epoch":"${EPOCH}","offset":${offset}}}`);
        return;
      }
      case 'connect':
        ws.send(`{"op":"reply","id":${id},"ok":true,"result":{"session":"${session}","user":null}}`);
        return;
      case 'subscribe':
        ws.send(`{"op":"reply","id":${id},"ok":true,"result":{"epoch":"${EPOCH}","offset":${offset},"recovered":false,"publications":[]}}`);
        return;
      case 'pong':
        return;
      default:
        ws.send(`{"op":"reply","id":${id},"ok":true,"result":{}}`);
    }
  });
});

server.listen(port, host);

const stop = () => {
  for (const c of wss.clients) c.terminate();
  wss.close();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
