import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AVERROR_HTTP_NOT_FOUND, AVERROR_INVALIDDATA } from 'node-av/constants';
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
