import { useConnectionState, type ConnectionStatus } from '@/lib/realtime';

const TEXT: Record<ConnectionStatus, string> = {
  connecting: 'Connecting…',
  live: 'Live: changes appear as they happen.',
  offline: 'Offline.',
  'catching-up': 'Back online: catching up on what changed…',
};

/** The connection in a word or two, on every signed-in page. */
export function ConnectionBanner() {
  const { status, reason, retrying } = useConnectionState();
  let text = TEXT[status];
  if (status === 'offline') text = `Offline. ${reason ?? ''} ${retrying ? 'Changes will show again once the connection is back; trying to reconnect…' : ''}`.replace(/\s+/g, ' ').trim();
  return (
    <div className={`banner banner--${status}`} role="status" aria-live="polite" data-status={status}>
      <span className="banner__dot" aria-hidden="true" />
      <span>{text}</span>
    </div>
  );
}
