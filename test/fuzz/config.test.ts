/**
 * Fuzzing the edge config boundary (shared/src/config.ts): YAML text and parsed values, mutated from a valid seed
 * (corpus/edge-config.yaml) or arbitrary. Every outcome is a config or a ConfigError naming a field; never a
 * TypeError / RangeError from inside the loader, and never a value substituted from the environment in a message.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ConfigError, loadEdgeConfig, parseEdgeConfig } from '@sightline/shared';
import fc from 'fast-check';
import { parse as parseYaml } from 'yaml';
import { corpusText, mutatedText, mutatedValue, onlyRejects, onlyThrows, params, show } from './fuzz.ts';

const SEED_YAML = corpusText('edge-config.yaml');
const SEED = parseYaml(SEED_YAML) as Record<string, unknown>;
/** What CAM_PASS holds: a substituted secret, which no error message may show. */
const SECRET = 'Env-Secret-7f3a9c';
const ENV = { CAM_PASS: SECRET, X: 'x' };

/** A ConfigError that says what is wrong: each issue is `path: problem`, or the message names the file. */
function assertNamesAField(err: ConfigError, input: unknown): void {
  const where = `for ${show(input)}`;
  if (err.issues.length === 0) {
    assert.match(err.message, /^(Config file .* (is not valid|must hold)|Cannot read)/, where);
    return;
  }
  // `path: problem`; the path may hold any key text (an unknown key is named as written).
  for (const issue of err.issues) assert.match(issue, /^[\s\S]*: \S/, `issue "${issue}" ${where}`);
}

describe('fuzz: edge config', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sightline-fuzz-config-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('the seed corpus is a valid config', async () => {
    writeFileSync(join(dir, 'seed.yaml'), SEED_YAML);
    const config = await loadEdgeConfig(join(dir, 'seed.yaml'), ENV);
    assert.equal(config.streams[0]?.source, `rtsp://admin:${SECRET}@camera.local/stream1`);
  });

  test('mutated config values give a config or a ConfigError naming a field', () => {
    fc.assert(
      fc.property(mutatedValue(SEED, 4), (input) => {
        const out = onlyThrows(() => parseEdgeConfig(input), [ConfigError], input);
        if (out instanceof ConfigError) assertNamesAField(out, input);
      }),
      params(1000),
    );
  });

  test('arbitrary values give a ConfigError naming a field', () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), fc.anything()), (input) => {
        const out = onlyThrows(() => parseEdgeConfig(input), [ConfigError], input);
        if (out instanceof ConfigError) assertNamesAField(out, input);
      }),
      params(500),
    );
  });

  test('an unknown key that is empty is named visibly (it once read ": unknown field")', () => {
    const err = onlyThrows(() => parseEdgeConfig({ ...SEED, '': 1 }), [ConfigError], '');
    assert.ok(err instanceof ConfigError);
    assert.doesNotMatch(err.issues[0] ?? '', /^: /);
  });

  test('mutated YAML files give a config or a ConfigError, never showing a substituted secret', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof({ weight: 4, arbitrary: mutatedText(SEED_YAML, 6) }, fc.string({ unit: 'binary' })),
        fc.constantFrom('yaml', 'json'),
        async (text, ext) => {
          const path = join(dir, `c${n++}.${ext}`);
          writeFileSync(path, ext === 'json' ? text.replace(/^#.*$/gm, '') : text);
          const out = await onlyRejects(() => loadEdgeConfig(path, ENV), [ConfigError], text);
          if (out instanceof ConfigError) {
            assertNamesAField(out, text);
            assert.ok(!out.message.includes(SECRET), `the secret leaked: ${out.message}`);
          }
        },
      ),
      params(250),
    );
  });
});
