import { z } from 'zod';

/**
 * Validation messages in plain words, for every zod schema in the process (REST bodies, WebSocket
 * frames, settings): "data: required" rather than "Invalid input: expected nonoptional, received
 * undefined". A schema's own message (`z.string().regex(re, 'event must be …')`) still wins. Every
 * message is prefixed with its field by whoever reports it.
 */
type Issue = Parameters<NonNullable<Parameters<typeof z.config>[0]>['customError'] & object>[0];

function kind(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'number' && Number.isNaN(value)) return 'not a number';
  switch (typeof value) {
    case 'string':
      return 'text';
    case 'number':
      return Number.isInteger(value) ? 'a whole number' : 'a number';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object':
      return 'an object';
    default:
      return typeof value;
  }
}

const EXPECTED: Record<string, string> = {
  string: 'text',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  object: 'an object',
  array: 'a list',
  bigint: 'a whole number',
  date: 'a date',
};

const UNITS: Record<string, [string, string]> = { string: ['character', 'characters'], array: ['item', 'items'], set: ['item', 'items'], file: ['byte', 'bytes'] };

function bound(issue: { origin?: string; inclusive?: boolean }, n: number | bigint, side: 'least' | 'most'): string {
  const units = issue.origin ? UNITS[issue.origin] : undefined;
  const value = Number(n);
  if (units) return `must have at ${side} ${value} ${value === 1 ? units[0] : units[1]}`;
  if (issue.inclusive === false) return side === 'least' ? `must be more than ${value}` : `must be less than ${value}`;
  return `must be at ${side} ${value}`;
}

export function plainMessage(issue: Issue): string | undefined {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return 'required';
      // A coerced value that was not a number (PORT=abc): what came in is gone, what is wanted is not.
      if (typeof issue.input === 'number' && Number.isNaN(issue.input)) return `must be ${EXPECTED[issue.expected] ?? issue.expected}`;
      return `must be ${EXPECTED[issue.expected] ?? issue.expected} (got ${kind(issue.input)})`;
    case 'too_small':
      return bound(issue, issue.minimum, 'least');
    case 'too_big':
      return bound(issue, issue.maximum, 'most');
    case 'invalid_format':
      if (issue.format === 'email') return 'must be an email address';
      if (issue.format === 'url') return 'must be a URL';
      if (issue.format === 'regex') return 'has characters or a form that is not allowed';
      return `must be a valid ${issue.format}`;
    case 'invalid_value':
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'unrecognized_keys':
      return `unknown field${issue.keys.length === 1 ? '' : 's'} ${issue.keys.join(', ')}`;
    case 'not_multiple_of':
      return `must be a multiple of ${String(issue.divisor)}`;
    default:
      return undefined;
  }
}

z.config({ customError: plainMessage });
