import { ComingNext, Page } from '@/components/page';
import { useSession } from '@/lib/session';
import { LiveActivity } from './live-activity';

/** Every order of the shop for managers and admins (staff-orders:<tenant id>). Placeholder. */
export function StaffBoardPage() {
  const session = useSession();
  if (!session) return null;
  return (
    <Page title="Staff board" intro={`All orders of ${session.user.tenant.name}.`}>
      <ComingNext>
        <p>Every order of the shop goes here, by status, with assigning workers, prices and cancellations.</p>
      </ComingNext>
      <LiveActivity channel={`staff-orders:${session.user.tenant.id}`} />
    </Page>
  );
}
