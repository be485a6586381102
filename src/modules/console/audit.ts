import type { Logger } from 'pino';
import { decodeCursor, encodeCursor, type ApiUser } from '../../core/http/api.js';
import type { Db } from '../../core/domain/context.js';
import { newId, nowIso } from '../../core/db/ids.js';
import type { Switchboard } from '../../core/switchboard.js';
import type { AuditAction } from './schema.js';

/** `audit:<tenantId>`: the tenant's console actions as they are taken (admins of the tenant). */
export const auditChannel = (tenant: string) => `audit:${tenant}`;
export const AUDIT_EVENT = 'audit_entry';

/** One line of the audit log as the API and the live channel show it. */
export interface AuditEntry {
  id: string;
  at: string;
  actor: { id: string; name: string; email: string };
  action: AuditAction;
  target: string;
  details: Record<string, unknown>;
}

/**
 * The console's audit log. An action is written down before it is taken (`begin`), so nothing is
 * done from the console that the log does not hold even if the node dies halfway; its outcome is
 * added after (`finish`: the position published at, the connections closed, or the error), and
 * the finished line goes out live on `audit:<tenant>`.
 */
export class AuditLog {
  constructor(
    readonly sb: Switchboard,
    readonly db: Db,
    readonly log: Logger,
  ) {}

  async begin(actor: ApiUser, action: AuditAction, target: string, details: Record<string, unknown>): Promise<AuditEntry> {
    const row = { id: newId('aud'), tenant_id: actor.tenant, actor_id: actor.id, action, target, details: JSON.stringify(details), created_at: nowIso() };
    await this.db.insertInto('console_audit_log').values(row).execute();
    const who = await this.db.selectFrom('users').select(['name', 'email']).where('id', '=', actor.id).executeTakeFirst();
    return { id: row.id, at: row.created_at, actor: { id: actor.id, name: who?.name ?? '', email: who?.email ?? '' }, action, target, details };
  }

  /** Records the outcome and publishes the line; never rejects (the line is in the table already). */
  async finish(entry: AuditEntry, tenant: string, outcome: Record<string, unknown>): Promise<AuditEntry> {
    const done = { ...entry, details: { ...entry.details, ...outcome } };
    try {
      await this.db.updateTable('console_audit_log').set({ details: JSON.stringify(done.details) }).where('id', '=', entry.id).execute();
    } catch (err) {
      this.log.error({ err, audit: done }, 'console audit: the outcome could not be recorded (the action is logged without it)');
    }
    try {
      await this.sb.publish(auditChannel(tenant), AUDIT_EVENT, done);
    } catch (err) {
      this.log.warn({ err, audit: entry.id }, 'console audit: the live line could not be published (GET /api/console/audit has it)');
    }
    return done;
  }

  /** The tenant's log, newest first. */
  async list(tenant: string, limit: number, cursor: string | undefined): Promise<{ items: AuditEntry[]; nextCursor: string | null }> {
    let q = this.db
      .selectFrom('console_audit_log as a')
      .leftJoin('users as u', 'u.id', 'a.actor_id')
      .select(['a.id', 'a.created_at', 'a.actor_id', 'a.action', 'a.target', 'a.details', 'u.name', 'u.email'])
      .where('a.tenant_id', '=', tenant)
      .orderBy('a.created_at', 'desc')
      .orderBy('a.id', 'desc')
      .limit(limit + 1);
    if (cursor) {
      const [at, id] = decodeCursor(cursor, 2) as [string, string];
      q = q.where((eb) => eb.or([eb('a.created_at', '<', at), eb.and([eb('a.created_at', '=', at), eb('a.id', '<', id)])]));
    }
    const rows = await q.execute();
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return {
      items: page.map((r) => ({
        id: r.id,
        at: r.created_at,
        actor: { id: r.actor_id, name: r.name ?? '', email: r.email ?? '' },
        action: r.action,
        target: r.target,
        details: JSON.parse(r.details) as Record<string, unknown>,
      })),
      nextCursor: rows.length > limit && last ? encodeCursor([last.created_at, last.id]) : null,
    };
  }
}
