import { formatMoney } from '@/components/format';
import type { Role } from '@/lib/session';
import { STATUS_LABELS, type Changes, type HistoryEntry, type Order, type OrderStatus } from './types';

/** The status moves a role may make on the order, as the API lists them (`nextByRole`): what
 * a page offers as buttons. A worker's are the assigned worker's. `assigned` needs a worker, so
 * it is offered as "Assign" with a choice of worker, not as a plain move. */
export function movesFor(order: Order, role: Role): OrderStatus[] {
  return (order.nextByRole[role] ?? []).filter((to) => to !== 'assigned');
}

/** A move's button, in the words of the person pressing it: the worker starts work; staff record
 * that it started. */
export function moveLabel(from: OrderStatus, to: OrderStatus, role: Role): string {
  switch (to) {
    case 'paid':
      return from === 'pending' ? 'Mark as paid' : 'Take the worker off';
    case 'in_progress':
      return role === 'worker' ? 'Start work' : 'Mark in progress';
    case 'completed':
      return 'Mark completed';
    case 'cancelled':
      return 'Cancel order';
    case 'assigned':
      return 'Assign';
    case 'pending':
      return 'Back to waiting for payment';
  }
}

/** Who made a change, for a viewer: "You", the account's name, or "The shop" when no account did
 * (a payment confirming the order). */
export function actorName(entry: Pick<HistoryEntry, 'actor'>, viewerId: string): string {
  if (!entry.actor) return 'The shop';
  if (entry.actor.id === viewerId) return 'You';
  return entry.actor.name || 'Someone';
}

const asStatus = (value: unknown): OrderStatus | null => (typeof value === 'string' && value in STATUS_LABELS ? (value as OrderStatus) : null);
const asNumber = (value: unknown): number | null => (typeof value === 'number' && Number.isFinite(value) ? value : null);
const asId = (value: unknown): string | null => (typeof value === 'string' ? value : null);

/** Names of people by id, from what the page knows (the order's customer and worker, the actors
 * of its history, the workers list); a worker it does not know is "a worker". */
export type NameOf = (id: string) => string | undefined;

export function namesFrom(orders: (Order | undefined)[], entries: readonly HistoryEntry[] = [], more: readonly { id: string; name: string }[] = []): NameOf {
  const names = new Map<string, string>();
  for (const person of more) names.set(person.id, person.name);
  for (const entry of entries) if (entry.actor?.name) names.set(entry.actor.id, entry.actor.name);
  for (const order of orders) {
    if (!order) continue;
    names.set(order.customer.id, order.customer.name);
    if (order.worker) names.set(order.worker.id, order.worker.name);
  }
  return (id) => names.get(id);
}

/**
 * What a change did, as a phrase after its actor: "set the progress to 40%", "assigned Wes Worker
 * and changed the price from $40.00 to $45.00".
 */
export function describeChanges(changes: Changes, currency: string, nameOf: NameOf): string {
  const parts: string[] = [];
  const status = changes.status;
  const worker = changes.workerId;
  const [fromStatus, toStatus] = [asStatus(status?.[0]), asStatus(status?.[1])];
  const workerName = (id: string): string => nameOf(id) ?? 'a worker';
  if (worker) {
    const [from, to] = [asId(worker[0]), asId(worker[1])];
    if (from === null && to) parts.push(`assigned ${workerName(to)}`);
    else if (from && to === null) parts.push(`took ${workerName(from)} off the order`);
    else if (to) parts.push(`reassigned it to ${workerName(to)}`);
  }
  // A status that follows from the worker change (paid → assigned, assigned → paid) needs no words.
  if (toStatus && !(worker && (toStatus === 'assigned' || toStatus === 'paid'))) {
    if (toStatus === 'completed') parts.push('marked it completed');
    else if (toStatus === 'cancelled') parts.push('cancelled it');
    else if (toStatus === 'in_progress') parts.push('started work');
    else if (toStatus === 'paid' && fromStatus === 'pending') parts.push('marked it paid');
    else parts.push(`moved it to ${STATUS_LABELS[toStatus]}`);
  }
  const progress = asNumber(changes.progress?.[1]);
  // Completing sets progress to 100: "marked it completed" says it.
  if (progress !== null && toStatus !== 'completed') parts.push(`set the progress to ${progress}%`);
  const price = changes.priceMinor;
  const [fromPrice, toPrice] = [asNumber(price?.[0]), asNumber(price?.[1])];
  if (toPrice !== null) parts.push(fromPrice !== null ? `changed the price from ${formatMoney(fromPrice, currency)} to ${formatMoney(toPrice, currency)}` : `set the price to ${formatMoney(toPrice, currency)}`);
  if (parts.length === 0) return 'changed the order';
  return parts.length === 1 ? parts[0]! : `${parts.slice(0, -1).join(', ')} and ${parts.at(-1)!}`;
}

/** Whether the entry is the order's creation (its status from nothing). */
export function isCreation(entry: HistoryEntry): boolean {
  return entry.changes.status !== undefined && entry.changes.status[0] === null;
}

/** One history entry as a sentence: "Wes Worker set the progress to 40%.", "Order placed and paid." */
export function entrySentence(entry: HistoryEntry, viewerId: string, currency: string, nameOf: NameOf): string {
  if (isCreation(entry)) return entry.changes.status?.[1] === 'pending' ? 'Order placed, waiting for payment.' : 'Order placed and paid.';
  return `${actorName(entry, viewerId)} ${describeChanges(entry.changes, currency, nameOf)}.`;
}

/** A pushed change as a toast says it, naming people from the order before and after it. */
export function changeSentence(entry: HistoryEntry, viewerId: string, after: Order, before?: Order): string {
  return entrySentence(entry, viewerId, after.currency, namesFrom([after, before], [entry]));
}
