import type { Generated } from 'kysely';

/** The rooms module's tables, added to the one typed schema every query of every module sees. */
declare module 'switchboard' {
  interface DatabaseSchema {
    rooms: RoomTable;
    room_members: RoomMemberTable;
    room_messages: RoomMessageTable;
  }
}

export interface RoomTable {
  id: string;
  tenant_id: string;
  name: string;
  created_by: string;
  created_at: string;
}

export type MemberRole = 'owner' | 'member';

export interface RoomMemberTable {
  room_id: string;
  user_id: string;
  /** The owner adds and removes members; every member reads and writes. */
  role: MemberRole;
  added_at: string;
}

export interface RoomMessageTable {
  /** Rises in the order messages were posted to a room (see postMessage). */
  id: Generated<number>;
  room_id: string;
  author_id: string;
  text: string;
  created_at: string;
}
