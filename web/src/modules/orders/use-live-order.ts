import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { ApiError, errorMessage } from '@/lib/api';
import { useChannel, type ChannelEvent } from '@/lib/realtime';
import { getHistory, getOrder } from './api';
import { newer, type HistoryEntry, type Order, type OrderChange, type OrderEvents } from './types';
import { useLiveRounds } from './use-live-rounds';

/** Follows the order: a pushed copy replaces the one held only if its version is higher (the
 * subscribe snapshot may already hold the changes published right after it). */
function follow(order: Order, event: ChannelEvent<OrderEvents>): Order {
  return event.data.order.version > order.version ? event.data.order : order;
}

export interface LiveOrder {
  order: Order | undefined;
  /** Oldest first. */
  history: HistoryEntry[];
  historyError: string | null;
  /** Why the order cannot be shown (missing, or not the viewer's to see), in words. */
  error: string | null;
  /** The channel refused or ended the subscription (e.g. a worker taken off the order). */
  channelEnded: boolean;
  /** Puts a copy from a REST answer (the page's own write), by version. */
  put(order: Order): void;
}

/**
 * One order, live: the `order:<id>` channel (snapshot, then order_updated), `GET /api/orders/:id`
 * so the page shows at once and says clearly when the order is not there, and the history, whose
 * new entries arrive with each pushed change. Both are read again whenever the channel becomes
 * live (a reconnect) or could not replay what it missed. `onChange` hears each pushed change newer
 * than what the page showed, with the order as it was shown; `onResync`, that changes were missed
 * for good and the page now shows a fresh snapshot instead (its changed fields highlight).
 */
export function useLiveOrder(id: string, onChange?: (change: OrderChange, before: Order | undefined) => void, onResync?: () => void): LiveOrder {
  const [rest, setRest] = useState<{ order?: Order; error?: unknown }>({});
  const [entries, setEntries] = useState<{ items: ReadonlyMap<number, HistoryEntry>; error: string | null }>({ items: new Map(), error: null });
  const [resyncs, setResyncs] = useState(0);
  const shown = useRef<Order | undefined>(undefined);

  const addEntry = (entry: HistoryEntry): void => setEntries((h) => (h.items.has(entry.id) ? h : { ...h, items: new Map(h.items).set(entry.id, entry) }));
  const changed = (change: OrderChange): void => {
    addEntry(change.entry);
    const before = shown.current;
    if (before && before.version >= change.order.version) return;
    onChange?.(change, before);
  };
  const live = useChannel<OrderEvents, Order>(`order:${id}`, {
    reduce: follow,
    on: { order_updated: changed },
    onResync: () => {
      setResyncs((n) => n + 1);
      onResync?.();
    },
  });
  const rounds = useLiveRounds(live.status);

  useEffect(() => {
    const abort = new AbortController();
    getOrder(id, abort.signal).then(
      (order) => setRest((r) => ({ order: newer(r.order, order) })),
      (err: unknown) => {
        if (!abort.signal.aborted) setRest((r) => ({ ...r, error: err }));
      },
    );
    getHistory(id, abort.signal).then(
      (items) => setEntries((h) => ({ items: new Map([...h.items, ...items.map((e) => [e.id, e] as const)]), error: null })),
      (err: unknown) => {
        if (!abort.signal.aborted) setEntries((h) => ({ ...h, error: errorMessage(err) }));
      },
    );
    return () => abort.abort();
  }, [id, rounds, resyncs]);

  const put = useCallback((order: Order) => setRest((r) => ({ ...r, order: newer(r.order, order) })), []);
  const order = newer(rest.order, live.state);
  useEffect(() => {
    shown.current = order;
  });
  const history = useMemo(() => [...entries.items.values()].sort((a, b) => a.id - b.id), [entries.items]);

  let error: string | null = null;
  if (!order && rest.error) {
    error = rest.error instanceof ApiError && rest.error.code === 'not_found' ? 'There is no such order, or it is not yours to see.' : errorMessage(rest.error);
  }
  return { order, history, historyError: entries.error, error, channelEnded: live.status === 'failed', put };
}
