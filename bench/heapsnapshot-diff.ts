/**
 * What the connections added between two heap snapshots (from `npm run bench:idle --
 * --heap-snapshots DIR`): objects grouped by constructor / type, the difference in count and
 * in self size, divided by the number of connections opened between the snapshots.
 *
 *   node dist/bench/heapsnapshot-diff.js BEFORE.heapsnapshot AFTER.heapsnapshot --per 5000 [--top 40]
 */
import { readFileSync } from 'node:fs';
import { fmt, intFlag, parseArgs, table } from './common.js';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

const paths = process.argv.slice(2, 4);
const flags = parseArgs(
  process.argv.slice(4),
  {
    per: { default: '1', help: 'divide the differences by this (the connections opened between the snapshots)' },
    top: { default: '40', help: 'rows' },
  },
  'usage: node dist/bench/heapsnapshot-diff.js BEFORE AFTER [flags]',
);
if (paths.length !== 2 || paths.some((p) => p.startsWith('--'))) throw new Error('give two .heapsnapshot files: before and after');
const per = intFlag(flags, 'per', 1, 10_000_000);
const top = intFlag(flags, 'top', 1, 10_000);

function groups(path: string): Map<string, { count: number; size: number }> {
  const snap = JSON.parse(readFileSync(path, 'utf8')) as Snapshot;
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const out = new Map<string, { count: number; size: number }>();
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + typeAt]!] ?? '?';
    let name = snap.strings[snap.nodes[i + nameAt]!] ?? '?';
    // Strings and numbers are grouped by type only; their contents are not a class.
    if (type === 'string' || type === 'concatenated string' || type === 'sliced string' || type === 'number' || type === 'hidden') name = '';
    if (name.length > 60) name = `${name.slice(0, 57)}...`;
    const key = `${type}${name ? ` ${name}` : ''}`;
    const g = out.get(key) ?? { count: 0, size: 0 };
    g.count += 1;
    g.size += snap.nodes[i + sizeAt]!;
    out.set(key, g);
  }
  return out;
}

const before = groups(paths[0]!);
const after = groups(paths[1]!);
const rows: { key: string; count: number; size: number }[] = [];
for (const [key, a] of after) {
  const b = before.get(key) ?? { count: 0, size: 0 };
  rows.push({ key, count: a.count - b.count, size: a.size - b.size });
}
rows.sort((x, y) => y.size - x.size);
const total = rows.reduce((s, r) => s + r.size, 0);
process.stdout.write(
  `${table(
    ['bytes per connection', 'objects per connection', 'type / constructor'],
    rows.slice(0, top).map((r) => [fmt(r.size / per, 1), fmt(r.count / per, 2), r.key]),
  )}\n\ntotal: ${fmt(total / per, 1)} bytes per connection (self sizes; V8 heap only)\n`,
);
