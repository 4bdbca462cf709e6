/**
 * The sightline command's options as a user meets them: --help everywhere, usage errors without Node's hints,
 * hub data dirs (refused when missing for readers, created and said so for starters), --retention-days reaching the
 * hub, --json on the commands that print data, `config schema` / `config check`, and --log-level / --log-format.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { insertTrackPoints, openStore, storeSchema } from '@sightline/hub';
import { agedTrackPoint } from '@sightline/hub/testing';
import { parse as parseYaml } from 'yaml';
import { cliEnv, cliHarness, ROOT, watch } from './cli-harness.ts';
import { media, modelsDir } from './helpers.ts';

const { dir, start, run } = cliHarness('sightline-e2e-cli-options-');

interface LogRecord {
  level: number;
  time: number;
  msg: string;
  component?: string;
  [key: string]: unknown;
}

/** The JSON log records among stderr's lines. */
function records(stderr: string): LogRecord[] {
  return stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogRecord);
}

describe('help and usage errors (as processes)', () => {
  // Every command in the table is walked in-process (cli/src/help.test.ts); these are the exit codes for real.
  test('--help / -h print the usage on stdout and exit 0 (edge run, hub, models, hub token list)', async () => {
    const cases: [string[], RegExp][] = [
      [['edge', 'run', '--help'], /^Usage: sightline edge run /],
      [['hub', '--help'], /^Usage: sightline hub \[--port 8080\]/],
      [['models', '--help'], /^Usage: sightline models </],
      [['hub', 'token', 'list', '-h'], /^Usage: sightline hub token create /],
    ];
    const runs = await Promise.all(cases.map(([args]) => run(args)));
    runs.forEach((r, i) => {
      const [args, usage] = cases[i]!;
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stdout, usage);
      assert.equal(r.stderr, '', args.join(' '));
    });
  });

  test("usage errors exit 2 with a pointer to the help and none of Node's parseArgs hints", async () => {
    const cases: [string[], RegExp][] = [
      [
        ['hub', '--bogus'],
        /^sightline: Unknown option '--bogus'\nRun "sightline help hub" for the options\.\n$/,
      ],
      [['edge', 'run', '--source', 'x.mp4', '--frames', '-1'], /--frames needs a value/],
      [
        ['hub', '--retention-days', 'abc'],
        /--retention-days expects a number of days 0\.\.36500 .*, got "abc"/,
      ],
      [
        ['edge', 'run', '--source', 'x.mp4', '--log-level', 'loud'],
        /--log-level expects one of trace, .*got "loud"/,
      ],
    ];
    const runs = await Promise.all(cases.map(([args]) => run(args)));
    runs.forEach((r, i) => {
      const [args, message] = cases[i]!;
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.match(r.stderr, /Run "sightline help \w+[\w ]*" for the options/);
      assert.doesNotMatch(r.stderr, /To specify|Did you forget|place it at the end/);
      assert.equal(r.stdout, '');
    });
  });
});

