/**
 * Preloaded (`node --expose-gc --import dist/bench/server-hook.js ...`) into both servers under
 * test, the Switchboard CLI and the plain-ws baseline, so each gets exactly the same addition.
 * It does nothing per connection or per message; it answers IPC messages from the bench:
 * - `{gc: true}`: two full GCs, then `{memory: process.memoryUsage()}` is sent back (the
 *   idle-memory bench reads RSS after a settled GC);
 * - `{snapshot: path}`: a full GC and a heap snapshot written to `path`, then `{snapshot: path}`
 *   (idle-memory --heap-snapshots, to see what each connection keeps);
 * - when the bench process goes away (IPC disconnect), the server exits, so a crashed bench
 *   never leaves a server behind.
 */
import { writeHeapSnapshot } from 'node:v8';

const gc = (globalThis as { gc?: () => void }).gc;

if (process.send) {
  process.on('message', (msg: { gc?: boolean; snapshot?: string }) => {
    if (!msg) return;
    if (msg.gc === true) {
      gc?.();
      gc?.();
      process.send?.({ memory: process.memoryUsage() });
    } else if (typeof msg.snapshot === 'string') {
      gc?.();
      process.send?.({ snapshot: writeHeapSnapshot(msg.snapshot) });
    }
  });
  process.on('disconnect', () => process.exit(0));
}
