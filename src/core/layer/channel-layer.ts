import type { StreamPosition } from '@switchboard/client/protocol';

export type { StreamPosition };

/** A publication as the layer stores and delivers it. `json` is the data already serialized:
 * the layer stores text (so nothing can alias a caller's object) and fan-out reuses it as is. */
export interface Publication {
  channel: string;
  event: string;
  json: string;
  epoch: string;
  offset: number;
  /** Milliseconds since the Unix epoch when the layer accepted it. */
  time: number;
}

export interface PublishOptions {
  /** Keep at most this many publications in the channel's history (0: none). */
  historySize: number;
  /** Drop publications older than this from history. */
  historyTtlMs: number;
  /** A publication with a key the channel has already seen is not published again: publish
   * resolves with the first one's position and nothing is stored or delivered. A key is remembered
   * for the publish's `historyTtlMs`, and at least `IDEMPOTENCY_MIN_TTL_MS`, within the same epoch.
   * The outbox passes its event id here, so an event re-sent after a crash between publish and
   * "mark sent" reaches no one twice. */
  idempotencyKey?: string;
}

/** Idempotency keys are remembered at least this long, even on channels without history: an
 * outbox re-sends within seconds or minutes of the first attempt. */
export const IDEMPOTENCY_MIN_TTL_MS = 5 * 60_000;

export function idempotencyTtlMs(options: PublishOptions): number {
  return Math.max(options.historyTtlMs, IDEMPOTENCY_MIN_TTL_MS);
}

export interface HistoryOptions {
  /** Return the publications after this position, oldest first. */
  since?: StreamPosition;
  /** At most this many; without `since`, the newest ones (still oldest first). */
  limit?: number;
  /** Stop before the publications' data and event names pass this many characters: the page's
   * share of a reply's size bound. At least one publication is returned when there is one, so
   * a client paging with `since` always makes progress. */
  maxChars?: number;
}

/** What one publication counts against `HistoryOptions.maxChars`. */
export function publicationChars(pub: Pick<Publication, 'json' | 'event'>): number {
  return pub.json.length + pub.event.length;
}

export interface HistoryPage {
  publications: Publication[];
  /** The channel's current position (its newest offset, even if that one was pruned). */
  position: StreamPosition;
  /** False when `since` was given but its epoch is not the current one, or publications right
   * after it were pruned: the caller cannot rebuild the stream from history and must refetch. */
  complete: boolean;
}

/** Presence change carried between nodes; not stored in history, no position. */
export interface PresenceEvent {
  channel: string;
  kind: 'join' | 'leave';
  user: string;
}

export interface LayerHandlers {
  publication(pub: Publication): void;
  presence(event: PresenceEvent): void;
  /** The layer lost its subscriptions for a while (e.g. a broker outage) and resubscribed: local
   * subscribers may have missed publications and must be told to recover. */
  resubscribed?(channels: string[]): void;
}

/**
 * The channel layer: the broker every Switchboard node publishes through.
 *
 * Contract (checked by test/layer/conformance.ts against every implementation):
 * - `publish` saves the publication to the channel's history and hands it to every node subscribed
 *   to the channel, atomically per channel: a subscriber sees publications in offset order, and a
 *   publication is in history before any subscriber can see it.
 * - Offsets rise by exactly 1 per channel within an epoch, starting at 1. The epoch is an opaque
 *   string chosen when the channel's stream is created; it changes whenever the stream is lost
 *   (restart of an in-memory layer, broker flush), so a position from an old epoch never matches.
 * - `publish` resolves with the publication's position only after the publication is saved; if it
 *   rejects, the publication may or may not have been delivered but the caller knows it failed.
 *   Delivery to subscribers is at most once; history is how clients make up for what they miss.
 * - History is bounded by size and age (per publish call); `history` returns publications after a
 *   position with the current position, and says when the gap cannot be filled (`complete: false`).
 * - Stored data is a copy: mutating the caller's object after publish changes nothing stored.
 * - `subscribe`/`unsubscribe` are per node and per channel, not per client connection: the hub
 *   reference-counts local clients.
 */
export interface ChannelLayer {
  /** Set once, before any subscribe: where this node's publications and presence events go. */
  start(handlers: LayerHandlers): Promise<void>;
  publish(channel: string, event: string, json: string, options: PublishOptions): Promise<StreamPosition>;
  history(channel: string, options?: HistoryOptions): Promise<HistoryPage>;
  subscribe(channel: string): Promise<void>;
  unsubscribe(channel: string): Promise<void>;
  publishPresence(event: PresenceEvent): Promise<void>;
  /** False while the layer cannot serve (broker unreachable); used by /readyz. */
  ready(): boolean;
  close(): Promise<void>;
}

/** Raised when the layer cannot serve a call (broker down, closed layer). Temporary by nature. */
export class LayerUnavailableError extends Error {
  override name = 'LayerUnavailableError';
}
