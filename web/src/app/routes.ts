import { lazy, type ComponentType } from 'react';
import { matchPath } from '@/lib/router';
import type { Role } from '@/lib/session';

/** What a page gets: the `:params` of its path. */
export interface PageProps {
  params: Record<string, string>;
}

export interface AppRoute {
  /** `/orders` or `/orders/:id`. */
  path: string;
  /** Who may open it; anyone else signed in sees "not for your role". */
  roles: readonly Role[];
  /** Its link in the header, by role (no entry: no link for that role). */
  nav?: Partial<Record<Role, string>>;
  page: ComponentType<PageProps>;
}

const EVERYONE: readonly Role[] = ['customer', 'worker', 'manager', 'admin'];

/**
 * Every page of the app. Each module's pages load on first visit (one chunk per module), so the
 * sign-in page and the shop do not carry the staff pages' code. Add a page: a component in its
 * module, exported from the module's index.ts, and a row here.
 */
export const ROUTES: readonly AppRoute[] = [
  {
    path: '/shop',
    roles: EVERYONE,
    nav: { customer: 'Shop' },
    page: lazy(() => import('@/modules/catalog').then((m) => ({ default: m.ShopPage }))),
  },
  {
    path: '/cart',
    roles: EVERYONE,
    nav: { customer: 'Cart' },
    page: lazy(() => import('@/modules/cart').then((m) => ({ default: m.CartPage }))),
  },
  {
    path: '/orders',
    roles: ['customer', 'worker'],
    nav: { customer: 'Your orders', worker: 'Orders board' },
    page: lazy(() => import('@/modules/orders').then((m) => ({ default: m.OrdersBoardPage }))),
  },
  {
    // Every role that may read the order: the API answers 404 to anyone else, and the page says so.
    path: '/orders/:id',
    roles: EVERYONE,
    page: lazy(() => import('@/modules/orders').then((m) => ({ default: m.OrderPage }))),
  },
  {
    path: '/staff',
    roles: ['manager', 'admin'],
    nav: { manager: 'Staff board', admin: 'Staff board' },
    page: lazy(() => import('@/modules/orders').then((m) => ({ default: m.StaffBoardPage }))),
  },
  {
    path: '/console',
    roles: ['admin'],
    nav: { admin: 'Console' },
    page: lazy(() => import('@/modules/console').then((m) => ({ default: m.ConsolePage }))),
  },
];

export function findRoute(pathname: string): { route: AppRoute; params: Record<string, string> } | null {
  for (const route of ROUTES) {
    const params = matchPath(route.path, pathname);
    if (params) return { route, params };
  }
  return null;
}

/** Where to go after signing in: the page asked for, if it is one of ours and the role may see it. */
export function destinationAfterSignIn(next: string | null, role: Role, home: string): string {
  if (!next || !next.startsWith('/') || next.startsWith('//')) return home;
  const found = findRoute(new URL(next, location.origin).pathname);
  return found && found.route.roles.includes(role) ? next : home;
}
