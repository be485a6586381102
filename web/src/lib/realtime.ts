import { createElement, useEffect, useRef, useState, useSyncExternalStore, type ReactNode } from 'react';
import { CloseCodes, SwitchboardClient } from '@switchboard/client';
import { SwitchboardProvider as Provider } from '@switchboard/react';

/**
 * The only way pages reach the socket: @switchboard/react's hooks, and a provider that makes this
 * tab's one client (same host as the page, short backoff) and ends the session when the socket is
 * refused for good.
 */
export { useChannel, usePresence, useConnectionState, useSwitchboard } from '@switchboard/react';
export type { ChannelEvent, ChannelResult, ConnectionStatus, ConnectionState } from '@switchboard/react';

/** Close codes that end the session: the token is refused, or its account changed. */
const SESSION_ENDED: Partial<Record<number, string>> = {
  [CloseCodes.unauthorized]: 'Your session is no longer valid. Sign in again to carry on.',
  [CloseCodes.accountRevoked]: 'An admin of your shop signed you out or changed your account. Sign in again to carry on.',
  [CloseCodes.tokenExpired]: 'Your session expired. Sign in again to carry on.',
};

/** The node that served the page: the socket is on the same host (CSP connect-src allows it). */
function socketUrl(): string {
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/ws`;
}

export interface SwitchboardProviderProps {
  token: string;
  /** The socket was refused for good (token expired or revoked): the session is over, in words. */
  onSessionEnded?: (reason: string) => void;
  children?: ReactNode;
}

/** One connection per signed-in tab, for every page under it. Remount (key) it for a new token. */
export function SwitchboardProvider({ token, onSessionEnded, children }: SwitchboardProviderProps) {
  // Reconnect attempts back off up to 5 s (not the SDK's 15 s): a person is watching the banner.
  const [client] = useState(() => new SwitchboardClient({ url: socketUrl, token, backoff: { minMs: 250, maxMs: 5000 } }));
  const ended = useRef(onSessionEnded);
  useEffect(() => {
    ended.current = onSessionEnded;
  });
  useEffect(() => {
    const off = client.on('state', (change) => {
      if (change.state !== 'disconnected' || change.willReconnect) return;
      const reason = SESSION_ENDED[change.code];
      if (reason) ended.current?.(reason);
    });
    // Back online: try now rather than at the end of the current backoff delay.
    const online = (): void => {
      if (client.state === 'connected') return;
      client.close();
      client.connect().catch(() => {});
    };
    window.addEventListener('online', online);
    return () => {
      off();
      window.removeEventListener('online', online);
      client.close();
    };
  }, [client]);
  return createElement(Provider, { client }, children);
}

function onOnlineChange(notify: () => void): () => void {
  window.addEventListener('online', notify);
  window.addEventListener('offline', notify);
  return () => {
    window.removeEventListener('online', notify);
    window.removeEventListener('offline', notify);
  };
}

/** Whether the browser says the device is online: an open socket can take a while to notice that
 * the network went away, and the banner should say so at once. */
export function useDeviceOnline(): boolean {
  return useSyncExternalStore(onOnlineChange, () => navigator.onLine);
}
