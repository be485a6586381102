import { z } from 'zod';
import { forUpdate, HttpError, newId, nowIso, transact, type ApiUser, type Db, type Domain, type Unit } from 'switchboard';
import type { MemberRole } from './schema.js';

export const roomChannel = (roomId: string): string => `room:${roomId}`;
/** The built-in `user:<id>` namespace: only that user subscribes (their room list, in every tab). */
const userChannel = (userId: string): string => `user:${userId}`;

/** How many messages a room view, and so the subscribe snapshot, carries. */
export const LAST_MESSAGES = 50;

const person = z.object({ id: z.string(), name: z.string() });
export const messageSchema = z.object({ id: z.number().int(), roomId: z.string(), author: person, text: z.string(), at: z.string() });
export const roomSchema = z.object({
  id: z.string(),
  tenantId: z.string(),
  name: z.string(),
  members: z.array(person.extend({ role: z.enum(['owner', 'member']) })),
  /** The last LAST_MESSAGES, oldest first. */
  messages: z.array(messageSchema),
});
export type MessageView = z.infer<typeof messageSchema>;
export type RoomView = z.infer<typeof roomSchema>;

/** Whether the user is a member of the room and the room is in the user's tenant: the question
 * every rule of the `room` namespace asks the database. */
export async function isMember(db: Db, roomId: string, user: { id: string; tenant?: string }): Promise<boolean> {
  if (!user.tenant) return false;
  const row = await db
    .selectFrom('room_members as m')
    .innerJoin('rooms as r', 'r.id', 'm.room_id')
    .select('m.role')
    .where('m.room_id', '=', roomId)
    .where('m.user_id', '=', user.id)
    .where('r.tenant_id', '=', user.tenant)
    .executeTakeFirst();
  return row !== undefined;
}

export async function roomInTenant(db: Db, roomId: string, tenant: string): Promise<boolean> {
  return (await db.selectFrom('rooms').select('id').where('id', '=', roomId).where('tenant_id', '=', tenant).executeTakeFirst()) !== undefined;
}

/** The room with its members and its last messages (read with `trx` inside a transaction). */
export async function roomView(db: Db, roomId: string): Promise<RoomView | undefined> {
  const room = await db.selectFrom('rooms').selectAll().where('id', '=', roomId).executeTakeFirst();
  if (!room) return undefined;
  const members = await db
    .selectFrom('room_members as m')
    .innerJoin('users as u', 'u.id', 'm.user_id')
    .select(['u.id', 'u.name', 'm.role'])
    .where('m.room_id', '=', roomId)
    .orderBy('m.added_at')
    .orderBy('u.id')
    .execute();
  const newest = await messages(db, roomId).orderBy('msg.id', 'desc').limit(LAST_MESSAGES).execute();
  return { id: room.id, tenantId: room.tenant_id, name: room.name, members, messages: newest.reverse().map(toMessageView) };
}

/** GET /api/rooms/:id: members only; anyone else gets 404, as if there were no such room. */
export async function readableRoom(db: Db, user: ApiUser, roomId: string): Promise<RoomView> {
  const room = (await isMember(db, roomId, user)) ? await roomView(db, roomId) : undefined;
  if (!room) throw new HttpError(404, 'not_found', `no room ${roomId}`);
  return room;
}

function messages(db: Db, roomId: string) {
  return db
    .selectFrom('room_messages as msg')
    .innerJoin('users as u', 'u.id', 'msg.author_id')
    .select(['msg.id', 'msg.room_id', 'msg.author_id', 'u.name as author_name', 'msg.text', 'msg.created_at'])
    .where('msg.room_id', '=', roomId);
}

function toMessageView(row: { id: number; room_id: string; author_id: string; author_name: string; text: string; created_at: string }): MessageView {
  return { id: row.id, roomId: row.room_id, author: { id: row.author_id, name: row.author_name }, text: row.text, at: row.created_at };
}

/**
 * The caller's membership of the room, locked until commit (PostgreSQL; SQLite has one writer):
 * 404 unless a member (a stranger does not learn the room exists), 403 when the owner is needed.
 * It locks the room's row too, so a room's changes commit one at a time, in the order they are
 * published.
 */
