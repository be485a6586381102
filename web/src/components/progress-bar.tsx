/** How far along something is, 0-100, as a bar with its number beside it. */
export function ProgressBar({ value, label }: { value: number; label: string }) {
  const percent = Math.max(0, Math.min(100, Math.round(value)));
  return (
    <span className="progress">
      <span className="progress__track" role="progressbar" aria-label={label} aria-valuemin={0} aria-valuemax={100} aria-valuenow={percent}>
        <span className="progress__fill" style={{ width: `${percent}%` }} />
      </span>
      <span className="progress__value">{percent}%</span>
    </span>
  );
}
