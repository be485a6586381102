import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { errorMessage } from '@/lib/api';
import { useChannel, type ChannelEvent } from '@/lib/realtime';
import { listOrders } from './api';
import { newer, type Order, type OrderChange, type OrderEvents } from './types';
import { useLiveRounds } from './use-live-rounds';

type OrderMap = ReadonlyMap<string, Order>;
const NONE: OrderMap = new Map();

/** Keeps the highest version of each order the channel pushed. */
function follow(map: OrderMap, event: ChannelEvent<OrderEvents>): OrderMap {
  const { order } = event.data;
  if ((map.get(order.id)?.version ?? 0) >= order.version) return map;
  return new Map(map).set(order.id, order);
}

function withOrders(map: OrderMap, orders: readonly Order[]): OrderMap {
  const next = new Map(map);
  for (const order of orders) next.set(order.id, newer(next.get(order.id), order)!);
  return next;
}

export interface OrderList {
  /** The orders `keep` accepts, newest first (by number: rows do not jump when they change). */
  orders: Order[];
  /** False until the first REST answer (or the first push) arrived. */
  loaded: boolean;
  /** Why the orders could not be read, in words (null while fine or once any are shown). */
  error: string | null;
  channelError: string | null;
  hasOlder: boolean;
  loadOlder(): void;
  loadingOlder: boolean;
  /** Puts an order the page got from a REST answer in the list (its own write), by version. */
  put(order: Order): void;
}

/**
 * A dashboard's orders: `GET /api/orders` (what the caller may see) plus the dashboard channel's
 * order_created / order_updated, each order at its highest version, read again over REST whenever
 * the channel becomes live (first subscription, every reconnect) and when it could not replay what
 * was missed. `onChange` hears each pushed change newer than what the page showed, with the order
 * as it was shown (undefined: new to the page).
 */
export function useOrderList(channel: string, keep: (order: Order) => boolean, onChange?: (change: OrderChange, before: Order | undefined) => void): OrderList {
  const [fetched, setFetched] = useState<{ map: OrderMap; older: OrderMap; cursor: string | null; loaded: boolean; error: string | null }>({ map: NONE, older: NONE, cursor: null, loaded: false, error: null });
  const [resyncs, setResyncs] = useState(0);
  const [loadingOlder, setLoadingOlder] = useState(false);
  const shown = useRef<OrderMap>(NONE);
  const changed = (change: OrderChange): void => {
    const before = shown.current.get(change.order.id);
    if (before && before.version >= change.order.version) return;
    onChange?.(change, before);
  };
  const live = useChannel<OrderEvents, OrderMap>(channel, {
    initial: NONE,
    reduce: follow,
    on: { order_created: changed, order_updated: changed },
    onResync: () => setResyncs((n) => n + 1),
  });
  const rounds = useLiveRounds(live.status);

  useEffect(() => {
    const abort = new AbortController();
    listOrders(null, abort.signal).then(
      (page) => setFetched((f) => ({ ...f, map: withOrders(NONE, page.items), cursor: f.older.size > 0 ? f.cursor : page.nextCursor, loaded: true, error: null })),
      (err: unknown) => {
        if (!abort.signal.aborted) setFetched((f) => ({ ...f, loaded: true, error: errorMessage(err) }));
      },
    );
    return () => abort.abort();
  }, [rounds, resyncs]);

  const cursor = fetched.cursor;
  const loadOlder = useCallback(() => {
    if (!cursor) return;
    setLoadingOlder(true);
    listOrders(cursor).then(
      (page) => setFetched((f) => ({ ...f, older: withOrders(f.older, page.items), cursor: page.nextCursor })),
      (err: unknown) => setFetched((f) => ({ ...f, error: errorMessage(err) })),
    ).finally(() => setLoadingOlder(false));
  }, [cursor]);

  const [mine, setMine] = useState<OrderMap>(NONE);
  const put = useCallback((order: Order) => setMine((map) => withOrders(map, [order])), []);

  const merged = useMemo(() => {
    let map = withOrders(fetched.older, [...fetched.map.values()]);
    map = withOrders(map, [...(live.state ?? NONE).values()]);
    return withOrders(map, [...mine.values()]);
  }, [fetched.map, fetched.older, live.state, mine]);
  useEffect(() => {
    shown.current = merged;
  });
  const orders = useMemo(() => [...merged.values()].filter(keep).sort((a, b) => b.number - a.number), [merged, keep]);

  return {
    orders,
    loaded: fetched.loaded || merged.size > 0,
    error: merged.size === 0 ? fetched.error : null,
    channelError: live.error ? errorMessage(live.error) : null,
    hasOlder: cursor !== null,
    loadOlder,
    loadingOlder,
    put,
  };
}
