import { useEffect, useRef, type ReactNode } from 'react';
import { Button } from '@/components/button';
import { ROLE_LABELS } from '@/lib/roles';
import { Link, navigate, useLocation } from '@/lib/router';
import { signOut, type Session } from '@/lib/session';
import { ConnectionBanner } from './connection-banner';
import { ROUTES } from './routes';

/** The frame of every signed-in page: the shop's name, the pages of the role, who is signed in. */
export function Layout({ session, children }: { session: Session; children: ReactNode }) {
  const { user } = session;
  const { pathname } = useLocation();
  const main = useRef<HTMLElement>(null);
  const first = useRef(true);
  // After a navigation, focus goes to the new page (screen readers announce it), not the old link.
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    main.current?.focus();
  }, [pathname]);

  const links = ROUTES.flatMap((route) => {
    const label = route.nav?.[user.role];
    return label ? [{ to: route.path, label }] : [];
  });

  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="header">
        <div className="header__inner">
          <p className="header__shop">{user.tenant.name}</p>
          <nav className="header__nav" aria-label="Pages">
            {links.map((link) => (
              <Link key={link.to} to={link.to} className="nav-link">
                {link.label}
              </Link>
            ))}
          </nav>
          <div className="header__user">
            <span className="header__name" title={user.email}>
              {user.name}
            </span>
            <span className={`role role--${user.role}`}>{ROLE_LABELS[user.role]}</span>
            <Button
              variant="quiet"
              className="header__signout"
              onClick={() => {
                navigate('/sign-in', { replace: true });
                signOut();
              }}
            >
              Sign out
            </Button>
          </div>
        </div>
        <ConnectionBanner />
      </header>
      <main id="main" ref={main} tabIndex={-1} className="main">
        {children}
      </main>
    </div>
  );
}

/** The frame of pages seen signed out (sign-in, not found). */
export function BareLayout({ children }: { children: ReactNode }) {
  return (
    <main id="main" className="main main--bare">
      {children}
    </main>
  );
}
