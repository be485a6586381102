import { useCallback } from 'react';
import { Flash } from '@/components/flash';
import { Money } from '@/components/money';
import { Page } from '@/components/page';
import { Time } from '@/components/time';
import { useToast } from '@/components/toast';
import { Link } from '@/lib/router';
import type { User } from '@/lib/session';
import { OrderProgress, StatusBadge } from './order-bits';
import { changeSentence } from './order-text';
import type { Order, OrderChange } from './types';
import { useOrderList } from './use-order-list';
import { ListState, OlderOrders } from './list-state';

/** A customer's orders (my-orders:<id>): where each stands, live, each linking to its page. */
export function CustomerOrdersPage({ user }: { user: User }) {
  const toast = useToast();
  const keep = useCallback((order: Order) => order.customer.id === user.id, [user.id]);
  const onChange = ({ order, entry }: OrderChange, before: Order | undefined): void => {
    if (entry.actor?.id === user.id) return;
    toast.show(before ? `Order #${order.number}: ${changeSentence(entry, user.id, order, before)}` : `Order #${order.number} is placed. Thank you!`);
  };
  const list = useOrderList(`my-orders:${user.id}`, keep, onChange);
  return (
    <Page title="Your orders" intro="Where each of your orders stands. This page updates by itself as the shop works on them.">
      <ListState list={list} empty={<EmptyOrders />} />
      {list.orders.length > 0 ? (
        <ul className="order-cards" aria-label="Your orders">
          {list.orders.map((order) => (
            <li key={order.id} className="card order-card" data-order={order.number}>
              <div className="order-card__head">
                <h2 className="order-card__title">
                  <Link to={`/orders/${order.id}`}>Order #{order.number}</Link>
                </h2>
                <StatusBadge status={order.status} />
                <Flash watch={order.priceMinor} className="order-card__price">
                  <Money minor={order.priceMinor} currency={order.currency} />
                </Flash>
              </div>
              <p className="order-card__what">{order.title}</p>
              <OrderProgress order={order} />
              <p className="order-card__meta muted">
                <Flash watch={order.worker?.id ?? null}>{whoWorks(order)}</Flash>
                {' · '}updated <Time iso={order.updatedAt} />
              </p>
            </li>
          ))}
        </ul>
      ) : null}
      <OlderOrders list={list} />
    </Page>
  );
}

/** Who works on the order, in the customer's words. */
function whoWorks(order: Order): string {
  const name = order.worker?.name;
  if (order.status === 'pending') return 'Waiting for your payment';
  if (order.status === 'cancelled') return 'Cancelled';
  if (!name) return 'Waiting for the shop to pick a worker';
  if (order.status === 'completed') return `Done by ${name}`;
  return order.status === 'in_progress' ? `${name} is working on it` : `${name} will work on it`;
}

function EmptyOrders() {
  return (
    <div className="card card--muted">
      <p>You have no orders yet.</p>
      <p>
        <Link to="/shop">Browse the shop</Link>: what you buy shows here, with its progress as the shop works on it.
      </p>
    </div>
  );
}
