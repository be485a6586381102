import { useState, type ReactNode } from 'react';

/**
 * Wraps a value shown on a live page and highlights it briefly (a CSS animation) each time `watch`
 * changes after the first render: the eye finds what just changed. `data-changed` says so to tests
 * and stays until the next change.
 */
export function Flash({ watch, children, className }: { watch: unknown; children: ReactNode; className?: string }) {
  const key = JSON.stringify(watch) ?? '';
  const [seen, setSeen] = useState({ key, changes: 0 });
  // React's "adjust state while rendering" pattern: the change is counted in the same render.
  let changes = seen.changes;
  if (seen.key !== key) {
    changes += 1;
    setSeen({ key, changes });
  }
  const classes = [className, changes > 0 ? 'flash' : ''].filter(Boolean).join(' ');
  // A new key remounts the span, which restarts the animation for a second change in a row.
  return (
    <span key={changes} className={classes || undefined} data-changed={changes > 0 || undefined}>
      {children}
    </span>
  );
}
