import type { SwitchboardModule } from 'switchboard';
import { installRoomChannels } from './channels.js';
import { roomMigrations } from './migrations.js';
import { roomRoutes } from './routes.js';
import { Rooms } from './service.js';
import './schema.js';

export { Rooms, type Notice, type RoomSnapshot } from './service.js';
export { roomChannel, type MessageView, type RoomView } from './rooms.js';

/** Team rooms: members-only rooms in a tenant, messages posted over REST and live on `room:<id>`. */
export const roomsModule: SwitchboardModule = {
  name: 'rooms',
  // Its tables refer to tenants and users, and its routes need to know who holds a token.
  requires: ['accounts'],
  migrations: roomMigrations,
  install({ sb, api, domain }): Rooms {
    const rooms = new Rooms(sb, domain.db);
    roomRoutes(api, domain, rooms);
    installRoomChannels(sb, domain, rooms);
    return rooms;
  },
  // Reset runs in reverse module order, so these rows go before the users they refer to.
  async reset({ trx }) {
    await trx.deleteFrom('room_messages').execute();
    await trx.deleteFrom('room_members').execute();
    await trx.deleteFrom('rooms').execute();
  },
};
