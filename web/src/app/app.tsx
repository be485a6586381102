import { Suspense, useEffect } from 'react';
import { SignInPage } from '@/modules/accounts';
import { api } from '@/lib/api';
import { SwitchboardProvider } from '@/lib/realtime';
import { HOME_BY_ROLE } from '@/lib/roles';
import { Redirect, useLocation } from '@/lib/router';
import { signOut, useSession, type Session } from '@/lib/session';
import { BareLayout, Layout } from './layout';
import { NotForYourRolePage, NotFoundPage } from './not-found';
import { destinationAfterSignIn, findRoute } from './routes';

/** Asks the server once per session whether its token still works (accounts can be deleted or
 * changed while a tab sleeps); a 401 signs out through the API client. */
function useSessionCheck(session: Session | null): void {
  const token = session?.token;
  useEffect(() => {
    if (!token) return;
    api.get('/api/me').catch(() => {});
  }, [token]);
}

export function App() {
  const session = useSession();
  const { pathname, query, path } = useLocation();
  useSessionCheck(session);

  if (!session) {
    if (pathname === '/sign-in') {
      return (
        <BareLayout>
          <SignInPage />
        </BareLayout>
      );
    }
    if (pathname === '/' || findRoute(pathname)) return <Redirect to={pathname === '/' ? '/sign-in' : `/sign-in?next=${encodeURIComponent(path)}`} />;
    return (
      <BareLayout>
        <NotFoundPage path={pathname} home={{ to: '/sign-in', label: 'Go to sign in' }} />
      </BareLayout>
    );
  }

  const home = HOME_BY_ROLE[session.user.role];
  if (pathname === '/') return <Redirect to={home} />;
  if (pathname === '/sign-in') return <Redirect to={destinationAfterSignIn(query.get('next'), session.user.role, home)} />;

  const found = findRoute(pathname);
  let content;
  if (!found) content = <NotFoundPage path={pathname} home={{ to: home, label: 'Go to your start page' }} />;
  else if (!found.route.roles.includes(session.user.role)) content = <NotForYourRolePage home={home} />;
  else content = <found.route.page params={found.params} />;

  return (
    // A new token (another sign-in) is a new connection: the key remounts the provider.
    <SwitchboardProvider key={session.token} token={session.token} onSessionEnded={signOut}>
      <Layout session={session}>
        <Suspense fallback={<p className="muted loading">Loading…</p>}>{content}</Suspense>
      </Layout>
    </SwitchboardProvider>
  );
}
