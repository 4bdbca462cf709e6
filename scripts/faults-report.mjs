#!/usr/bin/env node
// Prints the fault suite's figures (test/artifacts/faults-report.jsonl, appended by `npm run test:faults`) as the
// Markdown table docs/reliability.md carries: one row per scenario and backend, summed over the seeds run.
//   node scripts/faults-report.mjs [report.jsonl]
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const file =
  process.argv[2] ?? join(resolve(import.meta.dirname, '..'), 'test', 'artifacts', 'faults-report.jsonl');
if (!existsSync(file)) {
  console.error(`no report at ${file}: run "npm run test:faults" first`);
  process.exit(1);
}
const rows = new Map();
for (const [i, line] of readFileSync(file, 'utf8').split('\n').entries()) {
  if (!line.trim()) continue;
  let r;
  try {
    r = JSON.parse(line);
  } catch {
    console.error(`${file}:${i + 1}: not JSON, skipped`);
    continue;
  }
  const key = `${r.scenario}|${r.backend}`;
  const row = rows.get(key) ?? {
    scenario: r.scenario,
    backend: r.backend,
    runs: 0,
    produced: 0,
    stored: 0,
    lost: 0,
    duplicated: 0,
    recovery: [],
  };
  row.runs++;
  row.produced += r.produced;
  row.stored += r.stored;
  row.lost += r.lost;
  row.duplicated += r.duplicated;
  if (typeof r.recoveryMs === 'number') row.recovery.push(r.recoveryMs);
  rows.set(key, row);
}
const s = (ms) => `${(ms / 1000).toFixed(1)} s`;
console.log(
  '| scenario | store | runs | points produced | stored | lost | duplicated | recovery (median, max) |',
);
console.log('|---|---|---|---|---|---|---|---|');
for (const r of rows.values()) {
  const rec = r.recovery.sort((a, b) => a - b);
  const median = rec.length ? rec[Math.floor((rec.length - 1) / 2)] : undefined;
  const recovery = median === undefined ? '—' : `${s(median)}, ${s(rec.at(-1))}`;
  console.log(
    `| ${r.scenario} | ${r.backend} | ${r.runs} | ${r.produced} | ${r.stored} | ${r.lost} | ${r.duplicated} | ${recovery} |`,
  );
}
