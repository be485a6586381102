import type { SwitchboardModule } from '../../core/module.js';
import { catalogRoutes } from './catalog.js';
import { resetCatalog, seedCatalog } from './seed.js';
import './schema.js';

/** The catalogue: each tenant's products, their variants and stock. */
export const catalogModule: SwitchboardModule = {
  name: 'catalog',
  requires: ['accounts'],
  install({ api, domain }) {
    catalogRoutes(api, domain.db);
  },
  seed: ({ domain }) => seedCatalog(domain),
  reset: resetCatalog,
};
