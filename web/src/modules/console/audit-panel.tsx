import { useEffect, useState } from 'react';
import { Time } from '@/components/time';
import { errorMessage } from '@/lib/api';
import { useChannel } from '@/lib/realtime';
import { consoleApi } from './api';
import type { AuditEntry, AuditEvents } from './types';

const SHOWN = 25;

/** Newest first, each once: the REST page and the live lines may overlap. */
function merge(list: AuditEntry[], more: AuditEntry[]): AuditEntry[] {
  const byId = new Map(list.map((e) => [e.id, e]));
  for (const e of more) byId.set(e.id, e);
  return [...byId.values()].sort((a, b) => (a.at === b.at ? b.id.localeCompare(a.id) : b.at.localeCompare(a.at))).slice(0, SHOWN);
}

/** What the line says was done, in words. */
function describe(entry: AuditEntry) {
  const d = entry.details;
  const failed = d.outcome === 'failed';
  if (entry.action === 'publish') {
    return (
      <>
        published a test event to <code>{entry.target}</code>
        {typeof d.message === 'string' ? <> “{d.message}”</> : null}
        {failed ? <span className="audit__failed"> — failed ({String(d.error)})</span> : typeof d.offset === 'number' ? <span className="muted"> — offset {d.offset}</span> : null}
      </>
    );
  }
  const user = d.user as { name?: string; email?: string } | undefined;
  const closed = typeof d.connections === 'number' ? d.connections : null;
  return (
    <>
      ended the sessions of <strong>{user?.name || entry.target}</strong>
      {user?.email ? <span className="muted"> ({user.email})</span> : null}
      {failed ? <span className="audit__failed"> — failed ({String(d.error)})</span> : closed !== null ? <span className="muted"> — {closed} {closed === 1 ? 'connection' : 'connections'} closed</span> : null}
    </>
  );
}

/** The shop's console actions: the latest page, then each new one as it is taken (audit:<tenant>). */
export function AuditPanel({ tenantId, onEntry }: { tenantId: string; onEntry: (entry: AuditEntry) => void }) {
  const [entries, setEntries] = useState<AuditEntry[]>([]);
  const [loaded, setLoaded] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const { error: liveError } = useChannel<AuditEvents>(`audit:${tenantId}`, {
    on: {
      audit_entry: (entry) => {
        setEntries((list) => merge(list, [entry]));
        onEntry(entry);
      },
    },
  });
  useEffect(() => {
    let active = true;
    consoleApi.audit(SHOWN).then(
      (page) => {
        if (!active) return;
        setEntries((list) => merge(list, page.items));
        setLoaded(true);
      },
      (err: unknown) => active && setError(errorMessage(err)),
    );
    return () => {
      active = false;
    };
  }, []);
  return (
    <section className="console-section" aria-labelledby="audit-title">
      <div className="console-section__head">
        <h2 id="audit-title">Audit log</h2>
        <p className="muted console-section__meta">What your shop's admins did from the console, live</p>
      </div>
      <div className="card">
        {error ? <p className="error">{error}</p> : null}
        {liveError ? <p className="notice">New lines will not appear by themselves: {liveError.message}</p> : null}
        {entries.length === 0 ? (
          <p className="muted">{loaded ? 'Nothing yet: test publishes and ended sessions are written here.' : 'Loading…'}</p>
        ) : (
          <ol className="audit" aria-label="Audit log">
            {entries.map((entry) => (
              <li key={entry.id} className="audit__item" data-action={entry.action}>
                <Time iso={entry.at} />
                <span className="audit__what">
                  <strong>{entry.actor.name || entry.actor.id}</strong> {describe(entry)}
                </span>
              </li>
            ))}
          </ol>
        )}
      </div>
    </section>
  );
}
