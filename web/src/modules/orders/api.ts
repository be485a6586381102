import { api, idempotencyKey } from '@/lib/api';
import type { HistoryEntry, Order, OrderPatch, Worker } from './types';

/** One page of the orders the caller may see, newest first (GET /api/orders). */
export function listOrders(cursor: string | null, signal?: AbortSignal): Promise<{ items: Order[]; nextCursor: string | null }> {
  const query = new URLSearchParams({ limit: '100' });
  if (cursor) query.set('cursor', cursor);
  return api.get(`/api/orders?${query}`, signal ? { signal } : {});
}

export function getOrder(id: string, signal?: AbortSignal): Promise<Order> {
  return api.get(`/api/orders/${encodeURIComponent(id)}`, signal ? { signal } : {});
}

export async function getHistory(id: string, signal?: AbortSignal): Promise<HistoryEntry[]> {
  return (await api.get<{ items: HistoryEntry[] }>(`/api/orders/${encodeURIComponent(id)}/history`, signal ? { signal } : {})).items;
}

/** The workers an order can be assigned to (managers and admins). */
export async function listWorkers(signal?: AbortSignal): Promise<Worker[]> {
  return (await api.get<{ items: Worker[] }>('/api/orders/workers', signal ? { signal } : {})).items;
}

/**
 * Changes an order as a compare-and-set on the version the page showed: if someone changed it
 * since, the API answers 409 version_conflict instead of overwriting their change. `key` makes a
 * retry of the same action safe (the API replays the first answer).
 */
export function patchOrder(id: string, version: number, change: OrderPatch, key: string = idempotencyKey()): Promise<Order> {
  return api.patch(`/api/orders/${encodeURIComponent(id)}`, { ...change, version }, { idempotencyKey: key });
}
