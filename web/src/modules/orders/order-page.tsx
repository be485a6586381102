import { Flash } from '@/components/flash';
import { Money } from '@/components/money';
import { Page } from '@/components/page';
import { Time } from '@/components/time';
import { useToast } from '@/components/toast';
import { ROLE_LABELS } from '@/lib/roles';
import { Link } from '@/lib/router';
import { useSession, type Role, type User } from '@/lib/session';
import { OrderProgress, StatusBadge, useWorkers } from './order-bits';
import { AssignWorker, MoveButtons, PriceEditor, ProgressEditor, WriteError } from './order-controls';
import { changeSentence, entrySentence, isCreation, movesFor, namesFrom } from './order-text';
import type { HistoryEntry, Order, OrderChange } from './types';
import { useLiveOrder } from './use-live-order';
import { useOrderWrite } from './use-order-write';

const BACK: Record<Role, { to: string; label: string }> = {
  customer: { to: '/orders', label: 'Your orders' },
  worker: { to: '/orders', label: 'Orders board' },
  manager: { to: '/staff', label: 'Staff board' },
  admin: { to: '/staff', label: 'Staff board' },
};

const isStaff = (role: Role): boolean => role === 'manager' || role === 'admin';

/** /orders/:id for everyone who may read the order: the order live, what the viewer may do to it,
 * and its history. A change made elsewhere is highlighted where it shows and told in a toast. */
export function OrderPage({ params }: { params: Record<string, string> }) {
  const session = useSession();
  if (!session || !params.id) return null;
  // A new id is a new page: nothing carries over (key).
  return <OrderView key={params.id} id={params.id} user={session.user} />;
}

function OrderView({ id, user }: { id: string; user: User }) {
  const toast = useToast();
  const onChange = ({ order, entry }: OrderChange, before: Order | undefined): void => {
    // The viewer's own changes were confirmed when saved.
    if (entry.actor?.id === user.id || !before) return;
    toast.show(changeSentence(entry, user.id, order, before));
  };
  // Too much was missed to replay change by change (a long time offline, a restarted server).
  const onResync = (): void => toast.show('Back online: this order is up to date again. What changed is highlighted.');
  const live = useLiveOrder(id, onChange, onResync);
  const { order } = live;
  const back = BACK[user.role];
  const backLink = (
    <Link to={back.to} className="back-link">
      ← {back.label}
    </Link>
  );

  if (!order) {
    return (
      <Page title="Order" actions={backLink}>
        {live.error ? (
          <div className="card">
            <p className="error" role="alert">
              {live.error}
            </p>
            <p>
              <Link to={back.to}>Back to {back.label.toLowerCase()}</Link>
            </p>
          </div>
        ) : (
          <p className="muted loading">Loading the order…</p>
        )}
      </Page>
    );
  }
  const takenOff = user.role === 'worker' && order.worker?.id !== user.id;
  return (
    <Page title={`Order #${order.number}`} intro={order.title} actions={backLink}>
      {takenOff ? (
        <p className="notice" role="status">
          This order is no longer assigned to you: it shows as it was when it was taken off your board.
        </p>
      ) : live.channelEnded ? (
        <p className="notice" role="status">
          Live updates stopped for this order. Reload the page to see the latest.
        </p>
      ) : null}
      <div className="order-page">
        <div className="order-page__main">
          <OrderSummary order={order} />
          {takenOff ? null : <OrderActions order={order} user={user} put={live.put} />}
          <OrderLines order={order} />
        </div>
        <History entries={live.history} error={live.historyError} order={order} user={user} />
      </div>
    </Page>
  );
}

function OrderSummary({ order }: { order: Order }) {
  return (
    <section className="card" aria-labelledby="summary-title">
      <h2 id="summary-title">Where it stands</h2>
      <dl className="facts">
        <div className="facts__row" data-field="status">
          <dt>Status</dt>
          <dd>
            <StatusBadge status={order.status} />
          </dd>
        </div>
        <div className="facts__row" data-field="price">
          <dt>Price</dt>
          <dd>
            <Flash watch={order.priceMinor}>
              <Money minor={order.priceMinor} currency={order.currency} />
            </Flash>
          </dd>
        </div>
        <div className="facts__row" data-field="worker">
          <dt>Worker</dt>
          <dd>
            <Flash watch={order.worker?.id ?? null}>{order.worker ? order.worker.name : <span className="muted">Not assigned yet</span>}</Flash>
          </dd>
        </div>
        <div className="facts__row facts__row--wide" data-field="progress">
          <dt>Progress</dt>
          <dd>
            <OrderProgress order={order} />
          </dd>
        </div>
        <div className="facts__row" data-field="customer">
          <dt>Customer</dt>
          <dd>{order.customer.name}</dd>
        </div>
        <div className="facts__row" data-field="placed">
          <dt>Placed</dt>
          <dd>
            <Time iso={order.createdAt} always="date" />
          </dd>
        </div>
        <div className="facts__row" data-field="updated">
          <dt>Last change</dt>
          <dd>
            <Time iso={order.updatedAt} always="date" />
          </dd>
        </div>
      </dl>
    </section>
  );
}

