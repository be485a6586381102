import type { Generated } from 'kysely';

/** The accounts module's tables: tenants, users and who belongs to which tenant. */
declare module '../../core/db/schema.js' {
  interface DatabaseSchema {
    tenants: TenantTable;
    users: UserTable;
    tenant_members: TenantMemberTable;
  }
}

export interface TenantTable {
  id: string;
  slug: string;
  name: string;
  next_order_number: Generated<number>;
  created_at: string;
}

export type Role = 'customer' | 'worker' | 'manager' | 'admin';

export const ROLES: readonly Role[] = ['customer', 'worker', 'manager', 'admin'];

export interface UserTable {
  id: string;
  email: string;
  name: string;
  password_hash: string;
  role: Role;
  /** The tenant the user acts in (a member of it); the token carries it. */
  tenant_id: string;
  created_at: string;
  /** Set while an admin has disabled the account: it cannot sign in, its tokens are refused. */
  disabled_at: string | null;
  /** Set when the account was deleted (its personal fields are blanked; its orders stay). */
  deleted_at: string | null;
}

export interface TenantMemberTable {
  tenant_id: string;
  user_id: string;
  role: Role;
  created_at: string;
}
