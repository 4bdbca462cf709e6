import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SourceError } from '@sightline/shared';
import { parseSourceUrl, redactUrl } from './source-url.ts';

test('classifies paths, file://, rtsp(s):// and http(s)://', () => {
  assert.deepEqual(parseSourceUrl('media/a.mp4'), {
    kind: 'file',
    scheme: 'file',
    input: 'media/a.mp4',
    display: 'media/a.mp4',
    network: false,
  });
  assert.equal(parseSourceUrl('file:///tmp/a%20b.mp4').input, '/tmp/a b.mp4');
  assert.equal(parseSourceUrl('RTSP://cam.local:554/s').kind, 'rtsp');
  assert.equal(parseSourceUrl('rtsps://cam.local/s').kind, 'rtsp');
  assert.equal(parseSourceUrl('https://h/v.mp4').kind, 'http');
  assert.equal(parseSourceUrl('http://h/v.mp4').network, true);
});

test('redacts passwords for display', () => {
  assert.equal(redactUrl('rtsp://admin:hunter2@10.0.0.5/stream'), 'rtsp://admin:***@10.0.0.5/stream');
  assert.equal(
    parseSourceUrl('rtsp://admin:hunter2@10.0.0.5/stream').display,
    'rtsp://admin:***@10.0.0.5/stream',
  );
  assert.equal(redactUrl('/plain/path.mp4'), '/plain/path.mp4');
  // A raw @ in the password: the user info runs to the last @ of the authority, and all of the password goes.
  assert.equal(redactUrl('rtsp://admin:p@ss@word@cam/s?x=a@b'), 'rtsp://admin:***@cam/s?x=a@b');
  assert.equal(redactUrl('rtsp://cam/stream@2'), 'rtsp://cam/stream@2', 'an @ in the path is no user info');
});

test('rejects unsupported schemes and malformed URLs with SOURCE_INVALID naming the input', () => {
  for (const [url, pattern] of [
    ['ftp://h/v.mp4', /Unsupported URL scheme "ftp:" in ftp:\/\/h\/v\.mp4/],
    ['udp://1.2.3.4:5000', /Unsupported URL scheme "udp:"/],
    ['rtsp://[bad/stream', /Invalid URL rtsp:\/\/\[bad\/stream/],
    ['file://remotehost/x.mp4', /Invalid file URL file:\/\/remotehost\/x\.mp4/],
  ] as const) {
    assert.throws(
      () => parseSourceUrl(url),
      (err: unknown) => {
        assert.ok(err instanceof SourceError);
        assert.equal(err.code, 'SOURCE_INVALID');
        assert.match(err.message, pattern);
        return true;
      },
    );
  }
  assert.throws(() => parseSourceUrl(''), { name: 'TypeError', message: /non-empty string for url/ });
  assert.throws(() => parseSourceUrl(42 as never), {
    name: 'TypeError',
    message: /received 42 of type number/,
  });
});

test('whip://<id> opens the SDP file of the live WHIP session for id, and fails plainly without one', async () => {
  const { registerWhipInput } = await import('./whip-inputs.ts');
  assert.throws(
    () => parseSourceUrl('whip://cam-x'),
    (err: unknown) =>
      err instanceof SourceError &&
      err.code === 'SOURCE_INVALID' &&
      /No WHIP session publishes whip:\/\/cam-x/.test(err.message),
  );
  assert.throws(() => parseSourceUrl('whip://bad id'), /Invalid WHIP source/);
  const unregister = registerWhipInput('cam-x', '/tmp/cam-x.sdp');
  try {
    const p = parseSourceUrl('whip://cam-x');
    assert.equal(p.kind, 'whip');
    assert.equal(p.input, '/tmp/cam-x.sdp');
    assert.equal(p.display, 'whip://cam-x');
    assert.equal(p.network, true);
    assert.match(String(p.options?.protocol_whitelist), /rtp/);
  } finally {
    unregister();
  }
  assert.throws(() => parseSourceUrl('whip://cam-x'), /No WHIP session/);
});
