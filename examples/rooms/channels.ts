import { z } from 'zod';
import type { AccessRule, Domain, Switchboard } from 'switchboard';
import { isMember, roomChannel } from './rooms.js';
import type { Rooms } from './service.js';

/** The one thing a client may publish in a room: that it is typing, in its own name. */
const typing = z.object({ user: z.string() }).strict();

/**
 * `room:<roomId>`: the room's members, and only while they are (the database decides, at every
 * subscribe, history or presence read and client publish, and again after `member_removed`).
 * Server events: `message`, `member_added`, `member_removed` (through the outbox), `system`
 * (notices, published directly). Clients publish `typing` `{user: <their id>}`.
 */
export function installRoomChannels(sb: Switchboard, domain: Domain, rooms: Rooms): void {
  const member: AccessRule = (ctx) => ctx.user !== null && isMember(domain.db, ctx.key, ctx.user);
  // Messages come over REST, stored and attributed; a client may not publish one (nor a forged
  // `member_removed`): only `typing`, as itself, and only while a member.
  const typingAsSelf: AccessRule = async (ctx) =>
    ctx.publication?.event === 'typing' && typing.safeParse(ctx.publication.data).data?.user === ctx.user?.id && (await member(ctx));
  sb.defineNamespace('room', {
    subscribe: member,
    history: member,
    presence: member,
    publish: typingAsSelf,
    trackPresence: true,
    recheckOn: ['member_removed'],
    snapshot: (ctx) => rooms.snapshot(ctx.key),
  });
  // A connection to /ws/rooms/<id>/ is subscribed to the room right after the welcome; anyone
  // but a member is refused (close 4501).
  sb.addRoute('/ws/rooms/:id/', async ({ id }, user) => (id && user && (await isMember(domain.db, id, user)) ? [roomChannel(id)] : null));
}
