/**
 * The part of the standard WebSocket API the SDK uses, so that the browser's WebSocket and the
 * `ws` package's (in Node) both fit without the SDK depending on either.
 */

// Method syntax makes the handler parameter bivariant, so the DOM's and ws's richer event types
// are accepted for these minimal shapes.
type Handler<E> = { bivarianceHack(event: E): void }['bivarianceHack'];

export interface WebSocketLike {
  readonly readyState: number;
  onopen: Handler<unknown> | null;
  onmessage: Handler<{ data: unknown }> | null;
  onclose: Handler<{ code: number; reason: string }> | null;
  onerror: Handler<unknown> | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

export const OPEN = 1;

function noop(): void {}

/**
 * Stops a socket's events from reaching the SDK and releases it. Handlers are replaced with no-ops
 * rather than removed: `ws` throws when it emits 'error' with no listener, which it does when a
 * socket that is still connecting is closed.
 * `how`: 'closed' (already closed, nothing to do), 'close' (a close handshake), 'terminate'
 * (the peer went silent and will not answer a handshake).
 */
export function discardSocket(ws: WebSocketLike, how: 'closed' | 'close' | 'terminate', code: number, reason: string): void {
  ws.onopen = noop;
  ws.onmessage = noop;
  ws.onclose = noop;
  ws.onerror = noop;
  if (how === 'closed') return;
  try {
    // `ws` would keep a socket that does not answer the close handshake (and the Node process)
    // alive for 30 s; its non-standard terminate() drops it at once. Browsers have no such method
    // and no such problem.
    const terminate = (ws as { terminate?: unknown }).terminate;
    if (how === 'terminate' && typeof terminate === 'function') terminate.call(ws);
    else ws.close(code, reason);
  } catch {
    // Browsers refuse some codes and long reasons; a plain close still releases the socket.
    try {
      ws.close();
    } catch {
      // Already closing or closed.
    }
  }
}
