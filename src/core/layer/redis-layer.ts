import {
  idempotencyTtlMs,
  type ChannelLayer,
  type HistoryOptions,
  type HistoryPage,
  type LayerHandlers,
  type PresenceEvent,
  type Publication,
  type PublishOptions,
  type StreamPosition,
} from './channel-layer.js';
import { RedisConnection, newInstance, type RedisConnectionOptions } from './redis-connection.js';
import { eventHeader, parseTopicMessage, presenceMessage, type RedisKeys } from './redis-keys.js';

export interface RedisLayerOptions {
  /** A channel's position outlives its last publication (or this node's last subscriber) by this
   * long, then the channel starts again at offset 1 under a new epoch. Also the length of the epoch
   * buckets (below). Default 24 h. */
  streamMetaTtlMs?: number;
}

const SUBSCRIBE_BATCH = 500;

/**
 * The channel layer for many nodes: history in one Redis stream per channel, fan-out over Redis
 * pub/sub, positions that any node can resume.
 *
 * Publishing is one Lua script (redis-scripts.ts): it takes the next offset, appends to the stream
 * (trimmed by size and age), and PUBLISHes the publication on the channel's topic, atomically, so
 * every node sees a channel's publications in offset order, each already in history.
 *
 * Epochs are `<instance>.<bucket>`: the instance is a random string kept in Redis and replaced when
 * Redis is flushed or restarts, which changes every epoch at once; the bucket is the day (one meta
 * TTL) in which the channel's stream was created. A channel whose stream expired and is created
 * again is always in a later bucket (its meta lived at least one TTL), so a position from the old
 * stream never matches the new one. Reads of a channel that has no stream compute the epoch its
 * first publish will get and store nothing.
 *
 * Each node holds one pub/sub subscription per channel that has local subscribers. After the
 * subscriber connection comes back from an outage, it resubscribes every channel and reports them
 * through `handlers.resubscribed`, since publications in the gap were lost to this node.
 */
export class RedisLayer implements ChannelLayer {
  readonly connection: RedisConnection;
  #handlers: LayerHandlers | null = null;
  #subscribed = new Set<string>();
  #closed = false;
  readonly #metaTtlMs: number;
  #refresher: NodeJS.Timeout | null = null;

  constructor(connection: RedisConnection, options: RedisLayerOptions = {}) {
    this.connection = connection;
    this.#metaTtlMs = options.streamMetaTtlMs ?? 24 * 3600_000;
  }

  /** Connects (failing fast with RedisUnreachableError) and returns a layer that owns the connection. */
  static async connect(options: RedisConnectionOptions & RedisLayerOptions): Promise<RedisLayer> {
    return new RedisLayer(await RedisConnection.connect(options), options);
  }

  get keys(): RedisKeys {
    return this.connection.keys;
  }