/** What the viewer may do, by role; the moves are the ones the API lists for that role. */
function OrderActions({ order, user, put }: { order: Order; user: User; put: (order: Order) => void }) {
  const write = useOrderWrite(put);
  const staff = isStaff(user.role);
  const { workers, error } = useWorkers(staff);
  const moves = movesFor(order, user.role);
  const canProgress = (staff || user.role === 'worker') && order.status === 'in_progress';
  const canAssign = staff && (order.status === 'paid' || order.status === 'assigned' || order.status === 'in_progress');
  const canPrice = staff && order.status !== 'completed' && order.status !== 'cancelled';
  const nothing = moves.length === 0 && !canProgress && !canAssign && !canPrice;
  return (
    <section className="card" aria-labelledby="actions-title">
      <h2 id="actions-title">What you can do</h2>
      {nothing ? (
        <p className="muted">{nothingToDo(order, user.role)}</p>
      ) : (
        <div className="order-page__actions">
          {canAssign ? <AssignWorker order={order} workers={workers} write={write} /> : null}
          {canPrice ? <PriceEditor order={order} write={write} /> : null}
          <ProgressEditor order={order} write={write} />
          <MoveButtons order={order} role={user.role} write={write} />
        </div>
      )}
      {user.role === 'customer' && moves.includes('cancelled') ? <p className="muted">You can cancel until a worker starts on it.</p> : null}
      {error ? <p className="notice">{error}</p> : null}
      <WriteError write={write} />
    </section>
  );
}

function nothingToDo(order: Order, role: Role): string {
  if (order.status === 'completed') return 'Nothing: this order is completed.';
  if (order.status === 'cancelled') return 'Nothing: this order is cancelled.';
  if (role === 'customer') return 'The shop is working on it: this page shows every change as it happens.';
  return 'Nothing right now.';
}

function OrderLines({ order }: { order: Order }) {
  const total = order.lines.reduce((sum, line) => sum + line.lineTotalMinor, 0);
  return (
    <section className="card" aria-labelledby="lines-title">
      <h2 id="lines-title">Items</h2>
      <table className="lines">
        <thead>
          <tr>
            <th scope="col">Item</th>
            <th scope="col" className="num">
              Unit price
            </th>
            <th scope="col" className="num">
              Qty
            </th>
            <th scope="col" className="num">
              Total
            </th>
          </tr>
        </thead>
        <tbody>
          {order.lines.map((line, i) => (
            <tr key={`${line.productId}:${line.variantId ?? ''}:${i}`}>
              <td>{line.name}</td>
              <td className="num">
                <Money minor={line.unitPriceMinor} currency={order.currency} />
              </td>
              <td className="num">{line.quantity}</td>
              <td className="num">
                <Money minor={line.lineTotalMinor} currency={order.currency} />
              </td>
            </tr>
          ))}
        </tbody>
        <tfoot>
          <tr>
            <th scope="row" colSpan={3}>
              Items total
            </th>
            <td className="num">
              <Money minor={total} currency={order.currency} />
            </td>
          </tr>
          {total !== order.priceMinor ? (
            <tr>
              <th scope="row" colSpan={3}>
                Price set by the shop
              </th>
              <td className="num">
                <Flash watch={order.priceMinor}>
                  <Money minor={order.priceMinor} currency={order.currency} />
                </Flash>
              </td>
            </tr>
          ) : null}
        </tfoot>
      </table>
    </section>
  );
}

function History({ entries, error, order, user }: { entries: HistoryEntry[]; error: string | null; order: Order; user: User }) {
  const nameOf = namesFrom([order], entries);
  const newestFirst = [...entries].reverse();
  return (
    <section className="card order-page__history" aria-labelledby="history-title">
      <h2 id="history-title">History</h2>
      {error ? <p className="notice">{error}</p> : null}
      {newestFirst.length === 0 && !error ? <p className="muted">Loading…</p> : null}
      <ol className="timeline" aria-label={`History of order #${order.number}`}>
        {newestFirst.map((entry) => (
          <li key={entry.id} className="timeline__item">
            <p className="timeline__what">{entrySentence(entry, user.id, order.currency, nameOf)}</p>
            <p className="timeline__when muted">
              <Time iso={entry.at} always="date" />
              {entry.actor && !isCreation(entry) && entry.actor.id !== user.id && entry.actor.role in ROLE_LABELS ? (
                <span className={`role role--${entry.actor.role}`}>{ROLE_LABELS[entry.actor.role as Role]}</span>
              ) : null}
            </p>
          </li>
        ))}
      </ol>
    </section>
  );
}
