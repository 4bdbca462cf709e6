import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AVERROR_HTTP_NOT_FOUND, AVERROR_HTTP_UNAUTHORIZED, AVERROR_INVALIDDATA } from 'node-av/constants';
import { classifyOpenError } from './ffmpeg-errors.ts';

test('maps FFmpeg open errors to stable codes with the input named', () => {
  assert.deepEqual(
    classifyOpenError(-2, 'Failed to open input: No such file or directory', '/x.mp4', false),
    {
      code: 'SOURCE_INVALID',
      message: 'No such file: /x.mp4',
    },
  );
  assert.equal(classifyOpenError(-21, 'Is a directory', '/tmp', false).code, 'SOURCE_INVALID');
  const bad = classifyOpenError(
    AVERROR_INVALIDDATA,
    'Failed to open input: Invalid data found when processing input',
    '/t.mp4',
    false,
  );
  assert.equal(bad.code, 'SOURCE_INVALID');
  assert.match(bad.message, /^\/t\.mp4 is not a media file FFmpeg can read \(Invalid data found/);
  assert.equal(classifyOpenError(-111, 'Connection refused', 'rtsp://h/s', true).code, 'SOURCE_UNREACHABLE');
  assert.equal(
    classifyOpenError(-110, 'Connection timed out', 'rtsp://h/s', true).code,
    'SOURCE_UNREACHABLE',
  );
  assert.equal(
    classifyOpenError(AVERROR_HTTP_NOT_FOUND, 'Server returned 404 Not Found', 'http://h/v', true).code,
    'SOURCE_INVALID',
  );
  // Text from the ffmpeg CLI (no numeric code) is classified too.
  assert.equal(
    classifyOpenError(undefined, 'Connection refused', 'rtsp://h/s', true).code,
    'SOURCE_UNREACHABLE',
  );
  assert.equal(
    classifyOpenError(undefined, 'Invalid data found when processing input', '/t.mp4', false).code,
    'SOURCE_INVALID',
  );
});

test('RTSP: refused credentials get their own message, never the password', () => {
  const withUser = classifyOpenError(
    AVERROR_HTTP_UNAUTHORIZED,
    'Failed to open input: Server returned 401 Unauthorized (authorization failed)',
    'rtsp://admin:***@cam/s',
    true,
    true,
  );
  assert.deepEqual(withUser, {
    code: 'SOURCE_INVALID',
    message: 'rtsp://admin:***@cam/s: the RTSP server refused the user name or password (401 Unauthorized)',
  });
  // The ffmpeg CLI's text, which quotes the input with its password.
  const cli = classifyOpenError(
    undefined,
    'rtsp://admin:hunter2@cam/s: Server returned 401 Unauthorized (authorization failed)',
    'rtsp://cam/s',
    true,
    true,
  );
  assert.match(cli.message, /wants a user name and password/);
  const other = classifyOpenError(
    undefined,
    'cannot open rtsp://admin:hunter2@cam/s',
    'rtsp://admin:***@cam/s',
    true,
  );
  assert.ok(!other.message.includes('hunter2'), other.message);
});

test('RTSP: "Invalid data" is marked for diagnosis instead of "not a media file"', () => {
  const info = classifyOpenError(
    AVERROR_INVALIDDATA,
    'Failed to open input: Invalid data found when processing input',
    'rtsp://cam/s',
    true,
    true,
  );
  assert.equal(info.code, 'SOURCE_UNREACHABLE');
  assert.deepEqual(info.diagnose, { rtsp: true, detail: 'Invalid data found when processing input' });
  assert.doesNotMatch(info.message, /not a media file/);
});
