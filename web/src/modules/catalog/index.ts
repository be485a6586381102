/** Catalogue: the shop's products (GET /api/products). */
export { ShopPage } from './shop-page';