describe('hub data dirs, hub token list --json and --retention-days', () => {
  test('token list / revoke refuse a missing data dir; token create and hub create one and say so; the retention reaches the hub', async () => {
    const missing = join(dir, 'typo');
    const list = await run(['hub', 'token', 'list', '--data-dir', missing]);
    assert.equal(list.code, 1, list.stderr);
    assert.ok(list.stderr.includes(`data dir ${missing} does not exist`), list.stderr);
    assert.ok(
      list.stderr.includes(`sightline hub token create --role admin --data-dir ${missing}`),
      list.stderr,
    );
    assert.equal(existsSync(missing), false, 'nothing was created');
    const revoke = await run(['hub', 'token', 'revoke', '0123456789abcdef', '--data-dir', missing]);
    assert.equal(revoke.code, 1, revoke.stderr);
    assert.ok(revoke.stderr.includes(`data dir ${missing} does not exist`), revoke.stderr);
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    const none = await run(['hub', 'token', 'list', '--data-dir', empty]);
    assert.equal(none.code, 1, none.stderr);
    assert.ok(none.stderr.includes(`${empty} holds no hub database`), none.stderr);
    assert.deepEqual(readdirSync(empty), []);

    const dataDir = join(dir, 'data');
    const created = await run(['hub', 'token', 'create', '--role', 'admin', '--data-dir', dataDir]);
    assert.equal(created.code, 0, created.stderr);
    assert.ok(created.stderr.includes(`created data dir ${dataDir}\n`), created.stderr);
    const listed = await run(['hub', 'token', 'list', '--json', '--data-dir', dataDir]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.doesNotMatch(listed.stderr, /created/);
    const { tokens } = JSON.parse(listed.stdout) as {
      tokens: { id: string; role: string; createdAt: string }[];
    };
    assert.equal(tokens.length, 1);
    assert.equal(tokens[0]!.role, 'admin');
    assert.match(tokens[0]!.id, /^[0-9a-f]{16}$/);
    assert.ok(!Number.isNaN(Date.parse(tokens[0]!.createdAt)));

    // Track points 10 days and 1 day old; the hub started with --retention-days 7 deletes the first at start.
    let store = await openStore({ dataDir });
    await insertTrackPoints(store, [agedTrackPoint(10, 1), agedTrackPoint(1, 2)]);
    await store.close();
    const hub = start([
      'hub',
      '--port',
      '0',
      '--data-dir',
      dataDir,
      '--retention-days',
      '7',
      '--log-level',
      'info',
    ]);
    const w = watch(hub);
    await w.until('listening line', () => /listening on http:\/\/\S+/.test(w.out.stdout));
    assert.match(w.out.stdout, /track points kept 7 days/);
    const deleted = () => records(w.out.stderr).find((r) => r.msg === 'retention: old track points deleted');
    await w.until('retention log line', () => deleted() !== undefined, 30_000);
    assert.equal(deleted()!.deleted, 1);
    assert.equal(deleted()!.retentionDays, 7);
    // --log-level info reached the hub (the environment says warn), and piped stderr gets JSON lines.
    assert.ok(records(w.out.stderr).some((r) => r.msg === 'hub listening' && r.level === 30));
    assert.doesNotMatch(w.out.stderr, /created/);
    hub.kill('SIGTERM');
    assert.equal(await w.exited, 0, w.out.stderr);
    store = await openStore({ dataDir });
    try {
      const left = await store.db.select().from(storeSchema.trackPoints);
      assert.deepEqual(
        left.map((p) => p.seq),
        [2],
      );
    } finally {
      await store.close();
    }

    // A hub on a new data dir creates it and says so; --retention-days 0 keeps track points forever.
    const fresh = join(dir, 'fresh');
    const second = start(['hub', '--port', '0', '--data-dir', fresh, '--retention-days', '0']);
    const w2 = watch(second);
    await w2.until('listening line', () => /listening on http:\/\/\S+/.test(w2.out.stdout));
    assert.match(w2.out.stdout, /track points kept forever/);
    assert.ok(w2.out.stderr.includes(`created data dir ${fresh}\n`), w2.out.stderr);
    second.kill('SIGTERM');
    assert.equal(await w2.exited, 0, w2.out.stderr);
  });
});

describe('--json on the models commands', () => {
  test('models verify --json and models fetch --json print one JSON document each', async () => {
    const [verify, fetched] = await Promise.all([
      run(['models', 'verify', 'yolox_nano', '--json']),
      run(['models', 'fetch', 'yolox_nano', '--json']),
    ]);
    assert.equal(verify.code, 0, verify.stderr);
    const v = JSON.parse(verify.stdout) as {
      results: { id: string; path: string; status: string }[];
      failures: number;
    };
    assert.equal(v.failures, 0);
    assert.deepEqual(
      v.results.map((r) => [r.id, r.status]),
      [['yolox_nano', 'verified']],
    );
    assert.equal(v.results[0]!.path, join(modelsDir(), 'yolox_nano.onnx'));
    assert.equal(fetched.code, 0, fetched.stderr);
    const f = JSON.parse(fetched.stdout) as { results: { id: string; action: string }[]; failures: number };
    assert.deepEqual(f, {
      results: [{ id: 'yolox_nano', path: join(modelsDir(), 'yolox_nano.onnx'), action: 'present' }],
      failures: 0,
    });
  });
});

/** A JSON Schema (the keywords z.toJSONSchema writes) checked against a value; returns the problems found. */
type Schema = Record<string, unknown>;
const ANNOTATIONS = new Set(['$schema', '$id', 'title', 'description', 'default', 'format', '$defs']);
const ASSERTIONS = new Set([
  'type',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'enum',
  'const',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'minLength',
  'maxLength',
  'minItems',
  'maxItems',
  'pattern',
  'oneOf',
  'anyOf',
  'allOf',
  '$ref',
]);

/** Every keyword of a schema and its subschemas (property names are not keywords). */
function keywords(schema: Schema, into = new Set<string>()): Set<string> {
  for (const [key, value] of Object.entries(schema)) {
    into.add(key);
    if (key === 'properties' || key === '$defs') {
      for (const sub of Object.values(value as Record<string, Schema>)) keywords(sub, into);
    } else if (key === 'items' || (key === 'additionalProperties' && typeof value === 'object')) {
      keywords(value as Schema, into);
    } else if (key === 'oneOf' || key === 'anyOf' || key === 'allOf') {
      for (const sub of value as Schema[]) keywords(sub, into);
    }
  }
  return into;
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

function validate(schema: Schema, value: unknown, root: Schema, path = '(root)'): string[] {
  if (typeof schema.$ref === 'string') {
    const target = schema.$ref
      .replace(/^#\//, '')
      .split('/')
      .reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], root) as Schema;
    return validate(target, value, root, path);
  }
  const problems: string[] = [];
  const fail = (what: string) => problems.push(`${path}: ${what}`);
  if (schema.type !== undefined) {
    const types = ([] as unknown[]).concat(schema.type);
    const actual = typeOf(value);
    const ok = types.some(
      (t) =>
        t === actual ||
        (t === 'integer' && Number.isInteger(value)) ||
        (t === 'number' && actual === 'number'),
    );
    if (!ok) return [`${path}: expected ${types.join('|')}, got ${actual}`];
  }
  if (schema.enum && !(schema.enum as unknown[]).includes(value))
    fail(`not one of ${JSON.stringify(schema.enum)}`);
  if ('const' in schema && schema.const !== value) fail(`not ${JSON.stringify(schema.const)}`);
  if (typeof value === 'number') {
    if (typeof schema.minimum === 'number' && value < schema.minimum) fail(`< ${schema.minimum}`);
    if (typeof schema.maximum === 'number' && value > schema.maximum) fail(`> ${schema.maximum}`);
    if (typeof schema.exclusiveMinimum === 'number' && value <= schema.exclusiveMinimum) fail('too small');
    if (typeof schema.exclusiveMaximum === 'number' && value >= schema.exclusiveMaximum) fail('too large');
  }
  if (typeof value === 'string') {
    if (typeof schema.minLength === 'number' && value.length < schema.minLength) fail('too short');
    if (typeof schema.maxLength === 'number' && value.length > schema.maxLength) fail('too long');
    if (typeof schema.pattern === 'string' && !new RegExp(schema.pattern, 'u').test(value)) fail('pattern');
  }
  if (Array.isArray(value)) {
    if (typeof schema.minItems === 'number' && value.length < schema.minItems) fail('too few items');
    if (typeof schema.maxItems === 'number' && value.length > schema.maxItems) fail('too many items');
    if (schema.items) {
      value.forEach((v, i) => {
        problems.push(...validate(schema.items as Schema, v, root, `${path}.${i}`));
      });
    }
  }
  if (typeOf(value) === 'object') {
    const object = value as Record<string, unknown>;
    const properties = (schema.properties ?? {}) as Record<string, Schema>;
    for (const key of (schema.required ?? []) as string[]) if (!(key in object)) fail(`${key} is required`);
    for (const [key, v] of Object.entries(object)) {
      if (properties[key]) problems.push(...validate(properties[key], v, root, `${path}.${key}`));
      else if (schema.additionalProperties === false) fail(`${key}: unknown field`);
      else if (typeof schema.additionalProperties === 'object') {
        problems.push(...validate(schema.additionalProperties as Schema, v, root, `${path}.${key}`));
      }
    }
  }
  if (schema.allOf)
    for (const sub of schema.allOf as Schema[]) problems.push(...validate(sub, value, root, path));
  if (schema.anyOf && !(schema.anyOf as Schema[]).some((s) => validate(s, value, root, path).length === 0)) {
    fail('matches none of anyOf');
  }
  if (schema.oneOf) {
    const matching = (schema.oneOf as Schema[]).filter(
      (s) => validate(s, value, root, path).length === 0,
    ).length;
    if (matching !== 1) fail(`matches ${matching} of oneOf`);
  }
  return problems;
}

/** The edge config example of README.md's "Running an edge". */
function readmeConfig(): { text: string; value: Record<string, unknown> } {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Running an edge'));
  const m = /```yaml\n([\s\S]*?)```/.exec(section);
  assert.ok(m, 'README.md has a YAML config example under "Running an edge"');
  return { text: m[1]!, value: parseYaml(m[1]!) as Record<string, unknown> };
}

describe('sightline config schema / check', () => {
  test('config schema prints a JSON Schema that accepts the README example and rejects bad configs', async () => {
    const r = await run(['config', 'schema']);
    assert.equal(r.code, 0, r.stderr);
    const schema = JSON.parse(r.stdout) as Schema;
    assert.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
    assert.equal(schema.type, 'object');
    assert.equal(schema.additionalProperties, false);
    const properties = schema.properties as Record<string, Schema>;
    for (const key of ['edgeId', 'streams', 'detector', 'inference', 'tracker', 'sinks', 'hub', 'metrics']) {
      assert.ok(properties[key], `schema has ${key}`);
    }
    assert.deepEqual((properties.streams!.items as Schema).required, ['source']);
    // The checker below knows every keyword the schema uses, so it cannot silently skip one.
    const unknown = [...keywords(schema)].filter((k) => !ANNOTATIONS.has(k) && !ASSERTIONS.has(k));
    assert.deepEqual(unknown, []);

    const example = readmeConfig().value;
    assert.deepEqual(validate(schema, example, schema), []);
    assert.deepEqual(validate(schema, { streams: [{ source: 'a.mp4' }] }, schema), []);
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ ...example, colour: 'blue' }, /colour: unknown field/],
      [{ streams: [{ loop: true }] }, /streams\.0: source is required/],
      [{ ...example, inference: { providers: ['cpu', 'tpu'] } }, /inference\.providers\.1: not one of/],
      [{ ...example, inference: { sessions: 0 } }, /inference\.sessions: < 1/],
      [{ ...example, detector: { confidence: 1.5 } }, /detector\.confidence: > 1/],
      [{ ...example, tracker: { type: 'sort' } }, /tracker: matches 0 of oneOf/],
      [{ ...example, edgeId: 'has spaces' }, /edgeId: pattern/],
      [{ streams: 'a.mp4' }, /streams: expected array/],
    ];
    for (const [config, problem] of bad) {
      assert.match(validate(schema, config, schema).join('\n'), problem, JSON.stringify(config));
    }
  });

  test('config check: exit 0 with a summary for the README example, exit 1 naming the bad fields otherwise', async () => {
    const good = join(dir, 'edge.yaml');
    writeFileSync(good, readmeConfig().text);
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'streams: [{ source: a.mp4 }]\ninference: { sessions: 0 }\ncolour: blue\n');
    const typo = join(dir, 'typo.yaml');
    writeFileSync(typo, 'streams: [{ source: a.mp4 }]\ndetector: { classes: [persn, car] }\n');
    const [ok, json, wrong, misnamed] = await Promise.all([
      run(['config', 'check', good]),
      run(['config', 'check', good, '--json']),
      run(['config', 'check', bad]),
      run(['config', 'check', typo]),
    ]);
    assert.equal(misnamed.code, 1, misnamed.stderr);
    assert.match(
      misnamed.stderr,
      /detector\.classes\.0: "persn" is not a class label .*did you mean "person"\?/,
    );
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(
      ok.stdout,
      `${good}: valid edge config (2 stream(s); detector yolox_nano; tracker bytetrack; sinks jsonl, mot)\n`,
    );
    assert.equal(json.code, 0, json.stderr);
    const config = JSON.parse(json.stdout) as {
      edgeId: string;
      streams: { id: string }[];
      inference: { sessions: number };
    };
    assert.equal(config.edgeId, 'lobby');
    assert.deepEqual(
      config.streams.map((s) => s.id),
      ['cam1', 'door'],
    );
    assert.equal(config.inference.sessions, 2);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /inference\.sessions/);
    assert.match(wrong.stderr, /colour: unknown field/);
  });

  test('config check --json shows no secret: source passwords from variables and tokens are hidden', async () => {
    const file = join(dir, 'secret.yaml');
    const dollar = '$';
    writeFileSync(
      file,
      `streams: [{ id: cam, source: "rtsp://admin:${dollar}{CAM_PASS}@cam.local/s1" }]\n` +
        `whip: { port: 0, token: "${dollar}{WHIP_TOKEN}" }\n`,
    );
    const r = await run(
      ['config', 'check', file, '--json'],
      cliEnv({ CAM_PASS: 'pass-s3cret', WHIP_TOKEN: 'whip-t0ken-s3cret-value' }),
    );
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /s3cret/);
    const config = JSON.parse(r.stdout) as { streams: { source: string }[] };
    assert.equal(config.streams[0]!.source, 'rtsp://admin:***@cam.local/s1');
  });
});

