import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseEdgeConfig } from '@sightline/shared';
import { decodeThreshold } from './edge-runtime.ts';

test('detections are decoded down to ByteTrack low threshold so its second association gets input', () => {
  const base = { streams: [{ source: 'a.mp4' }] };
  assert.equal(decodeThreshold(parseEdgeConfig(base)), 0.1);
  assert.equal(
    decodeThreshold(parseEdgeConfig({ ...base, tracker: { type: 'bytetrack', lowThreshold: 0.3 } })),
    0.3,
  );
  assert.equal(decodeThreshold(parseEdgeConfig({ ...base, detector: { confidence: 0.05 } })), 0.05);
});
