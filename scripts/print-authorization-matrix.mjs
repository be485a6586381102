#!/usr/bin/env node
// Prints the authorization matrix (test/security/authorization-matrix.ts, compiled by `npx tsc -b`)
// as the markdown docs/security.md holds between its authorization-matrix markers. With --write,
// puts it there. authorization.test.ts fails while the page and the table disagree.
import { readFile, writeFile } from 'node:fs/promises';

const root = new URL('..', import.meta.url);
let matrix;
try {
  matrix = await import(new URL('dist/test/security/authorization-matrix.js', root).href);
} catch (err) {
  console.error(`cannot load the compiled table (run \`npx tsc -b\` first): ${err.message}`);
  process.exit(1);
}
const rendered = matrix.renderMatrix();
if (!process.argv.includes('--write')) {
  process.stdout.write(`${rendered}\n`);
  process.exit(0);
}
const page = new URL('docs/security.md', root);
const text = await readFile(page, 'utf8');
const start = text.indexOf(matrix.MATRIX_START);
const end = text.indexOf(matrix.MATRIX_END);
if (start < 0 || end < start) {
  console.error(`docs/security.md needs the markers ${matrix.MATRIX_START} and ${matrix.MATRIX_END}, in that order`);
  process.exit(1);
}
await writeFile(page, `${text.slice(0, start + matrix.MATRIX_START.length)}\n${rendered}\n${text.slice(end)}`);
console.log('docs/security.md: authorization matrix updated');
