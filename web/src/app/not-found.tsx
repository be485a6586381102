import { Page } from '@/components/page';
import { Link } from '@/lib/router';

export function NotFoundPage({ path, home }: { path: string; home: { to: string; label: string } }) {
  return (
    <Page title="Page not found">
      <div className="card">
        <p>
          There is no page at <code>{path}</code>. The link may be old, or the address mistyped.
        </p>
        <p>
          <Link to={home.to}>{home.label}</Link>
        </p>
      </div>
    </Page>
  );
}

export function NotForYourRolePage({ home }: { home: string }) {
  return (
    <Page title="Not available to you">
      <div className="card">
        <p>This page is for another role. If you need it, ask an admin of your shop.</p>
        <p>
          <Link to={home}>Go to your start page</Link>
        </p>
      </div>
    </Page>
  );
}
