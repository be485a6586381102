import { useCallback, useEffect, useId, useState, type FormEvent } from 'react';
import { Button } from '@/components/button';
import { Time } from '@/components/time';
import { useToast } from '@/components/toast';
import { errorMessage } from '@/lib/api';
import { consoleApi } from './api';
import { CoverageWords, MissingNodes } from './coverage';
import type { ChannelRow, HistoryView } from './types';
import { useRefreshing } from './use-refreshing';

const REFRESH_MS = 5000;

/** `{"message":"hi"}` on one line, cut at a length a table cell can hold. */
function preview(data: unknown): string {
  const text = JSON.stringify(data) ?? 'null';
  return text.length > 160 ? `${text.slice(0, 157)}…` : text;
}

/** The shop's channels, busiest first, with a button to use the ones the console may. */
function ChannelsTable({ rows, onPick }: { rows: ChannelRow[]; onPick: (channel: string) => void }) {
  if (rows.length === 0) return <p className="muted">Nobody of your shop follows a channel right now.</p>;
  return (
    <div className="table-wrap">
      <table className="table" aria-label="Channels">
        <thead>
          <tr>
            <th scope="col">Channel</th>
            <th scope="col" className="num">
              Connections
            </th>
            <th scope="col" className="num">
              Users
            </th>
            <th scope="col">
              <span className="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={row.channel}>
              <td>
                <code>{row.channel}</code>
                {row.own ? null : (
                  <span className="tag" title="Other shops' users may follow it too; only yours are counted">
                    shared
                  </span>
                )}
              </td>
              <td className="num">{row.connections}</td>
              <td className="num">{row.users}</td>
              <td className="actions">
                {row.canPublish || row.canReadHistory ? (
                  <Button variant="quiet" onClick={() => onPick(row.channel)} aria-label={`Use ${row.channel} for a test publish`} title="Fill the test publish form with it and show its history">
                    Use for test
                  </Button>
                ) : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** The newest publications of the chosen channel, newest first. */
function HistoryList({ history }: { history: HistoryView }) {
  if (history.publications.length === 0) return <p className="muted">Nothing in this channel's history (it keeps the last few minutes).</p>;
  return (
    <ol className="history" aria-label={`History of ${history.channel}`}>
      {[...history.publications].reverse().map((p) => (
        <li key={`${history.epoch}:${p.offset}`} className={p.event === 'console_test' ? 'history__item history__item--test' : 'history__item'}>
          <span className="history__offset">#{p.offset}</span>
          <span className="history__event">{p.event}</span>
          <Time iso={p.time} />
          <code className="history__data">{preview(p.data)}</code>
        </li>
      ))}
    </ol>
  );
}

/**
 * The channels of the shop, and a test publish with the channel's history: send a
 * `console_test` event and see it land (subscribers get it like any publication).
 */
export function ChannelsPanel({ tenantId, refreshKey }: { tenantId: string; refreshKey: number }) {
  const channels = useRefreshing(consoleApi.channels, REFRESH_MS);
  const toast = useToast();
  const [channel, setChannel] = useState(`tenant:${tenantId}`);
  const [message, setMessage] = useState('Test from the console');
  const [sending, setSending] = useState(false);
  const [history, setHistory] = useState<HistoryView | null>(null);
  const [historyError, setHistoryError] = useState<string | null>(null);
  const [viewed, setViewed] = useState<string | null>(null);
  const ids = { channel: useId(), message: useId(), list: useId() };

  const loadHistory = useCallback((name: string) => {
    setViewed(name);
    consoleApi.history(name).then(
      (view) => {
        setHistory(view);
        setHistoryError(null);
      },
      (err: unknown) => {
        setHistory(null);
        setHistoryError(errorMessage(err));
      },
    );
  }, []);

  // An action elsewhere on the page (an audit line arriving) may mean new publications here.
  useEffect(() => {
    if (viewed && refreshKey > 0) loadHistory(viewed);
  }, [refreshKey, viewed, loadHistory]);

  const send = async (event: FormEvent) => {
    event.preventDefault();
    setSending(true);
    try {
      const sent = await consoleApi.publish(channel.trim(), message);
      toast.show(`Sent to ${sent.channel}: offset ${sent.offset}.`, 'success');
      loadHistory(sent.channel);
    } catch (err) {
      toast.show(errorMessage(err), 'error');
    } finally {
      setSending(false);
    }
  };

  const pick = (name: string) => {
    setChannel(name);
    loadHistory(name);
  };

  const usable = (channels.data?.channels ?? []).filter((c) => c.canPublish).map((c) => c.channel);
  return (
    <section className="console-section" aria-labelledby="channels-title">
      <div className="console-section__head">
        <h2 id="channels-title">Channels</h2>
        <p className="muted console-section__meta">
          Followed by your shop's connections{channels.data ? <CoverageWords coverage={channels.data.coverage} /> : null}
          {channels.updatedAt ? (
            <>
              {' '}
              · updated <Time iso={new Date(channels.updatedAt).toISOString()} />
            </>
          ) : null}
        </p>
        <Button variant="quiet" onClick={channels.refresh} busy={channels.loading && channels.data !== null}>
          Refresh
        </Button>
      </div>
      <div className="console-grid">
        <div className="card">
          {channels.error ? <p className="error">{channels.error}</p> : null}
          {channels.data ? <MissingNodes coverage={channels.data.coverage} /> : null}
          {channels.data ? <ChannelsTable rows={channels.data.channels} onPick={pick} /> : channels.error ? null : <p className="muted">Loading…</p>}
          {channels.data?.more ? <p className="muted">Only the 200 busiest are shown.</p> : null}
        </div>
        <div className="card">
          <h3>Test publish</h3>
          <form className="publish-form" onSubmit={(e) => void send(e)}>
            <label className="field" htmlFor={ids.channel}>
              <span>Channel</span>
              <input id={ids.channel} value={channel} onChange={(e) => setChannel(e.target.value)} list={ids.list} required autoComplete="off" spellCheck={false} />
              <datalist id={ids.list}>
                {[...new Set([`tenant:${tenantId}`, ...usable])].map((name) => (
                  <option key={name} value={name} />
                ))}
              </datalist>
            </label>
            <label className="field" htmlFor={ids.message}>
              <span>Message</span>
              <input id={ids.message} value={message} onChange={(e) => setMessage(e.target.value)} required maxLength={500} />
            </label>
            <p className="muted publish-form__hint">
              Sends a <code>console_test</code> event to everyone following the channel. Any channel of your shop you may read; it is written to the audit log.
            </p>
            <div className="publish-form__actions">
              <Button type="submit" variant="primary" busy={sending}>
                Publish test event
              </Button>
              <Button onClick={() => loadHistory(channel.trim())} disabled={channel.trim() === ''}>
                Show history
              </Button>
            </div>
          </form>
          {viewed ? (
            <div className="history-view">
              <h4>
                History of <code>{viewed}</code>
              </h4>
              {historyError ? <p className="error">{historyError}</p> : history ? <HistoryList history={history} /> : <p className="muted">Loading…</p>}
            </div>
          ) : null}
        </div>
      </div>
    </section>
  );
}
