import type { PresenceEvent, Publication } from './channel-layer.js';

/**
 * Every Redis key and pub/sub topic Switchboard uses, built in one place so the layer, presence,
 * connection counting and the Lua scripts agree. All start with the prefix (default `sb:`), so
 * several deployments or test runs share one Redis without meeting. Pub/sub topics ignore the
 * database number, so the prefix is what keeps them apart too.
 *
 * Channel names may hold any character (`:` `.` `@` `/` …). Where a key or field combines a channel
 * with something after it, the channel's byte length goes first so no two pairs can collide, and
 * the Lua scripts can split such a field again.
 */
export class RedisKeys {
  constructor(readonly prefix: string) {}

  /** The instance part of every epoch: a random string, replaced when Redis restarts or is flushed. */
  get epoch(): string {
    return `${this.prefix}epoch`;
  }

  /** The run id of the Redis server that `epoch` belongs to (see RedisConnection). */
  get runId(): string {
    return `${this.prefix}run`;
  }

  /** Sorted set of live nodes, scored by when their heartbeat runs out (Redis time, ms). */
  get nodes(): string {
    return `${this.prefix}nodes`;
  }

  /** Hash: `b` (the bucket the stream was created in, part of its epoch), `top` (newest offset). */
  meta(channel: string): string {
    return `${this.prefix}m:${channel}`;
  }

  /** Stream of the channel's retained publications; entry id `<offset>-0`. */
  stream(channel: string): string {
    return `${this.prefix}s:${channel}`;
  }

  /** String: the offset a publish with this idempotency key got. */
  idempotency(channel: string, key: string): string {
    return `${this.prefix}i:${lengthPrefixed(channel)}${key}`;
  }

  /** The pub/sub topic carrying the channel's publications and presence events. */
  topic(channel: string): string {
    return `${this.prefix}c:${channel}`;
  }

  channelOfTopic(topic: string): string | null {
    const head = `${this.prefix}c:`;
    return topic.startsWith(head) ? topic.slice(head.length) : null;
  }

  /** Hash of a channel's present users: user -> `<connections>|<since ms>`. */
  presenceUsers(channel: string): string {
    return `${this.prefix}pu:${channel}`;
  }

  /** Hash of one node's presence entries: `<channel bytes>:<channel><client>` -> user. */
  nodePresence(node: string): string {
    return `${this.prefix}np:${node}`;
  }

  /** Hash of one node's counted connections: connection id -> user. */
  nodeConnections(node: string): string {
    return `${this.prefix}nc:${node}`;
  }

  /** Hash of one user's connections on every node: connection id -> node. */
  userConnections(user: string): string {
    return `${this.prefix}uc:${user}`;
  }
}

/** `<byte length>:<value>`: the Lua scripts split fields built this way by byte count. */
export function lengthPrefixed(value: string): string {
  return `${Buffer.byteLength(value)}:${value}`;
}

export function presenceField(channel: string, client: string): string {
  return `${lengthPrefixed(channel)}${client}`;
}

/*
 * Messages on a channel's topic. Publications are built by the publish script as
 *   m|<offset>|<time>|<epoch>|<event length>|<event><json>
 * with the event's length in UTF-16 code units, counted here, so the JSON (last) is never scanned
 * or copied twice and the event may hold any character. Presence events are `p|join|<user>` and
 * `p|leave|<user>`; the reaper script builds the same leave message.
 */

export function eventHeader(event: string): string {
  return `${event.length}|${event}`;
}

export function presenceMessage(event: PresenceEvent): string {
  return `p|${event.kind}|${event.user}`;
}

export type TopicMessage = { kind: 'publication'; pub: Publication } | { kind: 'presence'; event: PresenceEvent };

/** Parses a topic message; null for anything malformed (logged by the caller). */
export function parseTopicMessage(channel: string, message: string): TopicMessage | null {
  if (message.startsWith('p|')) {
    const bar = message.indexOf('|', 2);
    const kind = message.slice(2, bar);
    if (bar < 0 || (kind !== 'join' && kind !== 'leave')) return null;
    return { kind: 'presence', event: { channel, kind, user: message.slice(bar + 1) } };
  }
  if (!message.startsWith('m|')) return null;
  let at = 2;
  const fields: string[] = [];
  for (let i = 0; i < 4; i++) {
    const bar = message.indexOf('|', at);
    if (bar < 0) return null;
    fields.push(message.slice(at, bar));
    at = bar + 1;
  }
  const [offsetText, timeText, epoch, lengthText] = fields as [string, string, string, string];
  const offset = Number(offsetText);
  const time = Number(timeText);
  const length = Number(lengthText);
  if (!Number.isSafeInteger(offset) || !Number.isFinite(time) || !Number.isSafeInteger(length) || at + length > message.length) return null;
  const event = message.slice(at, at + length);
  const json = message.slice(at + length);
  return { kind: 'publication', pub: Object.freeze({ channel, event, json, epoch, offset, time }) };
}
