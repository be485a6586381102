/** The console module's table: what admins did from the console, per tenant. */
declare module '../../core/db/schema.js' {
  interface DatabaseSchema {
    console_audit_log: ConsoleAuditTable;
  }
}

/** What an admin can do from the console that changes something or reaches users. */
export type AuditAction = 'publish' | 'end_sessions';

export const AUDIT_ACTIONS: readonly AuditAction[] = ['publish', 'end_sessions'];

export interface ConsoleAuditTable {
  id: string;
  /** The tenant the action was taken in (the admin's): each tenant's admins read only theirs. */
  tenant_id: string;
  /** The admin who took it. */
  actor_id: string;
  action: AuditAction;
  /** The channel published to, or the user whose sessions were ended. */
  target: string;
  /** JSON: what else the action carried (the message published, the connections closed here). */
  details: string;
  created_at: string;
}
