import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { planConfigChange, type SourcePolicy, StreamSource } from '@sightline/edge';
import { ConfigError, parseEdgeConfig, SightlineError, type SourceError } from '@sightline/shared';
import { media, waitFor, waitForState } from './helpers.ts';

/** Start a source under `policy` and return the error it fails with (or undefined once it runs). */
async function outcome(url: string, policy: SourcePolicy): Promise<SourceError | undefined> {
  const source = new StreamSource({ streamId: 's', url, policy, fit: { width: 64, height: 64 } });
  source.on('frame', () => source.release());
  const done = waitFor(
    source,
    'state',
    ((state: string, error?: SourceError) =>
      state === 'failed' ? { error } : state === 'running' ? { error: undefined } : undefined) as never,
    20_000,
    'failed or running',
  ) as Promise<{ error?: SourceError }>;
  source.on('error', () => {});
  source.start();
  try {
    return (await done).error;
  } finally {
    await source.close();
  }
}

/** The message with the source as given replaced by <source>: what is left must not depend on the file. */
function shape(error: SourceError | undefined, source: string): string {
  assert.ok(error, `${source} was opened`);
  return `${error.code}: ${error.message.replace(source, '<source>')}`;
}

describe('source policy: local roots', () => {
  let dir: string;
  let root: string;
  let outside: string;
  let policy: SourcePolicy;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'sightline-policy-'));
    root = join(dir, 'media');
    outside = join(dir, 'private');
    mkdirSync(root);
    mkdirSync(outside);
    writeFileSync(join(outside, 'secret.mp4'), 'not for the hub');
    symlinkSync(outside, join(root, 'escape')); // a folder link from inside the root to outside it
    symlinkSync(join(outside, 'secret.mp4'), join(root, 'secret-link.mp4'));
    symlinkSync(media('vtest_h264.mp4'), join(root, 'clip.mp4'));
    symlinkSync(dirname(media('vtest_h264.mp4')), join(root, 'samples'));
    policy = { schemes: ['file', 'rtsp'], localRoots: [root, dirname(media('vtest_h264.mp4'))] };
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('refuses a file outside the roots with SOURCE_REFUSED, the same message whether it exists or not', async () => {
    const exists = join(outside, 'secret.mp4');
    const missing = join(outside, 'nothing.mp4');
    const a = await outcome(exists, policy);
    const b = await outcome(missing, policy);
    assert.equal(a?.code, 'SOURCE_REFUSED');
    assert.equal(shape(a, exists), shape(b, missing));
    assert.match(a!.message, /only inside the folders of sources\.localRoots/);
    assert.doesNotMatch(a!.message, /No such file|not a media file|exist/i);
  });

  test('refuses file:// URLs to system files, existing or not, alike', async () => {
    const passwd = await outcome('file:///etc/passwd', policy);
    const nothing = await outcome('file:///etc/no-such-file-here', policy);
    assert.equal(passwd?.code, 'SOURCE_REFUSED');
    assert.equal(shape(passwd, 'file:///etc/passwd'), shape(nothing, 'file:///etc/no-such-file-here'));
    const dirUrl = await outcome('file:///etc/', policy);
    assert.equal(dirUrl?.code, 'SOURCE_REFUSED', 'a folder outside the roots is refused, not "a directory"');
  });

  test('refuses a .. escape from a root', async () => {
    const error = await outcome(join(root, '..', 'private', 'secret.mp4'), policy);
    assert.equal(error?.code, 'SOURCE_REFUSED');
    const relative = await outcome(`${root}/../../../../../../etc/passwd`, policy);
    assert.equal(relative?.code, 'SOURCE_REFUSED');
  });

  test('refuses symlink escapes (a linked folder or file), existing files and missing ones alike', async () => {
    const viaFolder = join(root, 'escape', 'secret.mp4');
    const missingViaFolder = join(root, 'escape', 'nothing.mp4');
    const viaFile = join(root, 'secret-link.mp4');
    const a = await outcome(viaFolder, policy);
    const b = await outcome(missingViaFolder, policy);
    const c = await outcome(viaFile, policy);
    assert.equal(a?.code, 'SOURCE_REFUSED');
    assert.equal(shape(a, viaFolder), shape(b, missingViaFolder));
    assert.equal(shape(a, viaFolder), shape(c, viaFile));
  });

  test('opens files inside a root: directly, through a link that stays inside, or as file://', async () => {
    assert.equal(await outcome(media('vtest_h264.mp4'), policy), undefined);
    assert.equal(
      await outcome(join(root, 'clip.mp4'), policy),
      undefined,
      'a link to a file in another root',
    );
    assert.equal(await outcome(join(root, 'samples', 'vtest_h264.mp4'), policy), undefined);
    assert.equal(await outcome(pathToFileURL(media('vtest_h264.mp4')).href, policy), undefined);
  });

  test('a missing file inside a root is "No such file" (SOURCE_INVALID), as without a policy', async () => {
    const missing = join(root, 'nothing.mp4');
    const error = await outcome(missing, policy);
    assert.equal(error?.code, 'SOURCE_INVALID');
    assert.equal(error?.message, `No such file: ${missing}`);
  });

  test('empty localRoots refuses every local file; no localRoots (operator sources) allows any', async () => {
    const none = await outcome(media('vtest_h264.mp4'), { schemes: ['file'], localRoots: [] });
    assert.equal(none?.code, 'SOURCE_REFUSED');
    const exists = join(outside, 'secret.mp4');
    const anyFile = await outcome(exists, { schemes: ['file'] });
    assert.equal(anyFile?.code, 'SOURCE_INVALID', 'opened, and found not to be media');
  });
});

