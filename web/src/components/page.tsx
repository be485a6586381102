import { useEffect, type ReactNode } from 'react';

/** A page's heading and title bar text; every page starts with one. */
export function Page({ title, intro, actions, children }: { title: string; intro?: ReactNode; actions?: ReactNode; children?: ReactNode }) {
  useEffect(() => {
    document.title = `${title} · Switchboard`;
  }, [title]);
  return (
    <section className="page">
      <header className="page__header">
        <div>
          <h1>{title}</h1>
          {intro ? <p className="page__intro">{intro}</p> : null}
        </div>
        {actions ? <div className="page__actions">{actions}</div> : null}
      </header>
      {children}
    </section>
  );
}

/** Stand-in for a page still to be built: what it will do, so nobody mistakes it for broken. */
export function ComingNext({ children }: { children: ReactNode }) {
  return (
    <div className="card card--muted">
      <p className="eyebrow">Coming next</p>
      {children}
    </div>
  );
}
