import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hwErrorSummary } from './ffmpeg-source.ts';
import { autoDevices, decoderLabel, devicesFor, ffmpegHasHwDecoder } from './hwaccel.ts';

test('auto tries cuda then vaapi on Linux, videotoolbox on macOS, nothing elsewhere', () => {
  assert.deepEqual(autoDevices('linux'), ['cuda', 'vaapi']);
  assert.deepEqual(autoDevices('darwin'), ['videotoolbox']);
  assert.deepEqual(autoDevices('win32'), []);
  assert.deepEqual(devicesFor('auto', 'linux'), ['cuda', 'vaapi']);
  assert.deepEqual(devicesFor('none', 'linux'), []);
  assert.deepEqual(devicesFor('vaapi', 'darwin'), ['vaapi']);
});

test('decoder labels and the codecs the ffmpeg backend sends to a device', () => {
  assert.equal(decoderLabel('h264', undefined), 'h264 (software)');
  assert.equal(decoderLabel('hevc', 'cuda'), 'hevc (cuda)');
  assert.ok(ffmpegHasHwDecoder('cuda', 'h264'));
  assert.ok(ffmpegHasHwDecoder('vaapi', 'hevc'));
  assert.ok(!ffmpegHasHwDecoder('cuda', 'msmpeg4v3'));
  assert.ok(!ffmpegHasHwDecoder('cuda', 'av1')); // libdav1d, no hwaccel, in most system ffmpegs
});

test("ffmpeg's stderr about a device becomes one line", () => {
  const stderr = [
    '[AVHWDeviceContext @ 0x5608aef99980] Cannot load libcuda.so.1',
    '[AVHWDeviceContext @ 0x5608aef99980] Could not dynamically load CUDA',
    'Device creation failed: -1.',
    "Failed to set value 'cuda' for option 'init_hw_device': Operation not permitted",
    'Error parsing global options: Operation not permitted',
  ].join('\n');
  assert.equal(
    hwErrorSummary(stderr),
    "Cannot load libcuda.so.1; Could not dynamically load CUDA; Failed to set value 'cuda' for option 'init_hw_device': Operation not permitted",
  );
});
