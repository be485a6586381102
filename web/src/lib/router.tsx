import { useEffect, useMemo, useSyncExternalStore, type AnchorHTMLAttributes, type MouseEvent } from 'react';

/**
 * A history router in one file: the address bar is the state, `navigate` changes it without a
 * reload, and `useLocation` re-renders on every change (navigate, back, forward). The route table
 * and its matching live in src/app/routes.ts; a library would bring nested layouts, loaders and
 * ~15 KB the app does not need (docs/architecture.md, "Web app").
 */
const listeners = new Set<() => void>();
const notify = (): void => listeners.forEach((listener) => listener());
window.addEventListener('popstate', notify);

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
const currentPath = (): string => location.pathname + location.search;

/** Goes to `to`, a path of this app; `replace` leaves no history entry (redirects). */
export function navigate(to: string, options: { replace?: boolean } = {}): void {
  if (to === currentPath()) return;
  history[options.replace ? 'replaceState' : 'pushState'](null, '', to);
  if (!options.replace) window.scrollTo(0, 0);
  notify();
}

export interface Location {
  pathname: string;
  query: URLSearchParams;
  /** pathname + search, e.g. to come back to after signing in. */
  path: string;
}

export function useLocation(): Location {
  const path = useSyncExternalStore(subscribe, currentPath);
  return useMemo(() => {
    const url = new URL(path, location.origin);
    return { pathname: url.pathname, query: url.searchParams, path };
  }, [path]);
}

/** `/orders/:id` against `/orders/42` -> `{ id: '42' }`; null when it does not match. */
export function matchPath(pattern: string, pathname: string): Record<string, string> | null {
  const want = pattern.split('/').filter(Boolean);
  const got = pathname.split('/').filter(Boolean);
  if (want.length !== got.length) return null;
  const params: Record<string, string> = {};
  for (const [i, part] of want.entries()) {
    const value = got[i] ?? '';
    if (part.startsWith(':')) {
      try {
        params[part.slice(1)] = decodeURIComponent(value);
      } catch {
        return null;
      }
    } else if (part !== value) return null;
  }
  return params;
}

type LinkProps = Omit<AnchorHTMLAttributes<HTMLAnchorElement>, 'href'> & { to: string };

/** An ordinary link (open in a new tab works) that navigates in place on a plain click. */
export function Link({ to, onClick, ...rest }: LinkProps) {
  const { pathname } = useLocation();
  const handle = (event: MouseEvent<HTMLAnchorElement>): void => {
    onClick?.(event);
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey || rest.target) return;
    event.preventDefault();
    navigate(to);
  };
  return <a href={to} onClick={handle} aria-current={pathname === to ? 'page' : undefined} {...rest} />;
}

export function Redirect({ to }: { to: string }) {
  useEffect(() => navigate(to, { replace: true }), [to]);
  return null;
}
