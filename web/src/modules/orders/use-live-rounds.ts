import { useState } from 'react';

/**
 * Counts the times a channel became live: 0 before its first subscription, then one more after
 * each reconnect. Pages re-read over REST when it rises, so what happened while no socket was
 * open (or before the subscription existed) is never missing, whatever the channel could replay.
 */
export function useLiveRounds(status: string): number {
  const [seen, setSeen] = useState({ status, rounds: status === 'live' ? 1 : 0 });
  let { rounds } = seen;
  if (seen.status !== status) {
    if (status === 'live') rounds += 1;
    setSeen({ status, rounds });
  }
  return rounds;
}
