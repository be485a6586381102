import { SwitchboardClient, type SwitchboardClientOptions } from '@switchboard/client';
import { createContext, createElement, useContext, useEffect, useRef, useState, type ReactElement, type ReactNode } from 'react';

const SwitchboardContext = createContext<SwitchboardClient | null>(null);
SwitchboardContext.displayName = 'Switchboard';

/**
 * Either a client made by the app (`client`), or the options to make one (`url`, `getToken`...).
 * Options are read once, when the provider mounts (give it a `key` to start over with new ones),
 * except `getToken`: the latest one passed is the one called.
 */
export type SwitchboardProviderProps =
  | { client: SwitchboardClient; children?: ReactNode }
  | (SwitchboardClientOptions & { client?: undefined; children?: ReactNode });

/**
 * Makes a Switchboard client available to the hooks below it and connects it when it mounts.
 * A client it made from options is closed when it unmounts; a client passed in is the app's to
 * close (the provider only calls `connect()`, which does nothing on a client already connecting).
 */
export function SwitchboardProvider(props: SwitchboardProviderProps): ReactElement {
  const getTokenRef = useRef<SwitchboardClientOptions['getToken']>(undefined);
  if (props.client === undefined) getTokenRef.current = props.getToken;
  const [owned] = useState<SwitchboardClient | null>(() => {
    if (props.client !== undefined) return null;
    const { client: _client, children: _children, ...options } = props;
    return makeClient(options, getTokenRef);
  });
  const client = props.client ?? owned;
  if (!client) throw new Error('SwitchboardProvider: it was mounted with a client and now has none; remount it (with a key) to switch');
  const closeTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);

  useEffect(() => {
    clearTimeout(closeTimer.current);
    // A failure to connect shows in useConnectionState; the client keeps retrying unless told not to.
    client.connect().catch(() => undefined);
    if (client !== owned) return undefined;
    // Closed on the next task, not at once: StrictMode runs this cleanup and the effect again
    // straight away, and the socket should survive that.
    return () => {
      closeTimer.current = setTimeout(() => client.close(), 0);
    };
  }, [client, owned]);

  return createElement(SwitchboardContext.Provider, { value: client }, props.children);
}

function makeClient(options: SwitchboardClientOptions, getTokenRef: { current: SwitchboardClientOptions['getToken'] }): SwitchboardClient {
  const { getToken } = options;
  return new SwitchboardClient({
    ...options,
    // The latest getToken, so one that closes over the app's current session keeps working.
    getToken:
      getToken &&
      (() => {
        const latest = getTokenRef.current ?? getToken;
        return latest();
      }),
  });
}

/** The provider's client, for what the hooks do not cover (publish, history). Throws outside a provider. */
export function useSwitchboard(): SwitchboardClient {
  const client = useContext(SwitchboardContext);
  if (!client) throw new Error('useSwitchboard and the Switchboard hooks must be used inside <SwitchboardProvider>');
  return client;
}
