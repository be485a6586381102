import type { Domain } from '../domain/context.js';

export interface DemoPeople {
  tenantId: string;
  customerId: string;
  workerId: string;
  managerId: string;
}

/** Filled in with the orders module. */
export async function seedDemoOrders(_domain: Domain, _people: DemoPeople): Promise<void> {}
