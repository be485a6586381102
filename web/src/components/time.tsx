import { formatDateTime, formatFullTime, formatTime } from './format';

/** A UTC ISO time in the reader's local time, with the full date and zone on hover. */
export function Time({ iso, always = 'auto' }: { iso: string; always?: 'auto' | 'date' }) {
  return (
    <time dateTime={iso} title={formatFullTime(iso)}>
      {always === 'date' ? formatDateTime(iso) : formatTime(iso)}
    </time>
  );
}
