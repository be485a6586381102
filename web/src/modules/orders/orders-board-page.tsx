import { useSession } from '@/lib/session';
import { CustomerOrdersPage } from './customer-orders-page';
import { WorkerBoardPage } from './worker-board-page';

/** /orders: a worker's board of assigned orders, or a customer's own orders. */
export function OrdersBoardPage() {
  const session = useSession();
  if (!session) return null;
  const { user } = session;
  return user.role === 'worker' ? <WorkerBoardPage user={user} /> : <CustomerOrdersPage user={user} />;
}
