// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings hold the config files' literal ${NAME} syntax
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadEdgeConfig } from './config.ts';
import { ConfigError } from './errors.ts';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'config-env-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

let n = 0;
/** Write `text` to a fresh config file (YAML unless `ext` says otherwise) and load it with `env`. */
async function load(text: string, env: Record<string, string | undefined>, ext = 'yaml') {
  const path = join(dir, `edge-${n++}.${ext}`);
  await writeFile(path, text);
  return loadEdgeConfig(path, env);
}

/** The ConfigError that loading rejects with. */
async function failure(text: string, env: Record<string, string | undefined>): Promise<ConfigError> {
  try {
    await load(text, env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err;
  }
  assert.fail('expected a ConfigError');
}

const TOKEN = `slt_0123456789abcdef_${'A'.repeat(43)}`;

describe('config files: ${NAME} substitution', () => {
  test('${NAME} is replaced by the variable in string values, several per string, in YAML and JSON', async () => {
    const env = { CAM_USER: 'admin', CAM_PASS: 'p4ss;w0rd!', CAM_HOST: '10.0.0.5', EDGE_TOKEN: TOKEN };
    const config = await load(
      [
        'streams:',
        '  - source: rtsp://${CAM_USER}:${CAM_PASS}@${CAM_HOST}:554/stream1',
        'hub: { url: "http://hub:8080", token: "${EDGE_TOKEN}" }',
      ].join('\n'),
      env,
    );
    assert.equal(config.streams[0]!.source, 'rtsp://admin:p4ss;w0rd!@10.0.0.5:554/stream1');
    assert.equal(config.hub?.token, TOKEN);
    const json = await load(
      JSON.stringify({ streams: [{ source: 'rtsp://admin:${CAM_PASS}@cam/1' }] }),
      env,
      'json',
    );
    assert.equal(json.streams[0]!.source, 'rtsp://admin:p4ss;w0rd!@cam/1');
  });

  test('values with YAML-special characters cannot change the document (substitution is after parsing)', async () => {
    const value = 'x\nstreams: []\n- "quoted" # not a comment: {a: [1]} ${NOT_AGAIN}';
    const config = await load('streams: [{ source: ./a.mp4 }]\ndetector: { model: "${MODEL}" }\n', {
      MODEL: value,
    });
    assert.equal(config.detector.model, value, 'the value as is, not parsed and not substituted again');
    assert.equal(config.streams.length, 1);
    // Keys are not substituted (and a key that is not a plain name is quoted in the issue).
    const err = await failure('streams: [{ source: a.mp4 }]\n"${KEY}": 1\n', { KEY: 'edgeId' });
    assert.deepEqual(err.issues, ['"${KEY}": unknown field']);
  });

  test('${NAME:-default} takes the default when the variable is unset or empty', async () => {
    const text = 'streams:\n  - source: rtsp://${CAM_HOST:-camera.local}/s\n    id: ${CAM_ID:-}door\n';
    const unset = await load(text, {});
    assert.equal(unset.streams[0]!.source, 'rtsp://camera.local/s');
    assert.equal(unset.streams[0]!.id, 'door');
    const empty = await load(text, { CAM_HOST: '', CAM_ID: '' });
    assert.equal(empty.streams[0]!.source, 'rtsp://camera.local/s');
    const set = await load(text, { CAM_HOST: '10.1.1.1', CAM_ID: 'front' });
    assert.equal(set.streams[0]!.source, 'rtsp://10.1.1.1/s');
    assert.equal(set.streams[0]!.id, 'frontdoor');
    // ${NAME} (no default) keeps an empty value as it is.
    const plain = await load('streams: [{ source: "./a${SUFFIX}.mp4" }]', { SUFFIX: '' });
    assert.equal(plain.streams[0]!.source, './a.mp4');
  });

  test('$${ is a literal ${; a lone $ or $$ is kept as written', async () => {
    const config = await load(
      'streams: [{ source: "./$${NOT_A_VAR}.mp4" }]\nsinks: [{ type: jsonl, path: "pa$$word-$5-$${X}${X}.jsonl" }]\n',
      { NOT_A_VAR: 'nope', X: 'x' },
    );
    assert.equal(config.streams[0]!.source, './${NOT_A_VAR}.mp4');
    assert.deepEqual(config.sinks[0], { type: 'jsonl', path: 'pa$$word-$5-${X}x.jsonl' });
  });

  test('a missing variable is an error naming the path and the variable, never a value', async () => {
    const env = { CAM_USER: 'admin-secret-user', OTHER: 'other-secret-value' };
    const err = await failure(
      [
        'streams:',
        '  - source: ./a.mp4',
        '  - source: rtsp://${CAM_USER}:${CAM_PASS}@cam/1',
        'hub: { url: "http://hub:8080", token: "${EDGE_TOKEN}" }',
        'detector: { model: "${OTHER}" }',
      ].join('\n'),
      env,
    );
    assert.equal(err.code, 'CONFIG_INVALID');
    assert.deepEqual(err.issues, [
      'streams.1.source: environment variable CAM_PASS is not set (give it a default with ${CAM_PASS:-default})',
      'hub.token: environment variable EDGE_TOKEN is not set (give it a default with ${EDGE_TOKEN:-default})',
    ]);
    assert.match(err.message, /^Invalid config file .*edge-\d+\.yaml\n/);
    for (const v of Object.values(env)) assert.ok(!err.message.includes(v), `no ${v} in ${err.message}`);
  });

  test('a malformed reference is an error naming the path', async () => {
    const err = await failure('streams: [{ source: "${1CAM}" }, { source: "./${UNCLOSED" }]', {});
    assert.equal(err.issues.length, 2);
    assert.match(err.issues[0]!, /^streams\.0\.source: "\$\{1CAM\}" is not a variable reference/);
    assert.match(err.issues[1]!, /^streams\.1\.source: "\$\{" without a closing "\}"/);
  });

  test('validation errors never show a value that came from a variable', async () => {
    const secret = 'hunter2@Zx/9';
    // A password with a raw "@" and "/": the URL's "credentials" would end early, and logs would show the rest.
    let err = await failure('streams: [{ source: "rtsp://admin:${CAM_PASS}@cam.local/1" }]', {
      CAM_PASS: secret,
    });
    assert.equal(err.issues.length, 1);
    assert.match(err.issues[0]!, /^streams\.0\.source: .*rtsp:\/\/admin:<from \$CAM_PASS>@cam\.local\/1/);
    assert.match(err.issues[0]!, /percent-encode/);
    assert.ok(!err.message.includes('hunter2') && !err.message.includes('Zx/9'), err.message);
    // A whole URL from a variable that does not parse.
    err = await failure('streams: [{ source: "${CAM_URL}" }]', { CAM_URL: 'rtsp://admin:s3cret!@[cam' });
    assert.deepEqual(err.issues, [
      'streams.0.source: not a valid URL: <from $CAM_URL> (percent-encode reserved characters in user names and passwords)',
    ]);
    assert.ok(!err.message.includes('s3cret'), err.message);
    // The one schema message that echoes a value (a duplicate stream id) shows where the value came from.
    err = await failure('streams: [{ id: "${CAM_ID}", source: a.mp4 }, { id: "${CAM_ID}", source: b.mp4 }]', {
      CAM_ID: 'secret-cam-name',
    });
    assert.deepEqual(err.issues, ['streams.1.id: duplicate stream id "<from $CAM_ID>"']);
    // Tokens and the like: the field is named, the value is not.
    err = await failure(
      'streams: [{ source: a.mp4 }]\nhub: { url: "http://h:1", token: "${EDGE_TOKEN}" }\nwhip: { token: "${WHIP_TOKEN}" }',
      { EDGE_TOKEN: 'slt_not-a-real-token-value', WHIP_TOKEN: 'shorty' },
    );
    assert.deepEqual(
      err.issues.map((i) => i.split(':')[0]),
      ['hub.token', 'whip.token'],
    );
    assert.ok(!err.message.includes('not-a-real-token') && !err.message.includes('shorty'), err.message);
  });

  test('substituted values are strings: a number field needs a literal number', async () => {
    const err = await failure('streams: [{ source: a.mp4 }]\nmetrics: { port: "${PORT}" }', { PORT: '9100' });
    assert.match(err.issues.join('\n'), /^metrics\.port: .*expected number/);
    assert.ok(!err.message.includes('9100'));
  });
});
