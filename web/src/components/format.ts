/**
 * Money and times as the API sends them, shown the way the reader's browser is set up: money in
 * integer minor units (`1250` USD is $12.50), times as UTC ISO 8601 strings shown in local time.
 */

const moneyFormats = new Map<string, Intl.NumberFormat>();

function moneyFormat(currency: string, locale?: string): Intl.NumberFormat {
  const key = `${locale ?? ''}|${currency}`;
  let format = moneyFormats.get(key);
  if (!format) {
    format = new Intl.NumberFormat(locale, { style: 'currency', currency });
    moneyFormats.set(key, format);
  }
  return format;
}

/**
 * `formatMoney(1250, 'USD')` -> "$12.50"; `formatMoney(500, 'JPY')` -> "¥500". The amount is turned
 * into an exact decimal string before formatting (no float division): prices stay exact whatever
 * their size.
 */
export function formatMoney(minor: number | bigint, currency: string, locale?: string): string {
  const format = moneyFormat(currency, locale);
  const digits = format.resolvedOptions().maximumFractionDigits ?? 2;
  // Not minor units (a bug upstream): shown as well as a float allows rather than failing the page.
  if (typeof minor === 'number' && !Number.isSafeInteger(minor)) return format.format(minor / 10 ** digits);
  const negative = minor < 0;
  const units = (negative ? -BigInt(minor) : BigInt(minor)).toString().padStart(digits + 1, '0');
  const whole = units.slice(0, units.length - digits);
  const fraction = digits > 0 ? `.${units.slice(units.length - digits)}` : '';
  return format.format(`${negative ? '-' : ''}${whole}${fraction}` as Intl.StringNumericLiteral);
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const timeOnly = new Intl.DateTimeFormat(undefined, { timeStyle: 'short' });
const full = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'long' });

function parse(iso: string): Date | null {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? null : date;
}

function isToday(date: Date, now = new Date()): boolean {
  return date.getFullYear() === now.getFullYear() && date.getMonth() === now.getMonth() && date.getDate() === now.getDate();
}

/** "14:05" today, "21 Nov 2026, 14:05" otherwise, in the reader's time zone; "" for a bad string. */
export function formatTime(iso: string): string {
  const date = parse(iso);
  if (!date) return '';
  return isToday(date) ? timeOnly.format(date) : dateTime.format(date);
}

/** Date and time always, e.g. for order histories. */
export function formatDateTime(iso: string): string {
  const date = parse(iso);
  return date ? dateTime.format(date) : '';
}

/** The long form with the time zone, for tooltips. */
export function formatFullTime(iso: string): string {
  const date = parse(iso);
  return date ? full.format(date) : '';
}