  async start(handlers: LayerHandlers): Promise<void> {
    this.#handlers = handlers;
    this.connection.subscriber.on('message', (topic: string, message: string) => this.#onMessage(topic, message));
    this.connection.onSubscriberReconnected(() => void this.#resubscribe());
    // Keep the metas of subscribed channels alive, so quiet channels keep their epoch.
    this.#refresher = setInterval(() => void this.#refreshPins(), Math.min(this.#metaTtlMs / 4, 3600_000));
    this.#refresher.unref();
  }

  async publish(channel: string, event: string, json: string, options: PublishOptions): Promise<StreamPosition> {
    const key = options.idempotencyKey;
    const result = (await this.connection.call(({ keys, scripts }) =>
      scripts.run(
        'sbPublish',
        // Without a key the fourth key is not touched; the meta stands in for it.
        [keys.epoch, keys.meta(channel), keys.stream(channel), key === undefined ? keys.meta(channel) : keys.idempotency(channel, key)],
        [
          newInstance(),
          this.#metaTtlMs, // the epoch bucket is one meta TTL long (see the class comment)
          this.#metaTtlMs,
          keys.topic(channel),
          event,
          json,
          options.historySize,
          options.historyTtlMs,
          key === undefined ? 0 : idempotencyTtlMs(options),
          eventHeader(event),
        ],
      ),
    )) as [string, number, number];
    return { epoch: result[0], offset: Number(result[1]) };
  }

  async history(channel: string, options: HistoryOptions = {}): Promise<HistoryPage> {
    const { since, limit, maxChars } = options;
    const [epoch, top, complete, entries] = (await this.connection.call(({ keys, scripts }) =>
      scripts.run('sbHistory', [keys.epoch, keys.meta(channel), keys.stream(channel)], [newInstance(), this.#metaTtlMs, since?.epoch ?? '', since?.offset ?? 0, limit ?? -1, maxChars ?? -1]),
    )) as [string, number, number, RawEntry[]];
    const publications = entries.map((entry) => toPublication(channel, epoch, entry));
    // Without `since` the script reads newest first (to stop at the limit); callers get oldest first.
    if (!since) publications.reverse();
    return { publications, position: { epoch, offset: Number(top) }, complete: complete === 1 };
  }

  async subscribe(channel: string): Promise<void> {
    const { keys, scripts } = this.#usable();
    this.#subscribed.add(channel);
    try {
      await this.connection.subscriber.subscribe(keys.topic(channel));
      await scripts.run('sbPin', [keys.meta(channel), keys.stream(channel)], [this.#metaTtlMs, this.#metaTtlMs]);
    } catch (err) {
      this.#subscribed.delete(channel);
      throw this.connection.unavailable(err);
    }
  }

  async unsubscribe(channel: string): Promise<void> {
    if (!this.#subscribed.delete(channel)) return;
    // While the subscriber is down its subscriptions are gone already, and this one is not renewed.
    if (this.connection.subscriber.status !== 'ready') return;
    try {
      await this.connection.subscriber.unsubscribe(this.keys.topic(channel));
    } catch (err) {
      // Left subscribed, this node only receives messages it drops (not in #subscribed).
      throw this.connection.unavailable(err);
    }
  }

  async publishPresence(event: PresenceEvent): Promise<void> {
    await this.connection.call(({ command, keys }) => command.publish(keys.topic(event.channel), presenceMessage(event)));
  }

  ready(): boolean {
    return !this.#closed && this.connection.ready;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#refresher) clearInterval(this.#refresher);
    this.#subscribed.clear();
    await this.connection.close();
  }

  #usable(): RedisConnection {
    this.connection.assertUsable();
    return this.connection;
  }

  #onMessage(topic: string, message: string): void {
    const channel = this.keys.channelOfTopic(topic);
    // A topic just unsubscribed may still deliver a message or two.
    if (channel === null || !this.#subscribed.has(channel) || !this.#handlers) return;
    const parsed = parseTopicMessage(channel, message);
    if (!parsed) {
      this.connection.log?.warn({ channel, message: message.slice(0, 200) }, 'unparsable message on a channel topic');
      return;
    }
    if (parsed.kind === 'publication') this.#handlers.publication(parsed.pub);
    else this.#handlers.presence(parsed.event);
  }

  /** After an outage of the subscriber connection: subscribe again, then let the hub tell local
   * subscribers to recover what the gap took. If the connection drops again meanwhile, the next
   * reconnect runs this again. */
  async #resubscribe(): Promise<void> {
    const channels = [...this.#subscribed];
    try {
      for (let i = 0; i < channels.length; i += SUBSCRIBE_BATCH) {
        await this.connection.subscriber.subscribe(...channels.slice(i, i + SUBSCRIBE_BATCH).map((c) => this.keys.topic(c)));
      }
    } catch (err) {
      this.connection.log?.warn({ err, channels: channels.length }, 'resubscribing after a redis outage failed; retrying on the next connection');
      return;
    }
    this.connection.log?.info({ channels: channels.length }, 'resubscribed after a redis outage; local subscribers recover from history');
    this.#handlers?.resubscribed?.(channels.filter((c) => this.#subscribed.has(c)));
  }

  async #refreshPins(): Promise<void> {
    if (!this.connection.commandReady || this.#subscribed.size === 0) return;
    const { keys, scripts } = this.connection;
    // Written in one go, so ioredis sends them as one pipeline.
    const pins = [...this.#subscribed].map((c) => scripts.run('sbPin', [keys.meta(c), keys.stream(c)], [this.#metaTtlMs, this.#metaTtlMs]));
    await Promise.all(pins).catch((err: unknown) => this.connection.log?.warn({ err }, 'refreshing subscribed channels failed'));
  }
}

/** A stream entry as XRANGE gives it: `[id, [field, value, ...]]`, fields e, d, t, x. */
type RawEntry = [string, string[]];

function toPublication(channel: string, epoch: string, [id, fields]: RawEntry): Publication {
  const get = (name: string): string => {
    for (let i = 0; i < fields.length; i += 2) if (fields[i] === name) return fields[i + 1] ?? '';
    return '';
  };
  return Object.freeze({ channel, event: get('e'), json: get('d'), epoch, offset: Number.parseInt(id, 10), time: Number(get('t')) });
}
