/** One line of a chart: a node's figure, or one of several figures of a node. */
export interface Series {
  label: string;
  /** A CSS class giving the line its colour (`.chart__line--a` …): no inline style under the CSP. */
  tone: string;
  dashed?: boolean;
  points: { t: number; v: number | null }[];
}

export interface LineChartProps {
  series: Series[];
  /** The time window drawn, ms since the epoch: [from, to]. */
  from: number;
  to: number;
  /** Points further apart than this are not joined (the node was down, or the console offline). */
  gapMs: number;
  /** The y axis goes at least this high, so a quiet figure draws flat near the bottom, not as noise. */
  minTop: number;
  format: (value: number) => string;
  /** What the chart shows, for screen readers ("Connections over the last 5 minutes"). */
  title: string;
}

const WIDTH = 240;
const HEIGHT = 72;
const TOP = 14;
const BOTTOM = 2;

/** The next "round" number at or above `n`: 1, 2, 2.5, 5 times a power of ten. */
export function niceTop(n: number): number {
  if (!(n > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(n));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= n) return step * power;
  return 10 * power;
}

/**
 * A small line chart in SVG: time across, one line per series, the top of the scale written in
 * the corner, a dot on each line's newest point. Drawn from the data on every render (a few hundred
 * points); no library.
 */
export function LineChart({ series, from, to, gapMs, minTop, format, title }: LineChartProps) {
  let highest = 0;
  for (const s of series) for (const p of s.points) if (p.v !== null && p.v > highest) highest = p.v;
  const top = niceTop(Math.max(highest, minTop));
  const span = Math.max(1, to - from);
  const x = (t: number) => ((t - from) / span) * WIDTH;
  const y = (v: number) => TOP + (1 - Math.min(v, top) / top) * (HEIGHT - TOP - BOTTOM);

  const lines = series.map((s) => {
    let d = '';
    let previous: number | null = null;
    let last: { x: number; y: number } | null = null;
    for (const p of s.points) {
      if (p.t < from || p.v === null) {
        previous = null;
        continue;
      }
      const px = x(p.t);
      const py = y(p.v);
      d += `${previous === null || p.t - previous > gapMs ? 'M' : 'L'}${px.toFixed(1)},${py.toFixed(1)}`;
      previous = p.t;
      last = { x: px, y: py };
    }
    return { s, d, last };
  });

  return (
    <svg className="chart" viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={title}>
      <line className="chart__grid" x1="0" x2={WIDTH} y1={TOP} y2={TOP} />
      <line className="chart__grid" x1="0" x2={WIDTH} y1={(TOP + HEIGHT - BOTTOM) / 2} y2={(TOP + HEIGHT - BOTTOM) / 2} />
      <line className="chart__axis" x1="0" x2={WIDTH} y1={HEIGHT - BOTTOM} y2={HEIGHT - BOTTOM} />
      {lines.map(({ s, d, last }) => (
        <g key={s.label} className={`chart__series ${s.tone}`}>
          {d ? <path className={`chart__line${s.dashed ? ' chart__line--dashed' : ''}`} d={d} /> : null}
          {last ? <circle className="chart__dot" cx={last.x} cy={last.y} r="2" /> : null}
        </g>
      ))}
      <text className="chart__top" x="2" y="10">
        {format(top)}
      </text>
    </svg>
  );
}
