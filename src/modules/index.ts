import type { SwitchboardModule } from '../core/module.js';
import { accountsModule } from './accounts/index.js';
import { cartModule } from './cart/index.js';
import { catalogModule } from './catalog/index.js';
import { consoleModule, createConsoleModule } from './console/index.js';
import { ordersModule } from './orders/index.js';
import { paymentsModule } from './payments/index.js';

export { accountsModule, cartModule, catalogModule, ordersModule, paymentsModule, consoleModule, createConsoleModule };

/**
 * The modules a node runs unless told otherwise, in install order (each after those it requires).
 * An app extends the list with its own (`[...builtinModules, roomsModule]`) or trims it.
 */
export const builtinModules: readonly SwitchboardModule[] = [accountsModule, catalogModule, cartModule, ordersModule, paymentsModule, consoleModule];
