import { SwitchboardError, type Subscription, type SubscriptionState, type SwitchboardClient, type UnrecoveredInfo } from '@switchboard/client';
import type { ChannelEvent, ChannelStatus } from './types.js';

/** A publication of any channel, before a component's event map types it. */
export type AnyEvent = ChannelEvent<Record<string, unknown>>;

/** What every component on a channel sees alike. Replaced, never changed in place, so a component
 * can tell that something changed by identity. */
export interface EntryView {
  readonly status: ChannelStatus;
  readonly snapshot: unknown;
  readonly hasSnapshot: boolean;
  readonly error: SwitchboardError | null;
  readonly lastEvent: AnyEvent | null;
  readonly resyncedAt: number | null;
}

export interface PresenceView {
  readonly users: readonly string[];
  /** A list of users has arrived since the entry was made. */
  readonly loaded: boolean;
  readonly error: SwitchboardError | null;
}

/** Where a newcomer's state starts: the latest snapshot (if any) and the publications since. */
export interface Replay {
  readonly hasSnapshot: boolean;
  readonly snapshot: unknown;
  readonly events: readonly AnyEvent[];
  /** False when some publications since the snapshot are missing from `events`. */
  readonly complete: boolean;
}

/** One mounted hook's interest in a channel. */
export interface ChannelWatcher {
  /** Each publication, in order, before `changed`. */
  publication?(event: AnyEvent): void;
  /** Each snapshot, before `changed`. */
  snapshot?(snapshot: unknown): void;
  /** Publications were missed for good (after any snapshot that replaces them). */
  resync?(info: UnrecoveredInfo): void;
  /** The view or the presence list changed. */
  changed(): void;
  /** This watcher shows who is present: keep the presence list up to date. */
  readonly presence?: boolean;
}

export interface EntryHost {
  /** The last watcher left and the entry let its subscription go. */
  disposed(entry: ChannelEntry): void;
  /** The entry's status changed (the connection's `catching_up` depends on it). */
  statusChanged(): void;
}

/** Publications kept since the latest snapshot so that a component mounted later can compute the
 * same state as those mounted earlier. Past this, such a newcomer asks for a new snapshot. */
const MAX_REPLAY = 500;

/**
 * One channel shared by every component that uses it on one client: a single SDK subscription,
 * reference-counted by the mounted hooks. The last one to leave ends it on the next task, so that
 * React's StrictMode (which unmounts and remounts every effect once) and a page swapping one
 * component for another keep the subscription instead of unsubscribing and subscribing again.
 */
export class ChannelEntry {
  view: EntryView;
  presenceView: PresenceView = { users: [], loaded: false, error: null };

  readonly #client: SwitchboardClient;
  readonly #host: EntryHost;
  #sub: Subscription | null = null;
  /** Whether this entry made the SDK subscription (and so may end it). One the app or the server
   * made (a path alias) is used but never unsubscribed. */
  #owned = false;
  #listeners: (() => void)[] = [];
  readonly #watchers = new Set<ChannelWatcher>();
  #presenceWatchers = 0;
  #releaseTimer: ReturnType<typeof setTimeout> | undefined;
  #disposed = false;
  #everLive = false;
  #snapshot: { has: boolean; value: unknown } = { has: false, value: undefined };
  #replay: AnyEvent[] = [];
  #replayComplete = true;
  /** Bumped per presence request, so only the newest reply counts. */
  #presenceSeq = 0;
  /** Joins and leaves seen while a presence request is out, replayed over its answer. */
  #presenceBuffer: { kind: 'join' | 'leave'; user: string }[] | null = null;

