import { useEffect, useState } from 'react';
import { Flash } from '@/components/flash';
import { ProgressBar } from '@/components/progress-bar';
import { errorMessage } from '@/lib/api';
import { listWorkers } from './api';
import { STATUS_LABELS, type Order, type OrderStatus, type Worker } from './types';

export function StatusBadge({ status }: { status: OrderStatus }) {
  return (
    <Flash watch={status}>
      <span className={`status status--${status}`}>{STATUS_LABELS[status]}</span>
    </Flash>
  );
}

/** The order's progress as a bar once work started; before that, where it stands in words. */
export function OrderProgress({ order }: { order: Order }) {
  const started = order.status === 'in_progress' || order.status === 'completed' || order.progress > 0;
  return (
    <Flash watch={[order.progress, started]} className="order-progress">
      {started ? (
        <ProgressBar value={order.progress} label={`Progress of order #${order.number}`} />
      ) : (
        <span className="muted">{order.status === 'cancelled' ? 'Not started' : 'Not started yet'}</span>
      )}
    </Flash>
  );
}

/** The workers staff can assign, read once per page; nothing is asked when not `enabled` (the
 * route refuses everyone but staff). */
export function useWorkers(enabled = true): { workers: Worker[] | null; error: string | null } {
  const [state, setState] = useState<{ workers: Worker[] | null; error: string | null }>({ workers: null, error: null });
  useEffect(() => {
    if (!enabled) return;
    const abort = new AbortController();
    listWorkers(abort.signal).then(
      (workers) => setState({ workers, error: null }),
      (err: unknown) => {
        if (!abort.signal.aborted) setState({ workers: [], error: `The list of workers could not be read: ${errorMessage(err)}` });
      },
    );
    return () => abort.abort();
  }, [enabled]);
  return state;
}
