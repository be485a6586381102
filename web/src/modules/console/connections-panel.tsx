import { useState } from 'react';
import { Button } from '@/components/button';
import { Time } from '@/components/time';
import { useToast } from '@/components/toast';
import { errorMessage } from '@/lib/api';
import { ROLE_LABELS } from '@/lib/roles';
import { consoleApi } from './api';
import { CoverageWords, MissingNodes } from './coverage';
import type { ConnectedUser } from './types';
import { useRefreshing } from './use-refreshing';

const REFRESH_MS = 5000;

/** "End sessions", then a second click to confirm (no browser dialog: it would block the page). */
function EndSessions({ user, onEnded }: { user: ConnectedUser; onEnded: () => void }) {
  const toast = useToast();
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const end = async () => {
    setBusy(true);
    try {
      const ended = await consoleApi.endSessions(user.id);
      toast.show(`${ended.user.name || ended.user.email} was signed out (${ended.connections} ${ended.connections === 1 ? 'connection' : 'connections'} closed).`, 'success');
      onEnded();
    } catch (err) {
      toast.show(errorMessage(err), 'error');
    } finally {
      setBusy(false);
      setConfirming(false);
    }
  };
  if (!confirming) {
    return (
      <Button variant="danger" onClick={() => setConfirming(true)} aria-label={`End sessions of ${user.name}`}>
        End sessions
      </Button>
    );
  }
  return (
    <span className="confirm">
      <Button variant="danger" busy={busy} onClick={() => void end()} aria-label={`Sign ${user.name} out everywhere`}>
        Sign out everywhere
      </Button>
      <Button variant="quiet" onClick={() => setConfirming(false)} disabled={busy}>
        Cancel
      </Button>
    </span>
  );
}

/** The shop's users connected to any node, with "End sessions" (every node closes theirs). */
export function ConnectionsPanel({ selfId }: { selfId: string }) {
  const view = useRefreshing(consoleApi.connections, REFRESH_MS);
  const users = view.data?.users ?? [];
  const multiNode = (view.data?.coverage.nodes.length ?? 1) + (view.data?.coverage.missing.length ?? 0) > 1;
  return (
    <section className="console-section" aria-labelledby="connections-title">
      <div className="console-section__head">
        <h2 id="connections-title">Connected users</h2>
        <p className="muted console-section__meta">
          Your shop's users{view.data ? <CoverageWords coverage={view.data.coverage} /> : null}
          {view.updatedAt ? (
            <>
              {' '}
              · updated <Time iso={new Date(view.updatedAt).toISOString()} />
            </>
          ) : null}
        </p>
        <Button variant="quiet" onClick={view.refresh} busy={view.loading && view.data !== null}>
          Refresh
        </Button>
      </div>
      <div className="card">
        {view.error ? <p className="error">{view.error}</p> : null}
        {view.data ? <MissingNodes coverage={view.data.coverage} /> : null}
        {!view.data ? (
          view.error ? null : <p className="muted">Loading…</p>
        ) : users.length === 0 ? (
          <p className="muted">Nobody of your shop is connected.</p>
        ) : (
          <div className="table-wrap">
            <table className="table" aria-label="Connected users">
              <thead>
                <tr>
                  <th scope="col">User</th>
                  <th scope="col">Role</th>
                  <th scope="col" className="num">
                    Connections
                  </th>
                  <th scope="col" className="num hide-narrow">
                    Channels
                  </th>
                  <th scope="col" className="hide-narrow">
                    Since
                  </th>
                  {multiNode ? (
                    <th scope="col" className="hide-narrow">
                      Nodes
                    </th>
                  ) : null}
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {users.map((user) => (
                  <tr key={user.id} data-user={user.id}>
                    <td>
                      <span className="person">
                        <span className="person__name">{user.name || '(no name)'}</span>
                        <span className="person__email">{user.email}</span>
                      </span>
                    </td>
                    <td>
                      <span className={`role role--${user.role}`}>{ROLE_LABELS[user.role] ?? user.role}</span>
                    </td>
                    <td className="num">{user.connections}</td>
                    <td className="num hide-narrow">{user.channels}</td>
                    <td className="hide-narrow">
                      <Time iso={user.since} />
                    </td>
                    {multiNode ? <td className="hide-narrow node-ids">{user.nodes.join(', ')}</td> : null}
                    <td className="actions">{user.id === selfId ? <span className="muted">you</span> : <EndSessions user={user} onEnded={view.refresh} />}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {view.data?.more ? <p className="muted">Only the 200 most connected are shown.</p> : null}
        <p className="muted console-note">
          Ending sessions signs the user out on every node (their pages ask them to sign in again); it does not lock them out. To keep someone out, disable their account.
        </p>
      </div>
    </section>
  );
}
