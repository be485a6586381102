/** Orders: the customer's and worker's board, and the staff board (GET /api/orders, order channels). */
export { OrdersBoardPage } from './orders-board-page';
export { StaffBoardPage } from './staff-board-page';
