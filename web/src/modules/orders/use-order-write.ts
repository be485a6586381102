import { useRef, useState } from 'react';
import { useToast } from '@/components/toast';
import { ApiError, errorMessage, idempotencyKey } from '@/lib/api';
import { getOrder, patchOrder } from './api';
import { STATUS_LABELS, type Order, type OrderPatch, type OrderStatus } from './types';

const asStatus = (value: unknown): OrderStatus | null => (typeof value === 'string' && value in STATUS_LABELS ? (value as OrderStatus) : null);

/** Why a change was refused, in words a shop's staff can act on (the API's own sentences are
 * written for developers: "an order that is in_progress needs a worker: give workerId"). */
export function refusalText(err: unknown, order: Order): string {
  if (!(err instanceof ApiError)) return errorMessage(err);
  const name = `Order #${order.number}`;
  const field = err.details.field;
  switch (err.code) {
    case 'version_conflict':
      return `Someone else changed ${name} a moment ago, so this change was not saved. The page now shows the latest: check it and try again.`;
    case 'invalid_transition': {
      if (field === 'progress') return 'Progress can only be reported while the order is in progress.';
      if (field === 'priceMinor') return `The price of a ${STATUS_LABELS[order.status].toLowerCase()} order is final.`;
      if (field === 'workerId') return 'Take the worker off first, then assign another.';
      const [from, to] = [asStatus(err.details.from), asStatus(err.details.to)];
      return from && to ? `${name} cannot go from ${STATUS_LABELS[from]} to ${STATUS_LABELS[to]}.` : `${name} cannot make this move now.`;
    }
    case 'no_change':
      return 'Nothing to save: the order already has these values.';
    case 'worker_required':
      return `${name} needs a worker while it is ${STATUS_LABELS[order.status].toLowerCase()}: choose another worker rather than none.`;
    case 'unknown_worker':
      return 'That worker can no longer be assigned (their account was disabled or removed). Reload the page for the current list.';
    case 'not_found':
      return `${name} no longer exists, or is no longer yours to see.`;
    case 'forbidden':
      return `Your role may not make this change. ${err.message}`;
    default:
      return err.message;
  }
}

export interface OrderWrite {
  /** Which action is running (its name), or null. */
  busy: string | null;
  /** Why the last action failed, in words; cleared by the next one. */
  error: string | null;
  /** Sends the change for the version shown; resolves true when saved. */
  run(action: string, order: Order, change: OrderPatch, saved: string): Promise<boolean>;
}

/**
 * Writes to one order from a page: each change carries the version the page showed (no silent
 * overwrite of someone else's change) and an Idempotency-Key, reused when the very same change is
 * retried after the server could not be reached (it may have been applied: the API then replays
 * its answer instead of applying it twice). `onOrder` gets the saved order, or the latest one after
 * a conflict, so the page does not wait for the push.
 */
export function useOrderWrite(onOrder: (order: Order) => void): OrderWrite {
  const toast = useToast();
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const unsent = useRef<{ request: string; key: string } | null>(null);

  async function run(action: string, order: Order, change: OrderPatch, saved: string): Promise<boolean> {
    const request = JSON.stringify([order.id, order.version, change]);
    const key = unsent.current?.request === request ? unsent.current.key : idempotencyKey();
    setBusy(action);
    setError(null);
    try {
      const answer = await patchOrder(order.id, order.version, change, key);
      unsent.current = null;
      onOrder(answer);
      toast.show(saved, 'success');
      return true;
    } catch (err) {
      // Not reached: the same change may be retried with the same key. Answered: a new key next time.
      unsent.current = err instanceof ApiError && err.code === 'network' ? { request, key } : null;
      setError(refusalText(err, order));
      if (err instanceof ApiError && (err.code === 'version_conflict' || err.code === 'invalid_transition' || err.code === 'no_change')) {
        getOrder(order.id).then(onOrder, () => {});
      }
      return false;
    } finally {
      setBusy(null);
    }
  }
  return { busy, error, run };
}
