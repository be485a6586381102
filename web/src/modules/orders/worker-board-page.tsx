import { useCallback } from 'react';
import { Page } from '@/components/page';
import { Time } from '@/components/time';
import { useToast } from '@/components/toast';
import { Link } from '@/lib/router';
import type { User } from '@/lib/session';
import { ListState, OlderOrders } from './list-state';
import { OrderProgress, StatusBadge } from './order-bits';
import { MoveButtons, ProgressEditor, WriteError } from './order-controls';
import { actorName, changeSentence } from './order-text';
import type { Order, OrderChange } from './types';
import { useOrderList, type OrderList } from './use-order-list';
import { useOrderWrite } from './use-order-write';

const ACTIVE = new Set(['assigned', 'in_progress']);

/** A worker's orders (worker-orders:<id>): what to do next on each, progress to report. */
export function WorkerBoardPage({ user }: { user: User }) {
  const toast = useToast();
  const keep = useCallback((order: Order) => order.worker?.id === user.id, [user.id]);
  const onChange = ({ order, entry }: OrderChange, before: Order | undefined): void => {
    if (entry.actor?.id === user.id) return;
    const mineNow = order.worker?.id === user.id;
    const wasMine = before?.worker?.id === user.id;
    if (mineNow && !wasMine) toast.show(`${actorName(entry, user.id)} assigned order #${order.number} to you: ${order.title}.`);
    else if (wasMine && !mineNow) toast.show(`${actorName(entry, user.id)} took order #${order.number} off your board.`);
    else if (mineNow) toast.show(`Order #${order.number}: ${changeSentence(entry, user.id, order, before)}`);
  };
  const list = useOrderList(`worker-orders:${user.id}`, keep, onChange);
  const active = list.orders.filter((o) => ACTIVE.has(o.status));
  const done = list.orders.filter((o) => !ACTIVE.has(o.status));
  return (
    <Page title="Orders board" intro="The orders assigned to you. Start one, report how far along it is, and mark it completed when it is done.">
      <ListState list={list} empty={null} />
      {list.loaded && !list.error ? (
        <section aria-labelledby="todo">
          <h2 id="todo">To do ({active.length})</h2>
          {active.length === 0 ? (
            <p className="card card--muted">Nothing to do right now. New orders appear here as soon as a manager assigns them to you.</p>
          ) : (
            <WorkerCards orders={active} user={user} list={list} />
          )}
        </section>
      ) : null}
      {done.length > 0 ? (
        <section aria-labelledby="done">
          <h2 id="done">Done ({done.length})</h2>
          <WorkerCards orders={done} user={user} list={list} />
        </section>
      ) : null}
      <OlderOrders list={list} />
    </Page>
  );
}

function WorkerCards({ orders, user, list }: { orders: Order[]; user: User; list: OrderList }) {
  return (
    <ul className="order-cards">
      {orders.map((order) => (
        <WorkerCard key={order.id} order={order} user={user} put={list.put} />
      ))}
    </ul>
  );
}

function WorkerCard({ order, user, put }: { order: Order; user: User; put: (order: Order) => void }) {
  const write = useOrderWrite(put);
  return (
    <li className="card order-card" data-order={order.number}>
      <div className="order-card__head">
        <h3 className="order-card__title">
          <Link to={`/orders/${order.id}`}>Order #{order.number}</Link>
        </h3>
        <StatusBadge status={order.status} />
      </div>
      <p className="order-card__what">{order.title}</p>
      <p className="order-card__meta muted">
        For {order.customer.name} · updated <Time iso={order.updatedAt} />
      </p>
      <OrderProgress order={order} />
      {order.status === 'assigned' ? <p className="muted order-card__hint">Press “Start work” when you begin: the customer sees it at once.</p> : null}
      <div className="order-card__actions">
        <ProgressEditor order={order} write={write} />
        <MoveButtons order={order} role={user.role} write={write} />
      </div>
      <WriteError write={write} />
    </li>
  );
}
