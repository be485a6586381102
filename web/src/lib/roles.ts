import type { Role } from './session';

export const ROLE_LABELS: Record<Role, string> = {
  customer: 'Customer',
  worker: 'Worker',
  manager: 'Manager',
  admin: 'Admin',
};

/** What each role does, in a shop owner's words. */
export const ROLE_DESCRIPTIONS: Record<Role, string> = {
  customer: 'Browses the shop, fills a cart and pays.',
  worker: 'Works on the orders assigned to them.',
  manager: 'Sees every order, assigns workers, sets prices.',
  admin: 'Everything a manager does, plus accounts and alerts.',
};

/** Where each role lands after signing in, and where `/` takes it. */
export const HOME_BY_ROLE: Record<Role, string> = {
  customer: '/shop',
  worker: '/orders',
  manager: '/staff',
  admin: '/staff',
};
