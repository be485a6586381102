import { useEffect, useRef, useState } from 'react';
import { useChannel, type ChannelEvent } from '@/lib/realtime';
import { LineChart, type Series } from './line-chart';
import type { NodeSample, OpsEvents, OpsSnapshot } from './types';

const WINDOW_MS = 5 * 60_000;
const EMPTY: OpsSnapshot = { samples: [], windowMs: WINDOW_MS, intervalMs: 1000 };
/** No sample for this long (by this browser's clock) and the figures say they are stale. */
const STALE_MS = 5000;
/** The charts span at least this much time. */
const MIN_SPAN_MS = 30_000;
/** Line colours by node, in the order nodes were first seen. */
const NODE_TONES = ['chart__series--a', 'chart__series--b', 'chart__series--c', 'chart__series--d', 'chart__series--e'];

/** Appends a sample unless the snapshot already holds it (it is taken after its position, so the
 * first publications after a subscribe may be in both), keeping the last five minutes. */
export function addSample(state: OpsSnapshot, event: ChannelEvent<OpsEvents>): OpsSnapshot {
  if (event.event !== 'sample') return state;
  const sample = event.data;
  if (state.samples.some((s) => s.node === sample.node && s.at >= sample.at)) return state;
  const since = new Date(Date.parse(sample.at) - (state.windowMs || WINDOW_MS)).toISOString();
  return { ...state, samples: [...state.samples.filter((s) => s.at >= since), sample] };
}

const count = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const formatCount = (n: number) => count.format(n);
const formatRate = (n: number) => (n < 10 ? n.toFixed(1).replace(/\.0$/, '') : count.format(n));
const formatMs = (n: number) => (n < 1 ? n.toFixed(2) : n < 10 ? n.toFixed(1) : count.format(n));
const formatMb = (bytes: number) => {
  const mb = bytes / (1024 * 1024);
  return mb < 100 ? mb.toFixed(1) : count.format(mb);
};

type Tone = 'ok' | 'warn' | 'bad';

interface Figure {
  id: string;
  title: string;
  unit: string;
  /** The chart's value of a sample (null: no value in that interval). */
  pick: (s: NodeSample) => number | null;
  /** Several nodes: the figure of the deployment is their sum (counts, rates) or their worst (latencies). */
  combine: 'sum' | 'max';
  format: (n: number) => string;
  minTop: number;
  /** The small line under the value, from the newest samples of every node. */
  detail: (latest: NodeSample[]) => string;
  /** What needs a look: amber, and red for what needs one now. */
  tone?: (value: number | null) => Tone;
}

const sum = (latest: NodeSample[], pick: (s: NodeSample) => number) => latest.reduce((n, s) => n + pick(s), 0);
const above = (warn: number, bad: number) => (value: number | null): Tone => (value === null ? 'ok' : value >= bad ? 'bad' : value >= warn ? 'warn' : 'ok');

const FIGURES: Figure[] = [
  { id: 'connections', title: 'Connections', unit: '', pick: (s) => s.connections, combine: 'sum', format: formatCount, minTop: 10, detail: () => 'open WebSockets' },
  {
    id: 'subscriptions',
    title: 'Subscriptions',
    unit: '',
    pick: (s) => s.subscriptions,
    combine: 'sum',
    format: formatCount,
    minTop: 10,
    detail: (latest) => `on ${formatCount(sum(latest, (s) => s.channels))} channels`,
  },
  { id: 'messages-in', title: 'Messages in', unit: '/s', pick: (s) => s.messagesInPerSec, combine: 'sum', format: formatRate, minTop: 10, detail: () => 'frames from clients' },
  {
    id: 'messages-out',
    title: 'Messages out',
    unit: '/s',
    pick: (s) => s.messagesOutPerSec,
    combine: 'sum',
    format: formatRate,
    minTop: 10,
    detail: (latest) => `${formatRate(sum(latest, (s) => s.publicationsPerSec))} publications/s`,
  },
  {
    id: 'delivery',
    title: 'Delivery p99',
    unit: ' ms',
    pick: (s) => s.deliverP99Ms,
    combine: 'max',
    format: formatMs,
    minTop: 5,
    detail: (latest) => (latest.every((s) => s.deliverP99Ms === null) ? 'nothing delivered this second' : 'publish to socket write'),
    tone: above(50, 250),
  },
  {
    id: 'loop-lag',
    title: 'Event-loop lag p99',
    unit: ' ms',
    pick: (s) => s.loopLagP99Ms,
    combine: 'max',
    format: formatMs,
    minTop: 10,
    detail: (latest) => `worst ${formatMs(Math.max(0, ...latest.map((s) => s.loopLagMaxMs)))} ms this second`,
    tone: above(20, 100),
  },
  {
    id: 'outbox',
    title: 'Outbox backlog',
    unit: '',
    pick: (s) => s.outboxPending,
    combine: 'max',
    format: formatCount,
    minTop: 10,
    detail: (latest) => (latest.some((s) => s.outboxPending === null) ? 'the database did not answer' : 'events waiting to be published'),
    tone: above(100, 1000),
  },
  {
    id: 'memory',
    title: 'Memory (RSS)',
    unit: ' MB',
    pick: (s) => s.rssBytes / (1024 * 1024),
    combine: 'sum',
    format: (mb) => formatMb(mb * 1024 * 1024),
    minTop: 64,
    detail: (latest) => `JS heap ${formatMb(sum(latest, (s) => s.heapUsedBytes))} MB`,
  },
];