  constructor(
    client: SwitchboardClient,
    readonly channel: string,
    host: EntryHost,
  ) {
    this.#client = client;
    this.#host = host;
    this.view = { status: 'connecting', snapshot: undefined, hasSnapshot: false, error: null, lastEvent: null, resyncedAt: null };
    this.#open();
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  /** The snapshot and publications a newcomer folds to catch up with the others. */
  replay(): Replay {
    return { hasSnapshot: this.#snapshot.has, snapshot: this.#snapshot.value, events: this.#replay.slice(), complete: this.#replayComplete };
  }

  retain(watcher: ChannelWatcher): void {
    if (this.#releaseTimer !== undefined) clearTimeout(this.#releaseTimer);
    this.#releaseTimer = undefined;
    if (this.#watchers.has(watcher)) return;
    this.#watchers.add(watcher);
    if (watcher.presence) {
      this.#presenceWatchers += 1;
      if (this.#sub?.state === 'subscribed' && !this.presenceView.loaded && this.#presenceBuffer === null) this.#fetchPresence();
    }
  }

  release(watcher: ChannelWatcher): void {
    if (!this.#watchers.delete(watcher)) return;
    if (watcher.presence) this.#presenceWatchers -= 1;
    if (this.#watchers.size === 0 && this.#releaseTimer === undefined) {
      this.#releaseTimer = setTimeout(() => {
        this.#releaseTimer = undefined;
        if (this.#watchers.size === 0) this.#dispose();
      }, 0);
    }
  }

  /** Resubscribes for a new snapshot: for a newcomer that cannot catch up from what is kept. */
  refresh(): void {
    if (this.#disposed || !this.#owned || !this.#sub || this.#sub.state === 'failed') return;
    this.#detach();
    void this.#sub.unsubscribe();
    this.#open();
  }

  // ----- The SDK subscription.

  #open(): void {
    const existing = this.#client.getSubscription(this.channel);
    this.#owned = existing === null;
    const sub = existing ?? this.#client.subscribe(this.channel);
    this.#sub = sub;
    if (sub.state === 'subscribed') this.#everLive = true;
    this.#listeners = [
      sub.on('message', (_event, _data, publication) => this.#onPublication(publication)),
      sub.on('snapshot', (snapshot) => this.#onSnapshot(snapshot)),
      sub.on('unrecovered', (info) => this.#onUnrecovered(info)),
      sub.on('state', (state) => this.#onState(state)),
      sub.on('subscribed', () => this.#onSubscribed()),
      sub.on('error', (error) => this.#update({ status: 'failed', error })),
      sub.on('join', (user) => this.#onPresence('join', user)),
      sub.on('leave', (user) => this.#onPresence('leave', user)),
    ];
    this.#update({ status: this.#statusOf(sub.state) });
  }

  #detach(): void {
    for (const off of this.#listeners) off();
    this.#listeners = [];
  }

  #dispose(): void {
    this.#disposed = true;
    this.#presenceSeq += 1;
    this.#detach();
    if (this.#owned) void this.#sub?.unsubscribe();
    this.#sub = null;
    this.#host.disposed(this);
  }

  #onPublication(event: AnyEvent): void {
    if (this.#replayComplete) {
      if (this.#replay.length < MAX_REPLAY) this.#replay.push(event);
      else {
        this.#replay = [];
        this.#replayComplete = false;
      }
    }
    for (const w of [...this.#watchers]) guarded(() => w.publication?.(event));
    this.#update({ lastEvent: event });
  }

  #onSnapshot(snapshot: unknown): void {
    this.#snapshot = { has: true, value: snapshot };
    this.#replay = [];
    this.#replayComplete = true;
    for (const w of [...this.#watchers]) guarded(() => w.snapshot?.(snapshot));
    this.#update({ snapshot, hasSnapshot: true });
  }

  #onUnrecovered(info: UnrecoveredInfo): void {
    // With a snapshot the state was rebuilt just before this; without one, what is kept has a hole.
    if (!info.hasSnapshot) {
      this.#replay = [];
      this.#replayComplete = false;
    }
    for (const w of [...this.#watchers]) guarded(() => w.resync?.(info));
    this.#update({ resyncedAt: Date.now() });
  }

  #onState(state: SubscriptionState): void {
    if (state === 'subscribed') this.#everLive = true;
    this.#update({ status: this.#statusOf(state), ...(state === 'subscribed' ? { error: null } : {}) });
  }

  #onSubscribed(): void {
    // Joins and leaves were missed while away: ask for the list again.
    if (this.#presenceWatchers > 0) this.#fetchPresence();
  }

  #statusOf(state: SubscriptionState): ChannelStatus {
    switch (state) {
      case 'subscribed':
        return 'live';
      case 'failed':
        return 'failed';
      case 'unsubscribed':
        return 'idle';
      default:
        return this.#everLive ? 'catching_up' : 'connecting';
    }
  }

  #update(patch: Partial<EntryView>): void {
    const before = this.view.status;
    this.view = { ...this.view, ...patch };
    this.#notify();
    if (this.view.status !== before) this.#host.statusChanged();
  }

  #notify(): void {
    for (const w of [...this.#watchers]) guarded(() => w.changed());
  }

  // ----- Presence.

  #fetchPresence(): void {
    const seq = ++this.#presenceSeq;
    this.#presenceBuffer = [];
    this.#client.presence(this.channel).then(
      (result) => {
        if (seq !== this.#presenceSeq) return;
        let users = dedupe(result.users.map((entry) => entry.user));
        for (const change of this.#presenceBuffer ?? []) users = applyPresence(users, change.kind, change.user);
        this.#presenceBuffer = null;
        this.#setPresence({ users, loaded: true, error: null });
      },
      (err: unknown) => {
        if (seq !== this.#presenceSeq) return;
        this.#presenceBuffer = null;
        const error = SwitchboardError.wrap(err, 'internal');
        // A dropped connection is retried by the next (re)subscribe; a refusal is for good.
        if (!error.temporary) this.#setPresence({ ...this.presenceView, error });
      },
    );
  }

  #onPresence(kind: 'join' | 'leave', user: string): void {
    this.#presenceBuffer?.push({ kind, user });
    const users = applyPresence(this.presenceView.users, kind, user);
    if (users !== this.presenceView.users) this.#setPresence({ ...this.presenceView, users });
  }

  #setPresence(view: PresenceView): void {
    this.presenceView = view;
    this.#notify();
  }
}

function dedupe(users: readonly string[]): readonly string[] {
  return [...new Set(users)];
}

/** The list after a join or leave; the same array when nothing changes. */
function applyPresence(users: readonly string[], kind: 'join' | 'leave', user: string): readonly string[] {
  if (kind === 'join') return users.includes(user) ? users : [...users, user];
  return users.includes(user) ? users.filter((u) => u !== user) : users;
}

/** A component's callback that throws must not stop the others, nor the SDK's bookkeeping: its
 * error is rethrown on a fresh task, where it still surfaces (console, error reporting). */
function guarded(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    setTimeout(() => {
      throw err;
    }, 0);
  }
}
