import { SwitchboardError } from './errors.js';
import type { ReplyError } from './protocol.js';

export type Outcome<T> = { ok: true; result: T } | { ok: false; error: SwitchboardError };

interface Pending {
  settle: (outcome: Outcome<unknown>) => void;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * Requests waiting for their reply, by id. Each settles exactly once: with its reply, on its
 * timeout, or when the connection goes. Settling is synchronous within the reply's frame handler,
 * which the subscribe flow relies on to stay ahead of the next frame.
 */
export class PendingRequests {
  #byId = new Map<number, Pending>();

  add(id: number, timeoutMs: number, what: string, settle: (outcome: Outcome<unknown>) => void): void {
    const timer = setTimeout(() => {
      if (this.#byId.delete(id)) settle({ ok: false, error: new SwitchboardError('timeout', `no reply to ${what} within ${timeoutMs} ms`) });
    }, timeoutMs);
    this.#byId.set(id, { settle, timer });
  }

  /** Settles `id` with an error without a reply (e.g. the frame could not be sent). */
  fail(id: number, error: SwitchboardError): void {
    const pending = this.#take(id);
    pending?.settle({ ok: false, error });
  }

  /** Handles a reply frame; replies to unknown ids (timed out already) are ignored. */
  reply(frame: Record<string, unknown>): void {
    if (typeof frame.id !== 'number') return;
    const pending = this.#take(frame.id);
    if (!pending) return;
    if (frame.ok === true) {
      pending.settle({ ok: true, result: frame.result });
      return;
    }
    const error = frame.error as ReplyError | undefined;
    pending.settle({
      ok: false,
      error: error && typeof error === 'object' ? SwitchboardError.fromReply(error) : new SwitchboardError('internal', 'malformed error reply'),
    });
  }

  /** Settles every request with `error` (the connection is gone). */
  failAll(error: SwitchboardError): void {
    const all = [...this.#byId.values()];
    this.#byId.clear();
    for (const p of all) {
      clearTimeout(p.timer);
      p.settle({ ok: false, error });
    }
  }

  #take(id: number): Pending | undefined {
    const pending = this.#byId.get(id);
    if (!pending) return undefined;
    this.#byId.delete(id);
    clearTimeout(pending.timer);
    return pending;
  }
}
