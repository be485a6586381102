import type { Logger } from 'pino';
import { CloseCodes, type UserInfo } from '@switchboard/client/protocol';
import type { Session } from './session.js';

/**
 * Whether a verified token's user may still act: the accounts module answers from the database
 * (the account exists, is not disabled, and has the token's role and tenant). Tokens that are not
 * account tokens answer true unless the check knows better.
 */
export type PrincipalCheck = (user: UserInfo) => Promise<boolean>;

const REVOKED = 'the account was deleted, disabled or changed; sign in again';

/** What the principals need from the gateway. */
export interface PrincipalsOwner {
  readonly sessions: ReadonlySet<Session>;
  readonly log: Logger;
  close(session: Session, code: number, reason: string): void;
}

/**
 * Who may still act on the node's connections: the account check (installed by the accounts
 * module) that connect and refresh ask, and the revocations that end an account's connections
 * (4504) when it is deleted, disabled or changed.
 */
export class Principals {
  readonly #owner: PrincipalsOwner;
  #check: PrincipalCheck | null = null;
  /** Sessions being authenticated, and the user each will be. The check may read the account just
   * before a change commits, and the revocation that change sends may arrive before the session
   * has its user (while the connection is counted): it must end that session too. */
  readonly #authenticating = new Map<Session, string>();

  constructor(owner: PrincipalsOwner) {
    this.#owner = owner;
  }

  install(check: PrincipalCheck): void {
    this.#check = check;
  }

  get installed(): boolean {
    return this.#check !== null;
  }

  /** Whether the account check lets `user` act (true without a check installed). */
  async live(user: UserInfo): Promise<boolean> {
    return this.#check ? this.#check(user) : true;
  }

  /** Runs `authenticate` (the check, then the count) for `session`, which is to be `user`'s: a
   * revocation of `user` meanwhile closes the session, which `authenticate` then finds closed. */
  async whileAuthenticating<T>(session: Session, user: string, authenticate: () => Promise<T>): Promise<T> {
    this.#authenticating.set(session, user);
    try {
      return await authenticate();
    } finally {
      this.#authenticating.delete(session);
    }
  }

  /** Ends every connection of `user` on this node, those still being authenticated included.
   * Answers how many were closed. */
  revoke(user: string, reason = REVOKED): number {
    let closed = 0;
    for (const session of this.#owner.sessions) {
      if ((session.user?.id ?? this.#authenticating.get(session)) !== user || session.closed) continue;
      this.#owner.close(session, CloseCodes.accountRevoked, reason);
      closed++;
    }
    return closed;
  }

  /** Asks the account check again for every connection (after the layer may have dropped a
   * revocation), a batch at a time, closing those it now refuses. */
  async recheck(): Promise<void> {
    const check = this.#check;
    if (!check) return;
    const { log } = this.#owner;
    const sessions = [...this.#owner.sessions].filter((s) => s.user !== null && !s.closed);
    for (let i = 0; i < sessions.length; i += 50) {
      await Promise.all(
        sessions.slice(i, i + 50).map(async (session) => {
          try {
            if (session.user && !(await check(session.user))) this.#owner.close(session, CloseCodes.accountRevoked, REVOKED);
          } catch (err) {
            log.warn({ err, session: session.id }, 'account recheck failed; the connection stays');
          }
        }),
      );
    }
  }
}
