import { nowIso, type Db, type Switchboard } from 'switchboard';
import { roomChannel, roomView, type RoomView } from './rooms.js';

export interface Notice {
  text: string;
  at: string;
}

/** The subscribe reply's snapshot: the room as stored, who is in it now, and recent notices. */
export interface RoomSnapshot extends RoomView {
  /** Ids of the members connected to the room now (presence), on any node. */
  online: string[];
  /** The system notices still in the channel's history, oldest first. */
  notices: Notice[];
}

/**
 * The rooms module's service: what `install` returns, so the app (`app.services.get('rooms')`) and
 * later modules can use it. It reaches what is live in a room through the in-process API.
 */
export class Rooms {
  readonly #sb: Switchboard;
  readonly #db: Db;

  constructor(sb: Switchboard, db: Db) {
    this.#sb = sb;
    this.#db = db;
  }

  /**
   * A system notice to everyone in the room ("the office closes at 18:00"). Nothing is written, so
   * there is nothing to commit and no outbox: it is published straight to the channel, and is
   * kept only in the channel's history (by default 100 publications, 5 minutes).
   */
  async announce(roomId: string, text: string): Promise<Notice> {
    const notice: Notice = { text, at: nowIso() };
    await this.#sb.publish(roomChannel(roomId), 'system', notice);
    return notice;
  }

  async snapshot(roomId: string): Promise<RoomSnapshot | null> {
    const channel = roomChannel(roomId);
    const [room, present, recent] = await Promise.all([roomView(this.#db, roomId), this.#sb.presence(channel), this.#sb.history(channel, { limit: 100 })]);
    if (!room) return null;
    const notices = recent.publications.filter((p) => p.event === 'system').map((p) => p.data as Notice);
    return { ...room, online: present.map((p) => p.user), notices };
  }
}