describe('source policy: schemes', () => {
  test('refuses a scheme the policy leaves out, before any connection, without the password', async () => {
    const error = await outcome('rtsp://admin:hunter2@127.0.0.1:9/cam', { schemes: ['file'] });
    assert.equal(error?.code, 'SOURCE_REFUSED');
    assert.equal(
      error?.message,
      'Source rtsp://admin:***@127.0.0.1:9/cam refused: this edge does not open rtsp:// sources (sources.schemes: file)',
    );
  });

  test('refuses plain paths and file:// when "file" is left out', async () => {
    for (const url of [media('vtest_h264.mp4'), pathToFileURL(media('vtest_h264.mp4')).href]) {
      const error = await outcome(url, { schemes: ['rtsp', 'rtsps'] });
      assert.equal(error?.code, 'SOURCE_REFUSED');
      assert.match(error!.message, /does not open local files/);
    }
  });

  test('an unknown scheme stays SOURCE_INVALID (the parser names the schemes it knows)', async () => {
    const error = await outcome('ftp://h/v.mp4', { schemes: ['file'] });
    assert.equal(error?.code, 'SOURCE_INVALID');
  });

  test('a running file source is unaffected by a policy that allows it', async () => {
    const source = new StreamSource({
      streamId: 's',
      url: media('vtest_h264.mp4'),
      policy: { schemes: ['file'], localRoots: [dirname(media('vtest_h264.mp4'))] },
      fit: { width: 64, height: 64 },
    });
    source.on('frame', () => source.release());
    try {
      source.start();
      await waitForState(source, 'running', 20_000);
    } finally {
      await source.close();
    }
  });
});

describe('source policy config (sources)', () => {
  const base = { streams: [{ source: 'a.mp4' }] };

  test('defaults: every scheme, localRoots unset (the media folder)', () => {
    const config = parseEdgeConfig({ ...base, sources: {} });
    assert.deepEqual(config.sources, { schemes: ['file', 'rtsp', 'rtsps', 'http', 'https', 'whip'] });
    assert.equal(parseEdgeConfig(base).sources, undefined);
  });

  test('a malformed policy is a ConfigError naming each bad field', () => {
    const bad: [unknown, RegExp][] = [
      [{ schemes: ['ftp'] }, /sources\.schemes\.0: .*"file"/],
      [{ schemes: [] }, /sources\.schemes: at least one scheme/],
      [{ schemes: 'rtsp' }, /sources\.schemes: .*array/],
      [{ localRoots: '/media' }, /sources\.localRoots: .*array/],
      [{ localRoots: [''] }, /sources\.localRoots\.0: /],
      [{ roots: ['/media'] }, /sources\.roots: unknown field/],
      ['file', /sources: .*object/],
    ];
    for (const [sources, pattern] of bad) {
      assert.throws(
        () => parseEdgeConfig({ ...base, sources }),
        (err: unknown) => err instanceof ConfigError && pattern.test(err.message),
        JSON.stringify(sources),
      );
    }
  });

  test('the hub cannot widen the policy live: a sources patch needs a restart', () => {
    const config = parseEdgeConfig({ ...base, sources: { localRoots: ['/srv/media'] } });
    assert.throws(
      () => planConfigChange(config, { sources: { localRoots: ['/'] } } as never),
      (err: unknown) => err instanceof SightlineError && err.code === 'CONFIG_RESTART_REQUIRED',
    );
  });
});
