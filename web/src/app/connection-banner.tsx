import { useConnectionState, useDeviceOnline, type ConnectionStatus } from '@/lib/realtime';

const TEXT: Record<ConnectionStatus, string> = {
  connecting: 'Connecting…',
  live: 'Live: changes appear as they happen.',
  offline: 'Offline. Changes will show again once the connection is back; trying to reconnect…',
  catching_up: 'Back online: catching up on what changed…',
};

/** The connection in a word or two, on every signed-in page. */
export function ConnectionBanner() {
  const connection = useConnectionState();
  const online = useDeviceOnline();
  const { willReconnect, error } = connection;
  const status: ConnectionStatus = online ? connection.status : 'offline';
  let text = TEXT[status];
  if (!online) text = 'Offline: this device is offline. Changes will show again once it is back.';
  else if (status === 'offline' && !willReconnect) text = `Offline. ${error?.message ?? ''} Reload the page to try again.`.replace(/\s+/g, ' ');
  return (
    <div className={`banner banner--${status.replace('_', '-')}`} role="status" aria-live="polite" data-status={status}>
      <span className="banner__dot" aria-hidden="true" />
      <span>{text}</span>
    </div>
  );
}
