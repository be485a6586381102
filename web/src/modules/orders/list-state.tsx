import type { ReactNode } from 'react';
import { Button } from '@/components/button';
import type { OrderList } from './use-order-list';

/** Loading, failure and emptiness of a board, in words. */
export function ListState({ list, empty }: { list: OrderList; empty: ReactNode }) {
  return (
    <>
      {list.channelError ? (
        <p className="notice" role="status">
          Live updates are off for this list: {list.channelError} Reload the page to see the latest.
        </p>
      ) : null}
      {list.error ? (
        <p className="error" role="alert">
          {list.error}
        </p>
      ) : !list.loaded ? (
        <p className="muted loading">Loading orders…</p>
      ) : list.orders.length === 0 ? (
        empty
      ) : null}
    </>
  );
}

export function OlderOrders({ list }: { list: OrderList }) {
  if (!list.hasOlder) return null;
  return (
    <p className="older">
      <Button busy={list.loadingOlder} onClick={list.loadOlder}>
        Show older orders
      </Button>
    </p>
  );
}
