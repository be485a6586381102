import { useSyncExternalStore } from 'react';

export type Role = 'customer' | 'worker' | 'manager' | 'admin';

/** `GET /api/me`'s user, as `POST /api/auth/login` answers it too. */
export interface User {
  id: string;
  email: string;
  name: string;
  role: Role;
  tenant: { id: string; slug: string; name: string };
  createdAt: string;
}

export interface Session {
  token: string;
  /** UTC ISO time the token stops working (12 h after sign-in). */
  expiresAt: string;
  user: User;
}

/**
 * The signed-in session, kept in localStorage: the product's point is that a cart or an order board
 * is the same in every tab, so a tab opened from another must be signed in too (sessionStorage is
 * per tab). Signing out in one tab signs out every tab (the `storage` event). The token never goes
 * into a cookie: the REST API takes it as a bearer header and the socket in its first frame, so no
 * request carries it without the app's code putting it there (no CSRF surface), and the strict CSP
 * (no inline or foreign scripts) is what guards it from being read.
 */
const KEY = 'switchboard.session';
const ROLES: readonly string[] = ['customer', 'worker', 'manager', 'admin'];

let current: Session | null = null;
/** Why the last session ended, shown on the sign-in page ("your session expired"). */
let notice: string | null = null;
let expiryTimer: ReturnType<typeof setTimeout> | undefined;
const listeners = new Set<() => void>();

function isSession(value: unknown): value is Session {
  const s = value as Partial<Session> | null;
  return (
    typeof s === 'object' &&
    s !== null &&
    typeof s.token === 'string' &&
    typeof s.expiresAt === 'string' &&
    typeof s.user?.id === 'string' &&
    typeof s.user.name === 'string' &&
    ROLES.includes(s.user.role) &&
    typeof s.user.tenant?.name === 'string'
  );
}

/** Storage can refuse (disabled by the user, private modes, full): the session then lives in this
 * tab's memory only, which is still a working sign-in. */
function write(value: string | null): void {
  try {
    if (value === null) localStorage.removeItem(KEY);
    else localStorage.setItem(KEY, value);
  } catch {
    // Kept in memory only.
  }
}

function stored(): Session | null {
  try {
    const value: unknown = JSON.parse(localStorage.getItem(KEY) ?? 'null');
    return isSession(value) && Date.parse(value.expiresAt) > Date.now() ? value : null;
  } catch {
    return null;
  }
}

function emit(): void {
  for (const listener of listeners) listener();
}

/** Ends the session when its token does, so nothing is sent with a dead token. */
function armExpiry(): void {
  clearTimeout(expiryTimer);
  if (!current) return;
  // setTimeout takes at most 2^31-1 ms (24.8 days); tokens last 12 h.
  const ms = Math.min(Date.parse(current.expiresAt) - Date.now(), 2 ** 31 - 1);
  expiryTimer = setTimeout(() => signOut('Your session expired. Sign in again to carry on.'), Math.max(0, ms));
}

function load(): void {
  current = stored();
  if (!current) write(null);
  armExpiry();
}

load();
// Another tab signed in or out.
window.addEventListener('storage', (event) => {
  if (event.key !== KEY && event.key !== null) return;
  load();
  emit();
});

export function getSession(): Session | null {
  return current;
}

export function signIn(session: Session): void {
  current = session;
  notice = null;
  write(JSON.stringify(session));
  armExpiry();
  emit();
}

/** Forgets the token here and in every tab; `reason` is shown on the sign-in page. */
export function signOut(reason?: string): void {
  if (current === null && reason === undefined) return;
  current = null;
  notice = reason ?? null;
  write(null);
  armExpiry();
  emit();
}

/** Why the last session ended (until the next sign-in), e.g. "Your session expired". */
export function sessionNotice(): string | null {
  return notice;
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** The current session; re-renders on sign-in and sign-out, in this tab or another. */
export function useSession(): Session | null {
  return useSyncExternalStore(subscribe, getSession);
}
