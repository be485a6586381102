import { z } from 'zod';
import { HttpError, type Api, type Domain } from 'switchboard';
import { addMember, createRoom, messageSchema, postMessage, readableRoom, removeMember, roomInTenant, roomSchema } from './rooms.js';
import type { Rooms } from './service.js';

const roomParams = z.object({ id: z.string().min(1).max(64) });
const memberParams = roomParams.extend({ userId: z.string().min(1).max(64) });
const text = z.string().trim().min(1).max(4000);

export function roomRoutes(api: Api, domain: Domain, rooms: Rooms): void {
  api.route({
    method: 'POST',
    url: '/api/rooms',
    tag: 'rooms',
    summary: 'Create a room in your tenant, with you as its owner. Pushes room_added on user:<you>.',
    auth: 'user',
    idempotent: true,
    status: 201,
    body: z.object({ name: z.string().trim().min(1).max(80) }),
    response: roomSchema,
    handler: ({ user, body }) => createRoom(domain, user, body.name),
  });
  api.route({
    method: 'GET',
    url: '/api/rooms/:id',
    tag: 'rooms',
    summary: 'A room you are a member of: its members and last messages (404 for anyone else).',
    auth: 'user',
    params: roomParams,
    response: roomSchema,
    errors: { 404: 'not_found' },
    handler: ({ user, params }) => readableRoom(domain.db, user, params.id),
  });
  api.route({
    method: 'POST',
    url: '/api/rooms/:id/members',
    tag: 'rooms',
    summary: 'The owner adds a user of the tenant. Pushes member_added on room:<id> and room_added on user:<them>.',
    auth: 'user',
    idempotent: true,
    status: 201,
    params: roomParams,
    body: z.object({ userId: z.string().min(1).max(64) }),
    response: roomSchema,
    errors: { 403: 'forbidden: only the owner adds members', 404: 'not_found', 409: 'already_member', 422: 'unknown_user' },
    handler: ({ user, params, body }) => addMember(domain, user, params.id, body.userId),
  });
  api.route({
    method: 'DELETE',
    url: '/api/rooms/:id/members/:userId',
    tag: 'rooms',
    summary: 'The owner removes a member, or a member leaves. Pushes member_removed on room:<id>; the member’s subscriptions to it end.',
    auth: 'user',
    idempotent: true,
    status: 204,
    params: memberParams,
    errors: { 403: 'forbidden: only the owner removes others', 404: 'not_found, not_member', 409: 'owner_stays' },
    handler: ({ user, params }) => removeMember(domain, user, params.id, params.userId),
  });
  api.route({
    method: 'POST',
    url: '/api/rooms/:id/messages',
    tag: 'rooms',
    summary: 'Post a message as yourself (members only). Pushes message on room:<id>.',
    auth: 'user',
    idempotent: true,
    status: 201,
    params: roomParams,
    body: z.object({ text }),
    response: messageSchema,
    errors: { 404: 'not_found' },
    handler: ({ user, params, body }) => postMessage(domain, user, params.id, body.text),
  });
  api.route({
    method: 'POST',
    url: '/api/rooms/:id/announce',
    tag: 'rooms',
    summary: 'A manager or admin sends a system notice to a room of their tenant: pushed as system on room:<id>, not stored.',
    auth: ['manager', 'admin'],
    params: roomParams,
    body: z.object({ text }),
    response: z.object({ text: z.string(), at: z.string() }),
    errors: { 404: 'not_found' },
    handler: async ({ user, params, body }) => {
      if (!(await roomInTenant(domain.db, params.id, user.tenant))) throw new HttpError(404, 'not_found', `no room ${params.id}`);
      return rooms.announce(params.id, body.text);
    },
  });
}
