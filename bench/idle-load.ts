/**
 * The idle-memory load process (forked by bench/idle-memory.ts). On `{open}` it opens connections
 * with the raw `ws` package, each authenticated with its own token (connect frame) and subscribed
 * to `subscriptions` channels: `user:<its id>` and a shared `public:` channel. Then it holds them,
 * answering the server's heartbeat pings, until `{close}`.
 */
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { mintToken, withTimeout } from './common.js';

export interface OpenCommand {
  url: string;
  /** Connection indexes [from, from + count); connection i is user `idle-<i>`. */
  from: number;
  count: number;
  subscriptions: 0 | 1 | 2;
  sharedChannel: string;
  concurrency: number;
  timeoutMs: number;
}

export type IdleLoadMessage = { opened: number; failed: number; firstError: string | null; ms: number } | { error: string };

type Reply = { op: string; id?: number; ok?: boolean; error?: { code: string } };

const sockets: WebSocket[] = [];
let closedByServer = 0;

async function openOne(cmd: OpenCommand, i: number, token: string): Promise<void> {
  const ws = new WebSocket(cmd.url, { perMessageDeflate: false });
  sockets.push(ws);
  const waiting = new Map<number, (r: Reply) => void>();
  ws.on('message', (data: Buffer) => {
    const frame = JSON.parse(data.toString('utf8')) as Reply;
    if (frame.op === 'ping') ws.send('{"op":"pong"}');
    else if (frame.op === 'reply' && frame.id !== undefined) waiting.get(frame.id)?.(frame);
  });
  ws.on('error', () => undefined);
  ws.on('close', () => {
    closedByServer += 1;
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
    ws.once('close', (code) => reject(new Error(`closed (${code}) while connecting`)));
  });
  const request = async (id: number, frame: Record<string, unknown>) => {
    const reply = await new Promise<Reply>((resolve) => {
      waiting.set(id, resolve);
      ws.send(JSON.stringify({ ...frame, id }));
    });
    waiting.delete(id);
    if (!reply.ok) throw new Error(`${String(frame.op)} refused: ${reply.error?.code ?? 'unknown'}`);
  };
  await request(1, { op: 'connect', token });
  if (cmd.subscriptions >= 1) await request(2, { op: 'subscribe', channel: `user:idle-${i}` });
  if (cmd.subscriptions >= 2) await request(3, { op: 'subscribe', channel: cmd.sharedChannel });
}

async function open(cmd: OpenCommand): Promise<IdleLoadMessage> {
  const started = performance.now();
  const tokens = await Promise.all(Array.from({ length: cmd.count }, (_, k) => mintToken(`idle-${cmd.from + k}`)));
  let next = 0;
  let opened = 0;
  let failed = 0;
  let firstError: string | null = null;
  const worker = async () => {
    while (next < cmd.count) {
      const k = next++;
      try {
        await withTimeout(openOne(cmd, cmd.from + k, tokens[k]!), 30_000, `connection ${cmd.from + k}`);
        opened += 1;
      } catch (err) {
        failed += 1;
        firstError ??= err instanceof Error ? err.message : String(err);
      }
    }
  };
  await withTimeout(Promise.all(Array.from({ length: Math.min(cmd.concurrency, cmd.count) }, worker)), cmd.timeoutMs, 'opening connections');
  return { opened, failed, firstError, ms: performance.now() - started };
}

process.on('disconnect', () => process.exit(0));
process.on('message', (msg: { open?: OpenCommand; close?: boolean; status?: boolean }) => {
  if (msg.open) {
    open(msg.open).then(
      (result) => process.send?.(result),
      (err: unknown) => process.send?.({ error: err instanceof Error ? err.message : String(err) } satisfies IdleLoadMessage),
    );
  } else if (msg.status) {
    const open = sockets.filter((s) => s.readyState === WebSocket.OPEN).length;
    process.send?.({ status: { open, closedByServer } });
  } else if (msg.close) {
    for (const s of sockets) s.terminate();
    process.exit(0);
  }
});
