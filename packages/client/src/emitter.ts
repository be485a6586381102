/** Event name -> listener argument tuple. */
export type EventArgs<Events> = { [K in keyof Events]: unknown[] };

export type Listener<Args extends unknown[]> = (...args: Args) => void;

/**
 * A minimal typed event emitter, so the SDK needs neither Node's `events` nor the DOM's EventTarget.
 * A throwing listener must not break the SDK's own bookkeeping (positions, timers) half-way through
 * an update, so its error is rethrown on a fresh task: it still surfaces (console, uncaught
 * exception) but the other listeners and the SDK keep running.
 */
export class Emitter<Events extends EventArgs<Events>> {
  #listeners = new Map<keyof Events, Set<Listener<never[]>>>();

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    let set = this.#listeners.get(event);
    if (!set) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    // Stored under a looser type: the map holds every event's listeners at once.
    set.add(listener as unknown as Listener<never[]>);
    return () => this.off(event, listener);
  }

  /** Adds a listener that runs at most once. */
  once<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    const wrapper = Object.assign(
      (...args: Events[K]) => {
        off();
        listener(...args);
      },
      { original: listener },
    );
    const off = this.on(event, wrapper);
    return off;
  }

  /** Removes a listener added with on() or once(). */
  off<K extends keyof Events>(event: K, listener: Listener<Events[K]>): void {
    const set = this.#listeners.get(event);
    if (!set) return;
    for (const entry of set) {
      if (entry === (listener as unknown) || (entry as { original?: unknown }).original === listener) {
        set.delete(entry);
        break;
      }
    }
    if (set.size === 0) this.#listeners.delete(event);
  }

  /** Removes every listener, or every listener of one event. */
  removeAll(event?: keyof Events): void {
    if (event === undefined) this.#listeners.clear();
    else this.#listeners.delete(event);
  }

  listenerCount(event: keyof Events): number {
    return this.#listeners.get(event)?.size ?? 0;
  }

  emit<K extends keyof Events>(event: K, ...args: Events[K]): void {
    const set = this.#listeners.get(event);
    if (!set) return;
    // A copy, so listeners that add or remove listeners do not change this round.
    for (const listener of [...set]) {
      try {
        (listener as unknown as Listener<Events[K]>)(...args);
      } catch (err) {
        setTimeout(() => {
          throw err;
        }, 0);
      }
    }
  }
}
