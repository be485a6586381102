import { useState } from 'react';
import { Money } from '@/components/money';
import { Time } from '@/components/time';
import { useChannel } from '@/lib/realtime';
import { STATUS_LABELS, type Order, type OrderEvents } from './types';

/**
 * The orders changing on a dashboard channel while the page is open, newest first. A stand-in for
 * the boards, and the pattern their pages follow: useChannel with typed events.
 */
export function LiveActivity({ channel }: { channel: string }) {
  const [recent, setRecent] = useState<{ order: Order; at: string; key: string }[]>([]);
  const add = (order: Order, meta: { time: string; epoch: string; offset: number }) => setRecent((list) => [{ order, at: meta.time, key: `${meta.epoch}:${meta.offset}` }, ...list].slice(0, 8));
  const { status, error } = useChannel<OrderEvents>(channel, {
    on: { order_created: (data, meta) => add(data.order, meta), order_updated: (data, meta) => add(data.order, meta) },
  });
  if (error) return <p className="error">{error.message}</p>;
  return (
    <div className="card">
      <h2>Live activity</h2>
      {recent.length === 0 ? (
        <p className="muted">{status === 'live' ? 'Order changes will appear here as they happen.' : 'Connecting…'}</p>
      ) : (
        <ul className="activity">
          {recent.map(({ order, at, key }) => (
            <li key={key}>
              <span className="activity__what">
                Order #{order.number} · {order.title}
              </span>
              <span className={`status status--${order.status}`}>{STATUS_LABELS[order.status]}</span>
              <Money minor={order.priceMinor} currency={order.currency} />
              <Time iso={at} />
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
