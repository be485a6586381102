/** Cart and checkout (GET /api/cart, cart:<user id>, POST /api/payments/create-from-cart). */
export { CartPage } from './cart-page';
