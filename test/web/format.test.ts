import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
// The web app's formatting is plain TypeScript with no imports: the suites compile it from web/.
import { formatDateTime, formatMoney as format, formatTime } from '../../web/src/components/format.js';

/** Intl separates currency and amount with a no-break space in some locales; compared as a space. */
const formatMoney = (...args: Parameters<typeof format>): string => format(...args).replace(/\u00a0/g, ' ');

void describe('web: money and times as pages show them', () => {
  void test('money from integer minor units, with each currency\'s own decimals, exactly', () => {
    assert.equal(formatMoney(1250, 'USD', 'en-US'), '$12.50');
    assert.equal(formatMoney(5, 'USD', 'en-US'), '$0.05');
    assert.equal(formatMoney(0, 'EUR', 'en-US'), '€0.00');
    assert.equal(formatMoney(-1999, 'USD', 'en-US'), '-$19.99');
    assert.equal(formatMoney(500, 'JPY', 'en-US'), '¥500');
    assert.equal(formatMoney(1234, 'BHD', 'en-US'), 'BHD 1.234');
    assert.equal(formatMoney(123456, 'EUR', 'de-DE'), '1.234,56 €');
    // Past 2^53 as a bigint: no float in between, every digit kept.
    assert.equal(formatMoney(900719925474099301n, 'USD', 'en-US'), '$9,007,199,254,740,993.01');
  });

  void test('times: UTC ISO strings in the reader\'s time zone; today shows the time only', () => {
    const now = new Date();
    assert.equal(formatTime(now.toISOString()), new Intl.DateTimeFormat(undefined, { timeStyle: 'short' }).format(now));
    const past = '2021-03-04T05:06:07.000Z';
    assert.equal(formatTime(past), new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(past)));
    assert.equal(formatDateTime(past), formatTime(past));
    assert.equal(formatTime('not a time'), '');
  });
});
