import { api } from '@/lib/api';
import type { Role, Session } from '@/lib/session';

export interface DemoAccount {
  email: string;
  password: string;
  role: Role;
  name: string;
}

/** `POST /api/auth/login`: the user, the token and when it expires. */
export function login(email: string, password: string): Promise<Session> {
  return api.post<Session>('/api/auth/login', { email, password });
}

/** The demo accounts, when the node runs with demo data in development; null otherwise (404). */
export async function demoAccounts(signal?: AbortSignal): Promise<DemoAccount[] | null> {
  try {
    return (await api.get<{ items: DemoAccount[] }>('/api/dev/demo-accounts', signal ? { signal } : {})).items;
  } catch {
    return null;
  }
}
