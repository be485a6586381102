import { z } from 'zod';
import '../util/plain-errors.js';
import type { ClientFrame, ClientRequest, ReplyError, RequestOp } from '@switchboard/client/protocol';
import type { Publication } from '../layer/channel-layer.js';
import type { PresenceMember } from '../presence/presence-store.js';
import { RequestError } from './reply-error.js';
import { RawJson, stringify } from './raw-json.js';
import { jsonTooDeep } from '../util/json-depth.js';

const id = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const channel = z.string().max(1024);
const position = z.object({ epoch: z.string().min(1).max(128), offset: z.number().int().min(0) });
/** Event names, shared with the HTTP publish API. */
export const eventName = z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'event must be 1-64 letters, digits or _.:-');

/** Incoming request schemas, one per op, each checked against the shared protocol types. */
const requestSchemas = {
  connect: z.object({ op: z.literal('connect'), id, token: z.string().max(16_384).optional() }),
  subscribe: z.object({ op: z.literal('subscribe'), id, channel, since: position.optional() }),
  unsubscribe: z.object({ op: z.literal('unsubscribe'), id, channel }),
  publish: z.object({ op: z.literal('publish'), id, channel, event: eventName, data: z.unknown() }),
  presence: z.object({ op: z.literal('presence'), id, channel }),
  history: z.object({ op: z.literal('history'), id, channel, since: position.optional(), limit: z.number().int().min(0).max(1000).optional() }),
  refresh: z.object({ op: z.literal('refresh'), id, token: z.string().min(1).max(16_384) }),
  ping: z.object({ op: z.literal('ping'), id }),
} satisfies { [K in RequestOp]: z.ZodType<Extract<ClientRequest, { op: K }>> };

export type Parsed = { ok: true; frame: ClientFrame } | { ok: false; id: number | null; error: RequestError };

/** Parses one text frame. Failures name the problem and, when the frame had a usable id, carry it
 * so the error can be a reply to that request. */
export function parseClientFrame(text: string, maxDepth: number): Parsed {
  // Checked before parsing, so a frame of 30,000 nested arrays costs a scan, not a tree; its id
  // is inside what is not parsed, so the answer is an error frame rather than a reply.
  if (jsonTooDeep(text, maxDepth)) return { ok: false, id: null, error: new RequestError('bad_frame', `the frame nests JSON deeper than ${maxDepth} levels`) };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, id: null, error: new RequestError('bad_frame', 'the frame is not valid JSON') };
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return { ok: false, id: null, error: new RequestError('bad_frame', 'the frame must be a JSON object') };
  }
  const obj = raw as Record<string, unknown>;
  const reqId = id.safeParse(obj.id).success ? (obj.id as number) : null;
  if (obj.op === 'pong') return { ok: true, frame: { op: 'pong' } };
  if (typeof obj.op !== 'string' || !Object.hasOwn(requestSchemas, obj.op)) {
    const what = typeof obj.op === 'string' ? `unknown op '${obj.op.slice(0, 32)}'` : 'op must be a string';
    return { ok: false, id: reqId, error: new RequestError(typeof obj.op === 'string' ? 'unknown_op' : 'bad_request', what, 'op') };
  }
  if (reqId === null) return { ok: false, id: null, error: new RequestError('bad_request', 'id must be a non-negative integer', 'id') };
  const schema = requestSchemas[obj.op as RequestOp];
  const result = schema.safeParse(obj);
  if (!result.success) {
    const issue = result.error.issues[0];
    const field = issue?.path.join('.') || undefined;
    const message = issue ? `${field ?? 'frame'}: ${issue.message}` : 'invalid request';
    return { ok: false, id: reqId, error: new RequestError('bad_request', message, field) };
  }
  if (obj.op === 'publish' && !Object.hasOwn(obj, 'data')) {
    return { ok: false, id: reqId, error: new RequestError('bad_request', 'data: required', 'data') };
  }
  return { ok: true, frame: result.data as ClientRequest };
}

// ----- Server frames. Frames that go to many sockets are built once, as Buffers.

export const PING_FRAME = Buffer.from('{"op":"ping"}');

export function messageFrame(pub: Publication): Buffer {
  return Buffer.from(
    `{"op":"message","channel":${JSON.stringify(pub.channel)},"event":${JSON.stringify(pub.event)},"data":${pub.json},` +
      `"epoch":${JSON.stringify(pub.epoch)},"offset":${pub.offset},"time":"${new Date(pub.time).toISOString()}"}`,
  );
}

export function presenceFrame(kind: 'join' | 'leave', channel: string, user: string): Buffer {
  return Buffer.from(`{"op":"${kind}","channel":${JSON.stringify(channel)},"user":${JSON.stringify(user)}}`);
}

export function unsubscribedFrame(channel: string, error: ReplyError): Buffer {
  return Buffer.from(JSON.stringify({ op: 'unsubscribed', channel, error }));
}

/** A publication inside a reply (history, recovery), with its data spliced in unparsed. */
export function publicationPayload(pub: Publication): Record<string, unknown> {
  return { event: pub.event, data: new RawJson(pub.json), offset: pub.offset, time: new Date(pub.time).toISOString() };
}

export function replyOk(id: number, result: unknown): string {
  return `{"op":"reply","id":${id},"ok":true,"result":${stringify(result)}}`;
}

export function replyError(id: number, error: RequestError): string {
  return JSON.stringify({ op: 'reply', id, ok: false, error: error.toReply() });
}

export function errorFrame(error: RequestError): string {
  return JSON.stringify({ op: 'error', error: error.toReply() });
}

export function serverFrame(frame: Record<string, unknown>): string {
  return stringify(frame);
}

/** A time as the wire shows it (welcome, refresh, connection_established): UTC ISO, or null. */
export function isoOrNull(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

/** Presence members as the wire (and the in-process API) shows them: times as UTC ISO strings. */
export function presenceEntries(members: PresenceMember[]): { user: string; since: string }[] {
  return members.map((m) => ({ user: m.user, since: new Date(m.since).toISOString() }));
}
