import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { moneyInput, parseMoney } from '../../web/src/components/format.js';

const minor = (text: string, currency = 'USD'): number | string => {
  const parsed = parseMoney(text, currency);
  return parsed.ok ? parsed.minor : parsed.error;
};

void describe('web: a money field in major units, to integer minor units exactly', () => {
  void test('decimal strings become minor units without a float in between', () => {
    assert.equal(minor('45'), 4500);
    assert.equal(minor('45.5'), 4550);
    assert.equal(minor('45.50'), 4550);
    assert.equal(minor(' 45.50 '), 4550);
    assert.equal(minor('45.'), 4500);
    assert.equal(minor('.5'), 'Enter an amount like 45.50.');
    // As floats these go wrong: 0.29 * 100 = 28.999999999999996, 1.005 * 100 = 100.49999999999999.
    assert.equal(minor('0.29'), 29);
    assert.equal(minor('1.01'), 101);
    assert.equal(minor('0'), 0);
    assert.equal(minor('999999999.99'), 99_999_999_999);
  });

  void test('a decimal comma, and thousands separators either way', () => {
    assert.equal(minor('45,5'), 4550);
    assert.equal(minor('45,50'), 4550);
    assert.equal(minor('1,234'), 123400, 'three digits after a comma in dollars: thousands');
    assert.equal(minor('1,234.56'), 123456);
    assert.equal(minor('1.234,56'), 123456);
    assert.equal(minor('1 234,56'), 123456);
    assert.equal(minor('1,234,567'), 123456700);
    assert.equal(minor('1.234.567'), 123456700);
  });

  void test('each currency\'s own decimals', () => {
    assert.equal(minor('500', 'JPY'), 500);
    assert.equal(minor('500.5', 'JPY'), 'JPY amounts have no decimals.');
    assert.equal(minor('1,234', 'JPY'), 1234);
    assert.equal(minor('1.234', 'BHD'), 1234);
    assert.equal(minor('1,234', 'BHD'), 1234, 'three decimals fit dinars: a decimal comma');
  });

  void test('what is refused, with the reason', () => {
    assert.equal(minor(''), 'Enter an amount.');
    assert.equal(minor('12.345'), 'Use at most 2 decimals, e.g. 45.50.');
    assert.equal(minor('-5'), 'The amount cannot be negative.');
    assert.equal(minor('1e3'), 'Enter an amount like 45.50.');
    assert.equal(minor('$5'), 'Enter an amount like 45.50.');
    assert.equal(minor('1,2,3'), 'Enter an amount like 45.50.');
    assert.equal(minor('12,34,567'), 'Enter an amount like 45.50.');
    assert.equal(minor('1000000000.01'), 'The amount can be at most $1,000,000,000.00.');
  });

  void test('minor units back into the field, exactly', () => {
    assert.equal(moneyInput(4550, 'USD'), '45.50');
    assert.equal(moneyInput(5, 'USD'), '0.05');
    assert.equal(moneyInput(0, 'USD'), '0.00');
    assert.equal(moneyInput(500, 'JPY'), '500');
    assert.equal(moneyInput(1234, 'BHD'), '1.234');
    for (const amount of [0, 1, 29, 101, 4550, 99_999_999_999]) assert.equal(minor(moneyInput(amount, 'USD')), amount);
  });
});
