import { useCallback } from 'react';
import { Flash } from '@/components/flash';
import { Money } from '@/components/money';
import { Page } from '@/components/page';
import { Time } from '@/components/time';
import { useToast } from '@/components/toast';
import { Link, useLocation } from '@/lib/router';
import { useSession, type User } from '@/lib/session';
import { ListState, OlderOrders } from './list-state';
import { OrderProgress, StatusBadge, useWorkers } from './order-bits';
import { AssignWorker, MoveButtons, PriceEditor, WriteError } from './order-controls';
import { changeSentence } from './order-text';
import { STATUS_LABELS, type Order, type OrderChange, type OrderStatus, type Worker } from './types';
import { useOrderList } from './use-order-list';
import { useOrderWrite } from './use-order-write';

interface Filter {
  /** In the address: /staff?status=<key>; the first is the default (no query). */
  key: string;
  label: string;
  statuses: readonly OrderStatus[];
}

/** The filters, in the order work flows. "Open" (the default) is what staff act on; "Needs a
 * worker" is a paid order nobody works on yet. */
const FILTERS: readonly Filter[] = [
  { key: 'open', label: 'Open', statuses: ['pending', 'paid', 'assigned', 'in_progress'] },
  { key: 'paid', label: 'Needs a worker', statuses: ['paid'] },
  { key: 'assigned', label: STATUS_LABELS.assigned, statuses: ['assigned'] },
  { key: 'in_progress', label: STATUS_LABELS.in_progress, statuses: ['in_progress'] },
  { key: 'pending', label: STATUS_LABELS.pending, statuses: ['pending'] },
  { key: 'completed', label: STATUS_LABELS.completed, statuses: ['completed'] },
  { key: 'cancelled', label: STATUS_LABELS.cancelled, statuses: ['cancelled'] },
  { key: 'all', label: 'All', statuses: ['pending', 'paid', 'assigned', 'in_progress', 'completed', 'cancelled'] },
];
const DEFAULT_FILTER = FILTERS[0]!;
/** Orders wait for payment only when a provider confirms later than checkout: no empty filter for it. */
const HIDDEN_WHEN_EMPTY = new Set(['pending']);

const keepAll = (): boolean => true;

/** Every order of the shop for managers and admins (staff-orders:<tenant>): assign, price, move. */
export function StaffBoardPage() {
  const session = useSession();
  if (!session) return null;
  return <StaffBoard user={session.user} />;
}

function StaffBoard({ user }: { user: User }) {
  const toast = useToast();
  const { query } = useLocation();
  const asked = query.get('status');
  const filter = FILTERS.find((f) => f.key === asked) ?? DEFAULT_FILTER;
  const { workers, error: workersError } = useWorkers();
  const onChange = ({ order, entry }: OrderChange, before: Order | undefined): void => {
    if (entry.actor?.id === user.id) return;
    toast.show(before ? `Order #${order.number}: ${changeSentence(entry, user.id, order, before)}` : `New order #${order.number} from ${order.customer.name}: ${order.title}.`);
  };
  const list = useOrderList(`staff-orders:${user.tenant.id}`, keepAll, onChange);
  const count = useCallback((f: Filter) => list.orders.filter((o) => f.statuses.includes(o.status)).length, [list.orders]);
  const shown = list.orders.filter((o) => filter.statuses.includes(o.status));

  return (
    <Page title="Staff board" intro={`Every order of ${user.tenant.name}, live. Assign a worker to paid orders, adjust prices, move orders along.`}>
      <nav className="filters" aria-label="Filter orders by status">
        {FILTERS.filter((f) => f === filter || !HIDDEN_WHEN_EMPTY.has(f.key) || count(f) > 0).map((f) => (
          <Link key={f.key} to={f === DEFAULT_FILTER ? '/staff' : `/staff?status=${f.key}`} className={`filter${f === filter ? ' filter--on' : ''}`} aria-current={f === filter ? 'true' : undefined}>
            {f.label} <span className="filter__count">{count(f)}</span>
          </Link>
        ))}
      </nav>
      {workersError ? <p className="notice">{workersError}</p> : null}
      <ListState list={list} empty={<p className="card card--muted">No orders yet. They appear here the moment a customer checks out.</p>} />
      {list.loaded && list.orders.length > 0 && shown.length === 0 ? <p className="card card--muted">{filter === DEFAULT_FILTER ? 'No open orders: everything is completed or cancelled.' : `No order is “${filter.label}” right now.`}</p> : null}
      {shown.length > 0 ? (
        <ul className="order-cards" aria-label={`Orders: ${filter.label}`}>
          {shown.map((order) => (
            <StaffRow key={order.id} order={order} user={user} workers={workers} put={list.put} />
          ))}
        </ul>
      ) : null}
      <OlderOrders list={list} />
    </Page>
  );
}

function StaffRow({ order, user, workers, put }: { order: Order; user: User; workers: Worker[] | null; put: (order: Order) => void }) {
  const write = useOrderWrite(put);
  return (
    <li className="card order-card order-card--staff" data-order={order.number}>
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
      <p className="order-card__meta muted">
        {order.customer.name} · <Flash watch={order.worker?.id ?? null}>{order.worker ? `worker: ${order.worker.name}` : 'no worker'}</Flash> · updated <Time iso={order.updatedAt} />
      </p>
      <OrderProgress order={order} />
      <div className="order-card__actions">
        <AssignWorker order={order} workers={workers} write={write} />
        <PriceEditor order={order} write={write} />
        <MoveButtons order={order} role={user.role} write={write} />
      </div>
      <WriteError write={write} />
    </li>
  );
}
