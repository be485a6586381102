/** setTimeout fires at once for delays above 2^31 - 1 ms; longer waits are done in steps. */
const MAX_DELAY_MS = 2_147_483_647;

/**
 * One re-armable timeout. Each of the client's deadlines is one of these, so close() can clear
 * them all and nothing keeps a Node process (or a closed tab's client) alive.
 */
export class Timer {
  #handle: ReturnType<typeof setTimeout> | undefined;

  get pending(): boolean {
    return this.#handle !== undefined;
  }

  /** Runs `fn` after `ms` (replacing any earlier schedule). */
  set(fn: () => void, ms: number): void {
    this.clear();
    this.#handle = setTimeout(() => {
      this.#handle = undefined;
      fn();
    }, Math.min(Math.max(0, ms), MAX_DELAY_MS));
  }

  /** Runs `fn` at time `at` (ms since the epoch), however far away. */
  setAt(fn: () => void, at: number): void {
    this.set(() => (Date.now() < at ? this.setAt(fn, at) : fn()), at - Date.now());
  }

  clear(): void {
    if (this.#handle !== undefined) clearTimeout(this.#handle);
    this.#handle = undefined;
  }
}
