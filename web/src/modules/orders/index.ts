/** Orders: the customer's orders and the worker's board (/orders), the staff board (/staff) and
 * each order's page (/orders/:id), live from the order channels (GET /api/orders, order:<id>). */
export { OrdersBoardPage } from './orders-board-page';
export { OrderPage } from './order-page';
export { StaffBoardPage } from './staff-board-page';
