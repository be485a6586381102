import { ComingNext, Page } from '@/components/page';
import { useSession } from '@/lib/session';
import { LiveActivity } from './live-activity';

/** A worker's assigned orders (worker-orders:<id>); a customer's own (my-orders:<id>). Placeholder. */
export function OrdersBoardPage() {
  const session = useSession();
  if (!session) return null;
  const { user } = session;
  const worker = user.role === 'worker';
  return (
    <Page title={worker ? 'Orders board' : 'Your orders'}>
      <ComingNext>
        <p>{worker ? 'The orders assigned to you go here, with buttons to start them, report progress and complete them.' : 'Your orders go here, with their progress as the shop works on them.'}</p>
      </ComingNext>
      <LiveActivity channel={`${worker ? 'worker-orders' : 'my-orders'}:${user.id}`} />
    </Page>
  );
}
