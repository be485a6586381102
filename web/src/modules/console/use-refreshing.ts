import { useCallback, useEffect, useRef, useState } from 'react';
import { errorMessage } from '@/lib/api';

export interface Refreshing<T> {
  data: T | null;
  error: string | null;
  /** When the data shown was fetched (this browser's clock). */
  updatedAt: number | null;
  loading: boolean;
  refresh: () => void;
}

/**
 * Data fetched now and again every `everyMs` while the page is open and visible (the tables of
 * the shop's channels and connections: a snapshot, not a feed), and on `refresh()`.
 */
export function useRefreshing<T>(load: () => Promise<T>, everyMs: number): Refreshing<T> {
  const [state, setState] = useState<{ data: T | null; error: string | null; updatedAt: number | null }>({ data: null, error: null, updatedAt: null });
  const [loading, setLoading] = useState(true);
  const latest = useRef(load);
  useEffect(() => {
    latest.current = load;
  });
  // Answers to an older request, or arriving after unmount, are dropped.
  const generation = useRef(0);
  const invalidate = useCallback(() => {
    generation.current++;
  }, []);
  const refresh = useCallback(() => {
    const mine = ++generation.current;
    setLoading(true);
    latest
      .current()
      .then(
        (data) => mine === generation.current && setState({ data, error: null, updatedAt: Date.now() }),
        (err: unknown) => mine === generation.current && setState((s) => ({ ...s, error: errorMessage(err) })),
      )
      .finally(() => mine === generation.current && setLoading(false));
  }, []);
  useEffect(() => {
    refresh();
    const timer = setInterval(() => {
      if (document.visibilityState === 'visible') refresh();
    }, everyMs);
    return () => {
      clearInterval(timer);
      invalidate();
    };
  }, [refresh, invalidate, everyMs]);
  return { ...state, loading, refresh };
}
