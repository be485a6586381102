import { useSyncExternalStore } from 'react';
import { useSwitchboard } from './provider.js';
import { storeFor } from './store.js';
import type { ConnectionState } from './types.js';

/** The connection's state, for a banner ("Reconnecting…", "Catching up…", "Sign in again"). */
export function useConnectionState(): ConnectionState {
  const store = storeFor(useSwitchboard());
  return useSyncExternalStore(store.subscribeConnection, store.getConnection, store.getConnection);
}
