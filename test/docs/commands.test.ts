/**
 * The commands the docs show are the commands the code has. Every `sightline ...` line in a shell block of README.md
 * and docs/*.md: its command path answers --help with exit 0, and every --flag the line uses is in that help. Every
 * `npm run <script>` / `npm test` names a script in package.json. Commands that run offline without side effects
 * (models list, models verify, config schema, --version) are run as written and must exit 0.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { modelsDir } from '../e2e/helpers.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'sightline.js');
const DOCS = ['README.md', ...readdirSync(join(ROOT, 'docs')).map((f) => join('docs', f))].filter((f) =>
  f.endsWith('.md'),
);
/** Run as written: offline, no side effects. */
const RUNNABLE = [/^models list\b/, /^models verify\b/, /^config schema\b/, /^--version$/];

interface Shown {
  file: string;
  line: number;
  args: string[];
}

/** The `sightline` lines of a document's shell code blocks, as argument lists (comments and env prefixes dropped). */
function sightlineLines(file: string): Shown[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const out: Shown[] = [];
  let inShell = false;
  text.split('\n').forEach((raw, i) => {
    const fence = /^\s*```(\w*)/.exec(raw);
    if (fence) {
      inShell = !inShell && ['sh', 'bash', 'shell', 'console', ''].includes(fence[1]!);
      return;
    }
    if (!inShell) return;
    const line = raw.replace(/\s#\s.*$/, '').trim();
    const m = /(?:^|\s)(?:npx |node bin\/)?sightline(?:\.js)? (.+)$/.exec(line);
    if (!m || line.startsWith('#')) return;
    const args = m[1]!.replace(/\\$/, '').trim().split(/\s+/);
    out.push({ file, line: i + 1, args });
  });
  return out;
}

function sightline(args: string[]) {
  return spawnSync(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, MODELS_DIR: modelsDir(), SIGHTLINE_FROM_SOURCE: '1', SIGHTLINE_LOG_LEVEL: 'warn' },
  });
}

/** The command path of a line: the leading words that are subcommands (not flags, values or placeholders). */
function commandPath(args: string[]): string[] {
  const words: string[] = [];
  const known: Record<string, string[]> = {
    edge: ['run'],
    hub: ['token'],
    token: ['create', 'list', 'revoke'],
    models: ['list', 'verify', 'fetch', 'prepare'],
    eval: ['mot'],
    config: ['schema', 'check'],
  };
  for (const a of args) {
    if (words.length === 0) {
      if (a.startsWith('-')) break;
      words.push(a);
      continue;
    }
    if ((known[words.at(-1)!] ?? []).includes(a)) words.push(a);
    else break;
  }
  return words;
}

const shown = DOCS.flatMap(sightlineLines);

describe('commands shown in the docs', () => {
  test('the docs show sightline commands', () => {
    assert.ok(shown.length >= 10, `found ${shown.length}`);
    assert.ok(shown.some((s) => s.file === 'README.md'));
  });

  const helpCache = new Map<string, ReturnType<typeof sightline>>();
  for (const s of shown) {
    const path = commandPath(s.args);
    test(`${s.file}:${s.line} sightline ${s.args.join(' ')}`, () => {
      const key = path.join(' ');
      if (!helpCache.has(key)) helpCache.set(key, sightline([...path, '--help']));
      const help = helpCache.get(key)!;
      assert.equal(help.status, 0, `sightline ${key} --help exits 0: ${help.stderr}`);
      for (const flag of s.args.filter((a) => /^--[a-z]/.test(a))) {
        const name = flag.split('=')[0]!;
        assert.ok(
          new RegExp(`${name}(?![\\w-])`).test(help.stdout),
          `${name} is in "sightline ${key} --help"`,
        );
      }
      const asWritten = s.args.join(' ');
      if (RUNNABLE.some((r) => r.test(asWritten))) {
        const r = sightline(s.args);
        assert.equal(r.status, 0, `sightline ${asWritten}: ${r.stderr}`);
      }
    });
  }

  test('every npm script the docs name exists', () => {
    const scripts = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts as Record<
      string,
      string
    >;
    const named = DOCS.flatMap((file) =>
      [...readFileSync(join(ROOT, file), 'utf8').matchAll(/\bnpm (?:run ([\w:-]+)|(test|start)\b)/g)].map(
        (m) => ({
          file,
          script: m[1] ?? m[2]!,
        }),
      ),
    );
    assert.ok(named.length > 5);
    for (const n of named) assert.ok(n.script in scripts, `${n.file}: npm run ${n.script}`);
  });
});
