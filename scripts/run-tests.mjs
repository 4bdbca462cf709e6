#!/usr/bin/env node
// Runs every *.test.ts with node's test runner under tsx.
// Tests read models and media from ../shared unless MODELS_DIR / SIGHTLINE_MEDIA_DIR / SIGHTLINE_MOT_DIR say otherwise.
//   node scripts/run-tests.mjs            all tests
//   node scripts/run-tests.mjs --unit     unit tests only (beside the code)
//   node scripts/run-tests.mjs FILTER...  files whose path contains any FILTER (test/faults only this way)
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const shared = resolve(root, '..', 'shared');
process.env.MODELS_DIR ??= join(shared, 'models');
process.env.SIGHTLINE_MEDIA_DIR ??= join(shared, 'media');
process.env.SIGHTLINE_MOT_DIR ??= join(shared, 'mot');
process.env.SIGHTLINE_LOG_LEVEL ??= 'warn';
process.env.SIGHTLINE_FROM_SOURCE ??= '1';

const args = process.argv.slice(2);
const unitOnly = args.includes('--unit');
const filters = args.filter((a) => !a.startsWith('--'));

function walk(dir, out = []) {
  if (!existsSync(dir)) return out;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === 'dist' || entry.name.startsWith('.')) continue;
    const p = join(dir, entry.name);
    if (entry.isDirectory()) walk(p, out);
    else if (entry.name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const dirs = unitOnly
  ? ['shared', 'edge', 'hub', 'worker', 'cli']
  : ['shared', 'edge', 'hub', 'worker', 'cli', 'test'];
let files = dirs.flatMap((d) => walk(join(root, d))).map((f) => relative(root, f));
if (filters.length) files = files.filter((f) => filters.some((x) => f.includes(x)));
// test/faults (npm run test:faults, which CI runs after this) only when named: real processes killed and links
// cut, minutes per scenario (docs/reliability.md).
else files = files.filter((f) => !f.startsWith(join('test', 'faults')));
files.sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
// The browser suites (hub + edge + chromium, timing-sensitive) run after the rest, one at a time: next to another
// suite on a 2-core box their edge falls behind and sends frames unannotated.
// The fault scenarios run one at a time too: each is a hub, an edge and a database under a timed fault, and their
// recovery times are figures the docs report.
const isBrowser = (f) => f.startsWith(join('test', 'browser'));
const isFault = (f) => f.startsWith(join('test', 'faults'));
// Each run of the fault suite starts a fresh report of its figures (scripts/faults-report.mjs prints it).
if (files.some(isFault)) rmSync(join(root, 'test', 'artifacts', 'faults-report.jsonl'), { force: true });
const phases = [
  { files: files.filter((f) => !isBrowser(f) && !isFault(f)), concurrency: 2 },
  { files: files.filter(isFault), concurrency: 1 },
  { files: files.filter(isBrowser), concurrency: 1 },
].filter((p) => p.files.length);
let status = 0;
for (const phase of phases) {
  const result = spawnSync(
    process.execPath,
    [
      '--conditions=sightline-source',
      '--import',
      'tsx',
      '--test',
      '--test-reporter=spec',
      `--test-concurrency=${phase.concurrency}`,
      ...phase.files,
    ],
    { cwd: root, stdio: 'inherit', env: process.env },
  );
  if (result.status !== 0) status = result.status ?? 1;
}
process.exit(status);
