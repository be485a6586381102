import type { UserInfo } from '@switchboard/client/protocol';
import type { Publication } from '../layer/channel-layer.js';
import { jsonTooDeep } from '../util/json-depth.js';
import { eventName } from './frames.js';
import { RawJson, stringify } from './raw-json.js';
import { RequestError } from './reply-error.js';

/**
 * The Django Channels frame style, spoken on path aliases that ask for it (docs/protocol.md, "Path
 * aliases"). A Channels frontend switches on `data.type`, so every frame is a JSON object whose
 * `type` says what it is: the server's own frames use the types below, and every publication's
 * `type` is its event.
 */

/** The types the server's own frames use; clients may not publish events with these names, or
 * their subscribers could not tell the two apart. */
export const CHANNELS_SERVER_TYPES: ReadonlySet<string> = new Set(['connection_established', 'error', 'presence']);

const OPEN_BRACE = 0x7b;

/**
 * A publication as a Channels frontend expects it, built once per publication for every Channels
 * subscriber: `{"type": event, ...data}` when data is a JSON object, `{"type": event, "data": data}`
 * otherwise. Data that carries its own `type` is spread only when that `type` is the event itself
 * (the Django habit of repeating it); a different one would be lost or would change what the
 * frontend switches on, so that data is sent whole under `data` instead.
 */
export function channelsMessageFrame(pub: Publication): Buffer {
  const type = JSON.stringify(pub.event);
  const { json } = pub;
  // Layer data is JSON.stringify output: an object starts with '{' and has no whitespace to skip.
  if (json.charCodeAt(0) === OPEN_BRACE) {
    if (json === '{}') return Buffer.from(`{"type":${type}}`);
    // Most data has no "type" anywhere: spliced without parsing.
    if (!json.includes('"type"')) return Buffer.from(`{"type":${type},${json.slice(1)}`);
    const own = (JSON.parse(json) as Record<string, unknown>).type;
    if (own === undefined) return Buffer.from(`{"type":${type},${json.slice(1)}`);
    if (own === pub.event) return Buffer.from(json);
  }
  return Buffer.from(`{"type":${type},"data":${json}}`);
}

/** The first frame on a Channels connection (as Django consumers send it): who the connection is
 * and what it was subscribed to, with the first channel's snapshot when its namespace has one. */
export function connectionEstablishedFrame(info: { session: string; user: UserInfo | null; channels: string[]; snapshot: unknown; expiresAt: string | null }): string {
  const frame: Record<string, unknown> = { type: 'connection_established', session: info.session, user: info.user, channels: info.channels };
  if (info.snapshot !== undefined) frame.snapshot = info.snapshot instanceof RawJson ? info.snapshot : new RawJson(stringify(info.snapshot));
  frame.expiresAt = info.expiresAt;
  return stringify(frame);
}

/** An error as a Channels frontend can read it: `{"type":"error","code":…,"message":…}`. */
export function channelsErrorFrame(error: RequestError, channel?: string): string {
  const frame: Record<string, unknown> = { type: 'error', code: error.code, message: error.message };
  if (error.field !== undefined) frame.field = error.field;
  if (channel !== undefined) frame.channel = channel;
  return JSON.stringify(frame);
}

export function channelsPresenceFrame(kind: 'join' | 'leave', channel: string, user: string): Buffer {
  return Buffer.from(`{"type":"presence","action":"${kind}","channel":${JSON.stringify(channel)},"user":${JSON.stringify(user)}}`);
}

export type ChannelsParsed = { ok: true; event: string; data: Record<string, unknown> } | { ok: false; error: RequestError };

/** A client's Channels frame `{"type": "x", ...rest}`: a publish of event `x` with data `rest`. */
export function parseChannelsFrame(text: string, maxDepth: number): ChannelsParsed {
  if (jsonTooDeep(text, maxDepth)) return { ok: false, error: new RequestError('bad_frame', `the frame nests JSON deeper than ${maxDepth} levels`) };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, error: new RequestError('bad_frame', 'the frame is not valid JSON') };
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return { ok: false, error: new RequestError('bad_frame', 'the frame must be a JSON object') };
  }
  const { type, ...data } = raw as Record<string, unknown>;
  if (type === undefined && Object.hasOwn(data, 'op')) {
    return { ok: false, error: new RequestError('bad_request', 'this path speaks Django Channels frames ({"type": ...}); for op frames connect with ?frames=switchboard', 'type') };
  }
  if (typeof type !== 'string' || !eventName.safeParse(type).success) {
    return { ok: false, error: new RequestError('bad_request', 'type must be 1-64 letters, digits or _.:-', 'type') };
  }
  if (CHANNELS_SERVER_TYPES.has(type)) {
    return { ok: false, error: new RequestError('bad_request', `type '${type}' is the server's own; publish under another name`, 'type') };
  }
  return { ok: true, event: type, data };
}
