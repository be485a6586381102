/**
 * Summarizes a V8 .cpuprofile (from `node --cpu-prof`, e.g. `npm run bench:fanout -- --cpu-prof DIR`):
 * self time by function and by file, and inclusive ("total") time of the functions that matter
 * most, so a profile can be read without a browser.
 *
 *   node dist/bench/cpuprofile-top.js DIR/switchboard-max-r1.cpuprofile [--top 30] [--filter dist/src]
 *
 * When the fan-out bench wrote `<name>.window.json` next to the profile, only the samples inside
 * the measured window count, and times are also given per delivered message.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fmt, intFlag, parseArgs, table } from './common.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const files = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && !(all[i - 1]?.startsWith('--') ?? false));
const flags = parseArgs(
  process.argv.slice(2).filter((a) => !files.includes(a)),
  {
    top: { default: '25', help: 'rows per table' },
    filter: { default: '', help: 'inclusive-time table: only functions whose file contains this' },
  },
  'usage: node dist/bench/cpuprofile-top.js FILE.cpuprofile [flags]',
);
const top = intFlag(flags, 'top', 1, 1000);
if (files.length === 0) throw new Error('give a .cpuprofile file');

for (const file of files) {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const windowFile = file.replace(/\.cpuprofile$/, '.window.json');
  const window = existsSync(windowFile) ? (JSON.parse(readFileSync(windowFile, 'utf8')) as { startUs: number; endUs: number; deliveries: number }) : null;
  const selfUs = new Map<number, number>();
  let t = profile.startTime;
  let totalUs = 0;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    t += delta;
    if (window && (t < window.startUs || t > window.endUs)) return;
    selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
    totalUs += delta;
  });

  const short = (url: string) => url.replace(/^file:\/\//, '').replace(/^.*\/node_modules\//, 'node_modules/').replace(/^.*\/dist\//, 'dist/');
  const label = (n: ProfileNode) => `${n.callFrame.functionName || '(anonymous)'} ${short(n.callFrame.url)}${n.callFrame.url ? `:${n.callFrame.lineNumber + 1}` : ''}`;

  const selfByFn = new Map<string, number>();
  const selfByFile = new Map<string, number>();
  const inclusive = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const n = byId.get(id)!;
    selfByFn.set(label(n), (selfByFn.get(label(n)) ?? 0) + us);
    const f = short(n.callFrame.url) || n.callFrame.functionName;
    selfByFile.set(f, (selfByFile.get(f) ?? 0) + us);
    // Inclusive: every distinct frame on the stack gets the sample once.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const l = label(byId.get(cur)!);
      if (seen.has(l)) continue;
      seen.add(l);
      inclusive.set(l, (inclusive.get(l) ?? 0) + us);
    }
  }
  const pct = (us: number) => `${fmt((us / totalUs) * 100, 1)}%`;
  const perMsg = (us: number) => (window && window.deliveries > 0 ? fmt((us * 1000) / window.deliveries) : 'n/a');
  const rows = (m: Map<string, number>, filter = '') =>
    [...m]
      .filter(([k]) => !filter || k.includes(filter))
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, us]) => [pct(us), fmt(us / 1000), perMsg(us), k]);
  const scope = window ? `measured window only (${fmt(window.deliveries)} deliveries)` : 'whole profile';
  process.stdout.write(`# ${file}\n${scope}: ${fmt(totalUs / 1000)} ms sampled, ${perMsg(totalUs)} ns per delivered message\n\n## self time by function\n`);
  process.stdout.write(`${table(['self', 'ms', 'ns/msg', 'function'], rows(selfByFn))}\n\n## self time by file\n`);
  process.stdout.write(`${table(['self', 'ms', 'ns/msg', 'file'], rows(selfByFile))}\n\n## inclusive time${flags.filter ? ` (${flags.filter})` : ''}\n`);
  process.stdout.write(`${table(['total', 'ms', 'ns/msg', 'function'], rows(inclusive, flags.filter))}\n\n`);
}
