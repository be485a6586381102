import { useId, useState, type FormEvent } from 'react';
import { Button } from '@/components/button';
import { formatMoney, moneyInput, parseMoney } from '@/components/format';
import type { Role } from '@/lib/session';
import { moveLabel, movesFor } from './order-text';
import { STATUS_LABELS, type Order, type OrderStatus, type Worker } from './types';
import type { OrderWrite } from './use-order-write';

/** The status moves the viewer's role may make, one button each; cancelling asks once more. */
export function MoveButtons({ order, role, write }: { order: Order; role: Role; write: OrderWrite }) {
  const [confirming, setConfirming] = useState(false);
  const moves = movesFor(order, role);
  if (moves.length === 0) return null;
  const move = (to: OrderStatus): void => {
    setConfirming(false);
    void write.run(`move:${to}`, order, { status: to }, `Order #${order.number}: ${to === 'cancelled' ? 'cancelled' : `now ${STATUS_LABELS[to].toLowerCase()}`}.`);
  };
  return (
    <div className="order-moves" role="group" aria-label={`Status of order #${order.number}`}>
      {moves.map((to) => {
        if (to !== 'cancelled') {
          return (
            // The worker's next step is their main action; staff mostly assign and price, so their moves stay secondary.
            <Button key={to} variant={role === 'worker' ? 'primary' : 'secondary'} busy={write.busy === `move:${to}`} disabled={write.busy !== null} onClick={() => move(to)}>
              {moveLabel(order.status, to, role)}
            </Button>
          );
        }
        return confirming ? (
          <span key={to} className="order-moves__confirm">
            <Button variant="danger" busy={write.busy === 'move:cancelled'} disabled={write.busy !== null} onClick={() => move(to)}>
              Yes, cancel order #{order.number}
            </Button>
            <Button variant="quiet" onClick={() => setConfirming(false)}>
              Keep it
            </Button>
          </span>
        ) : (
          <Button key={to} variant="danger" disabled={write.busy !== null} onClick={() => setConfirming(true)}>
            {moveLabel(order.status, to, role)}
          </Button>
        );
      })}
    </div>
  );
}

/** Progress while the order is in progress: a slider and a number, saved with one button. It
 * follows the order's live value until the viewer starts editing. */
export function ProgressEditor({ order, write }: { order: Order; write: OrderWrite }) {
  const [draft, setDraft] = useState<number | null>(null);
  const id = useId();
  if (order.status !== 'in_progress') return null;
  const value = draft ?? order.progress;
  const set = (text: string): void => {
    const n = Math.round(Number(text));
    setDraft(Number.isFinite(n) ? Math.max(0, Math.min(100, n)) : order.progress);
  };
  const submit = (event: FormEvent): void => {
    event.preventDefault();
    void write.run('progress', order, { progress: value }, `Order #${order.number}: progress saved at ${value}%.`).then((ok) => ok && setDraft(null));
  };
  return (
    <form className="progress-editor" onSubmit={submit}>
      <label htmlFor={`${id}-range`} className="progress-editor__label">
        Progress
      </label>
      <input id={`${id}-range`} type="range" min={0} max={100} step={5} value={value} onChange={(e) => set(e.target.value)} aria-valuetext={`${value}%`} />
      <span className="progress-editor__number">
        <input type="number" min={0} max={100} step={1} value={value} onChange={(e) => set(e.target.value)} aria-label={`Progress of order #${order.number}, in percent`} />%
      </span>
      <Button type="submit" variant="primary" busy={write.busy === 'progress'} disabled={write.busy !== null || value === order.progress}>
        Save progress
      </Button>
    </form>
  );
}

/** Staff: choose the worker; assigning a paid order makes it assigned. */
export function AssignWorker({ order, workers, write }: { order: Order; workers: readonly Worker[] | null; write: OrderWrite }) {
  const [choice, setChoice] = useState<string | null>(null);
  const id = useId();
  if (order.status !== 'paid' && order.status !== 'assigned' && order.status !== 'in_progress') return null;
  const current = order.worker?.id ?? '';
  const value = choice ?? current;
  const options = workers ? [...workers] : [];
  if (order.worker && !options.some((w) => w.id === order.worker?.id)) options.unshift(order.worker);
  const chosen = options.find((w) => w.id === value);
  const submit = (event: FormEvent): void => {
    event.preventDefault();
    if (!chosen) return;
    void write.run('assign', order, { workerId: chosen.id }, `Order #${order.number}: assigned to ${chosen.name}.`).then((ok) => ok && setChoice(null));
  };
  return (
    <form className="assign" onSubmit={submit}>
      <label htmlFor={id}>Worker</label>
      <select id={id} value={value} onChange={(e) => setChoice(e.target.value)} disabled={workers === null}>
        {current === '' ? <option value="">{workers === null ? 'Loading workers…' : 'Choose a worker…'}</option> : null}
        {options.map((w) => (
          <option key={w.id} value={w.id}>
            {w.name}
          </option>
        ))}
      </select>
      <Button type="submit" variant={chosen && value !== current ? 'primary' : 'secondary'} busy={write.busy === 'assign'} disabled={write.busy !== null || !chosen || value === current}>
        {current ? 'Reassign' : 'Assign'}
      </Button>
    </form>
  );
}

/** Staff: the price in the currency's major units ("45.50"), sent as integer minor units parsed
 * from the text exactly. Shows what will be saved, formatted, before it is. */
export function PriceEditor({ order, write }: { order: Order; write: OrderWrite }) {
  const [draft, setDraft] = useState<string | null>(null);
  const id = useId();
  if (order.status === 'completed' || order.status === 'cancelled') return null;
  const text = draft ?? moneyInput(order.priceMinor, order.currency);
  const parsed = parseMoney(text, order.currency);
  const changed = parsed.ok && parsed.minor !== order.priceMinor;
  const submit = (event: FormEvent): void => {
    event.preventDefault();
    if (!parsed.ok) return;
    void write.run('price', order, { priceMinor: parsed.minor }, `Order #${order.number}: price set to ${formatMoney(parsed.minor, order.currency)}.`).then((ok) => ok && setDraft(null));
  };
  return (
    <form className="price-editor" onSubmit={submit} noValidate>
      <label htmlFor={id}>Price ({order.currency})</label>
      <input id={id} inputMode="decimal" autoComplete="off" value={text} onChange={(e) => setDraft(e.target.value)} aria-invalid={!parsed.ok || undefined} aria-describedby={`${id}-hint`} />
      <Button type="submit" variant={changed ? 'primary' : 'secondary'} busy={write.busy === 'price'} disabled={write.busy !== null || !changed}>
        Save price
      </Button>
      <span id={`${id}-hint`} className={parsed.ok ? 'price-editor__hint muted' : 'price-editor__hint price-editor__hint--bad'}>
        {parsed.ok ? (changed ? `Will be ${formatMoney(parsed.minor, order.currency)}` : '') : parsed.error}
      </span>
    </form>
  );
}

/** The last refusal of a row's writes, in words. */
export function WriteError({ write }: { write: OrderWrite }) {
  return write.error ? (
    <p className="error order-error" role="alert">
      {write.error}
    </p>
  ) : null;
}
