import { useCallback, useState } from 'react';
import { Page } from '@/components/page';
import { useSession } from '@/lib/session';
import { AuditPanel } from './audit-panel';
import { ChannelsPanel } from './channels-panel';
import { ConnectionsPanel } from './connections-panel';
import { LiveFigures } from './live-figures';
import type { AuditEntry } from './types';

/**
 * The operator's console (admins): every node's figures live, the shop's channels and connections
 * on every node, a test publish with the channel's history, ending a user's sessions, and the audit
 * log of what was done here. Figures come from the nodes' feed (ops:node), never from /metrics.
 */
export function ConsolePage() {
  const session = useSession();
  const [refreshKey, setRefreshKey] = useState(0);
  const onEntry = useCallback((entry: AuditEntry) => {
    if (entry.action === 'publish') setRefreshKey((k) => k + 1);
  }, []);
  if (!session) return null;
  const { user } = session;
  return (
    <Page title="Console" intro={`How the node is doing, and who of ${user.tenant.name} is on it.`}>
      <LiveFigures />
      <ChannelsPanel tenantId={user.tenant.id} refreshKey={refreshKey} />
      <ConnectionsPanel selfId={user.id} />
      <AuditPanel tenantId={user.tenant.id} onEntry={onEntry} />
    </Page>
  );
}