describe('--log-level and --log-format on edge run', () => {
  test('--log-level debug beats SIGHTLINE_LOG_LEVEL=warn; piped stderr gets JSON lines, --log-format pretty readable ones', async () => {
    const args = ['edge', 'run', '--source', media('vtest_h264.mp4'), '--unpaced', '--frames', '5', '--json'];
    const [json, pretty] = await Promise.all([
      run([...args, '--log-level', 'debug']),
      run([...args, '--log-level=debug', '--log-format', 'pretty']),
    ]);
    assert.equal(json.code, 0, json.stderr);
    const logged = records(json.stderr);
    const config = logged.find((r) => r.msg === 'edge config');
    assert.ok(config, json.stderr);
    assert.equal(config.level, 20);
    assert.equal(config.component, 'cli');
    assert.ok(logged.some((r) => r.msg === 'stream state' && r.level === 30 && r.state === 'ended'));
    assert.ok(logged.every((r) => typeof r.time === 'number'));

    assert.equal(pretty.code, 0, pretty.stderr);
    const lines = pretty.stderr.split('\n').filter(Boolean);
    assert.ok(!lines.some((l) => l.startsWith('{')), 'no JSON lines');
    assert.ok(
      lines.some((l) => /^\d\d:\d\d:\d\d\.\d{3} DEBUG cli: edge config {2}config=\{/.test(l)),
      pretty.stderr,
    );
    assert.ok(
      lines.some((l) =>
        /^\d\d:\d\d:\d\d\.\d{3} INFO {2}edge: stream state {2}stream=cam1 state=ended$/.test(l),
      ),
      pretty.stderr,
    );
  });
});