/** "last 5 minutes", "last 40 seconds". */
function spanWords(ms: number): string {
  const seconds = Math.round(ms / 1000);
  if (seconds < 90) return `last ${seconds} seconds`;
  const minutes = Math.round(seconds / 60);
  return `last ${minutes} minute${minutes === 1 ? '' : 's'}`;
}

/** "5 min ago", "40 s ago": the left end of the time axis. */
function agoWords(ms: number): string {
  const seconds = Math.round(ms / 1000);
  return seconds < 90 ? `${seconds} s ago` : `${Math.round(seconds / 60)} min ago`;
}

function combined(figure: Figure, latest: NodeSample[]): number | null {
  const values = latest.map(figure.pick).filter((v): v is number => v !== null);
  if (values.length === 0) return null;
  return figure.combine === 'sum' ? values.reduce((a, b) => a + b, 0) : Math.max(...values);
}

/** Re-renders every second, so "stale" shows even when nothing arrives. */
function useNow(everyMs: number): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  return now;
}

/** The node's figures, live from `ops:node`: a card per figure with its value now and five minutes of it. */
export function LiveFigures() {
  const lastArrival = useRef<number | null>(null);
  const { state, status, error } = useChannel<OpsEvents, OpsSnapshot>('ops:node', {
    reduce: addSample,
    initial: EMPTY,
    on: { sample: () => (lastArrival.current = Date.now()) },
    onSnapshot: () => (lastArrival.current = Date.now()),
  });
  const now = useNow(1000);
  if (error) return <p className="error">The live figures are not available: {error.message}</p>;

  const { samples, windowMs, intervalMs } = state ?? EMPTY;
  const nodes: string[] = [];
  const latestByNode = new Map<string, NodeSample>();
  for (const s of samples) {
    if (!latestByNode.has(s.node)) nodes.push(s.node);
    latestByNode.set(s.node, s);
  }
  const latest = [...latestByNode.values()];
  const to = samples.length > 0 ? Math.max(...latest.map((s) => Date.parse(s.at))) : now;
  // A young history (a node just started) fills the width rather than a sliver at the right edge.
  const first = samples.length > 0 ? Date.parse(samples[0]!.at) : to;
  const from = Math.min(to - MIN_SPAN_MS, Math.max(to - windowMs, first));
  const stale = status === 'live' && samples.length > 0 && lastArrival.current !== null && now - lastArrival.current > STALE_MS;

  return (
    <section className="console-section" aria-labelledby="figures-title">
      <div className="console-section__head">
        <h2 id="figures-title">Node figures</h2>
        <p className="muted console-section__meta" data-testid="figures-status">
          {status !== 'live' && samples.length === 0
            ? 'Connecting to the live feed…'
            : samples.length === 0
              ? 'Waiting for the first figures…'
              : `${nodes.length === 1 ? `Node ${nodes[0]} (${latest[0]!.host})` : `${nodes.length} nodes`} · a sample every ${intervalMs / 1000} s · ${spanWords(to - from)}`}
        </p>
      </div>
      {stale ? (
        <p className="notice" role="status">
          No figures for {Math.round((now - lastArrival.current!) / 1000)} s: the node may be stuck, or this page lost its connection.
        </p>
      ) : null}
      {nodes.length > 1 ? (
        <ul className="chart-legend" aria-label="Nodes">
          {nodes.map((node, i) => (
            <li key={node} className={NODE_TONES[i % NODE_TONES.length]}>
              <span className="chart-legend__swatch" aria-hidden="true" /> {node} ({latestByNode.get(node)!.host})
            </li>
          ))}
        </ul>
      ) : null}
      <div className="figures">
        {FIGURES.map((figure) => {
          const value = combined(figure, latest);
          const tone = latest.some((s) => figure.id === 'outbox' && s.outboxPending === null) ? 'bad' : (figure.tone?.(value) ?? 'ok');
          const series: Series[] = nodes.map((node, i) => ({
            label: node,
            tone: NODE_TONES[i % NODE_TONES.length]!,
            points: samples.filter((s) => s.node === node).map((s) => ({ t: Date.parse(s.at), v: figure.pick(s) })),
          }));
          return (
            <article key={figure.id} className={`card figure figure--${tone}`} data-figure={figure.id} data-points={samples.length}>
              <h3 className="figure__title">{figure.title}</h3>
              <p className="figure__value">
                {value === null ? '—' : figure.format(value)}
                <span className="figure__unit">{value === null ? '' : figure.unit}</span>
              </p>
              <p className="figure__detail">{latest.length > 0 ? figure.detail(latest) : '\u00a0'}</p>
              <LineChart
                series={series}
                from={from}
                to={to}
                gapMs={Math.max(3 * intervalMs, 3000)}
                minTop={figure.minTop}
                format={figure.format}
                title={`${figure.title} over the ${spanWords(to - from)}${value === null ? '' : `, now ${figure.format(value)}${figure.unit}`}`}
              />
              <p className="figure__axis" aria-hidden="true">
                <span>{agoWords(to - from)}</span>
                <span>now</span>
              </p>
            </article>
          );
        })}
      </div>
    </section>
  );
}
