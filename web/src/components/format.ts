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

/** How many decimals a currency's minor unit has: USD 2, JPY 0, BHD 3. */
export function currencyDigits(currency: string): number {
  return moneyFormat(currency).resolvedOptions().maximumFractionDigits ?? 2;
}

/** `moneyInput(4550, 'USD')` -> "45.50": an amount in minor units as a money field shows it (no
 * symbol, no grouping), exactly. */
export function moneyInput(minor: number, currency: string): string {
  const digits = currencyDigits(currency);
  const units = BigInt(minor).toString().padStart(digits + 1, '0');
  return digits > 0 ? `${units.slice(0, -digits)}.${units.slice(-digits)}` : units;
}

export type ParsedMoney = { ok: true; minor: number } | { ok: false; error: string };

/**
 * What a person typed in a money field, in minor units, exactly: the text is split into its whole
 * and fractional digits, which never go through a float ("0.29" is 29 cents, not 28.999…). A dot
 * is a decimal point ("45.5"); a comma is one too when what follows fits the currency ("45,50"),
 * else a thousands separator ("1,234"); with both, the last one is the decimal separator
 * ("1,234.50", "1.234,50"). More decimals than the currency has, signs, and amounts over `max` are
 * refused with the reason.
 */
export function parseMoney(text: string, currency: string, max = 100_000_000_000): ParsedMoney {
  const digits = currencyDigits(currency);
  const example = moneyInput(4550 * 10 ** Math.max(0, digits - 2), currency);
  const compact = text.replace(/[\s\u00a0\u202f]/g, '');
  if (compact === '') return { ok: false, error: 'Enter an amount.' };
  if (compact.startsWith('-')) return { ok: false, error: 'The amount cannot be negative.' };
  const [whole, fraction] = splitAmount(compact, digits);
  if (whole === null || !/^\d+$/.test(whole) || !/^\d*$/.test(fraction)) return { ok: false, error: `Enter an amount like ${example}.` };
  if (fraction.length > digits) return { ok: false, error: digits === 0 ? `${currency} amounts have no decimals.` : `Use at most ${digits} decimals, e.g. ${example}.` };
  const minor = BigInt(whole) * 10n ** BigInt(digits) + BigInt(fraction.padEnd(digits, '0') || '0');
  if (minor > BigInt(max)) return { ok: false, error: `The amount can be at most ${formatMoney(max, currency)}.` };
  return { ok: true, minor: Number(minor) };
}

/** "1,234.50" -> ["1234", "50"]; whole null when the separators make no sense ("1,2,3"). */
function splitAmount(text: string, digits: number): [string | null, string] {
  const dot = text.lastIndexOf('.');
  const comma = text.lastIndexOf(',');
  const grouped = (part: string, separator: string): string | null => (new RegExp(`^\\d{1,3}(\\${separator}\\d{3})+$`).test(part) ? part.split(separator).join('') : null);
  if (dot >= 0 && comma >= 0) {
    const [decimal, group] = dot > comma ? ['.', ','] : [',', '.'];
    const at = text.lastIndexOf(decimal);
    const head = text.slice(0, at);
    return [/^\d+$/.test(head) ? head : grouped(head, group), text.slice(at + 1)];
  }
  const separator = dot >= 0 ? '.' : comma >= 0 ? ',' : null;
  if (separator === null) return [text, ''];
  const parts = text.split(separator);
  if (parts.length === 2 && (separator === '.' || parts[1]!.length <= digits)) return [parts[0]!, parts[1]!];
  return [grouped(text, separator), ''];
}