async function lockMembership(domain: Domain, { trx }: Unit, user: ApiUser, roomId: string, needs: MemberRole): Promise<void> {
  const query = trx
    .selectFrom('room_members as m')
    .innerJoin('rooms as r', 'r.id', 'm.room_id')
    .select('m.role')
    .where('m.room_id', '=', roomId)
    .where('m.user_id', '=', user.id)
    .where('r.tenant_id', '=', user.tenant);
  const membership = await forUpdate(domain, query).executeTakeFirst();
  if (!membership) throw new HttpError(404, 'not_found', `no room ${roomId}`);
  if (needs === 'owner' && membership.role !== 'owner') throw new HttpError(403, 'forbidden', 'only the room’s owner may change its members');
}

export function createRoom(domain: Domain, owner: ApiUser, name: string): Promise<RoomView> {
  return transact(domain, async ({ trx, emit }) => {
    const id = newId('room');
    const now = nowIso();
    await trx.insertInto('rooms').values({ id, tenant_id: owner.tenant, name, created_by: owner.id, created_at: now }).execute();
    await trx.insertInto('room_members').values({ room_id: id, user_id: owner.id, role: 'owner', added_at: now }).execute();
    const room = (await roomView(trx, id))!;
    emit({ channel: userChannel(owner.id), event: 'room_added', data: { room } });
    return room;
  });
}

export function addMember(domain: Domain, owner: ApiUser, roomId: string, userId: string): Promise<RoomView> {
  return transact(domain, async (unit) => {
    await lockMembership(domain, unit, owner, roomId, 'owner');
    const { trx } = unit;
    const user = await trx.selectFrom('users').select(['id', 'name']).where('id', '=', userId).where('tenant_id', '=', owner.tenant).where('deleted_at', 'is', null).executeTakeFirst();
    if (!user) throw new HttpError(422, 'unknown_user', `no user ${userId} in your tenant`, { field: 'userId' });
    const already = await trx.selectFrom('room_members').select('role').where('room_id', '=', roomId).where('user_id', '=', userId).executeTakeFirst();
    if (already) throw new HttpError(409, 'already_member', `${user.name} is a member already`, { field: 'userId' });
    await trx.insertInto('room_members').values({ room_id: roomId, user_id: userId, role: 'member', added_at: nowIso() }).execute();
    const room = (await roomView(trx, roomId))!;
    unit.emit(
      { channel: roomChannel(roomId), event: 'member_added', data: { member: { ...user, role: 'member' }, by: owner.id } },
      { channel: userChannel(userId), event: 'room_added', data: { room } },
    );
    return room;
  });
}

/** The owner removes a member, or a member leaves (userId is their own). */
export function removeMember(domain: Domain, actor: ApiUser, roomId: string, userId: string): Promise<void> {
  return transact(domain, async (unit) => {
    await lockMembership(domain, unit, actor, roomId, userId === actor.id ? 'member' : 'owner');
    const { trx } = unit;
    const target = await trx.selectFrom('room_members').select('role').where('room_id', '=', roomId).where('user_id', '=', userId).executeTakeFirst();
    if (!target) throw new HttpError(404, 'not_member', `${userId} is not a member of this room`, { field: 'userId' });
    if (target.role === 'owner') throw new HttpError(409, 'owner_stays', 'the owner cannot leave the room nor be removed from it', { field: 'userId' });
    await trx.deleteFrom('room_members').where('room_id', '=', roomId).where('user_id', '=', userId).execute();
    unit.emit(
      // `member_removed` is in the namespace's recheckOn: each node asks the subscribe rule again
      // for the room's subscribers, and the removed member's subscriptions end.
      { channel: roomChannel(roomId), event: 'member_removed', data: { userId, by: actor.id } },
      { channel: userChannel(userId), event: 'room_removed', data: { roomId } },
    );
  });
}

export function postMessage(domain: Domain, author: ApiUser, roomId: string, text: string): Promise<MessageView> {
  return transact(domain, async (unit) => {
    await lockMembership(domain, unit, author, roomId, 'member');
    const { id } = await unit.trx
      .insertInto('room_messages')
      .values({ room_id: roomId, author_id: author.id, text, created_at: nowIso() })
      .returning('id')
      .executeTakeFirstOrThrow();
    const message = toMessageView(await messages(unit.trx, roomId).where('msg.id', '=', id).executeTakeFirstOrThrow());
    unit.emit({ channel: roomChannel(roomId), event: 'message', data: message });
    return message;
  });
}
