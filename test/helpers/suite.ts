import { after, before } from 'node:test';

/**
 * Something a describe block shares (a node, an app): started in `before`, and in `after` the
 * block's clients are closed (`cleanup`) before it is. The returned object reads through to it, so
 * tests use it as if they held it, without repeating the hooks in every suite.
 */
export function suiteShared<T extends object>(start: () => Promise<T>, close: (value: T) => Promise<void>, cleanup: () => Promise<void>): T {
  let current: T | undefined;
  before(async () => {
    current = await start();
  });
  after(async () => {
    await cleanup();
    if (current) await close(current);
  });
  return new Proxy({} as T, {
    get(_target, prop) {
      if (!current) throw new Error(`used outside a test: the suite's ${String(prop)} exists from before() on`);
      const value = Reflect.get(current, prop, current) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(current) : value;
    },
  });
}
