import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseEdgeConfig } from '@sightline/shared';
import { reidEnabled } from '../stages/post-stages.ts';
import { decodeThreshold } from './runtime-events.ts';

test('detections are decoded down to ByteTrack low threshold so its second association gets input', () => {
  const base = { streams: [{ source: 'a.mp4' }] };
  assert.equal(decodeThreshold(parseEdgeConfig(base)), 0.1);
  assert.equal(
    decodeThreshold(parseEdgeConfig({ ...base, tracker: { type: 'bytetrack', lowThreshold: 0.3 } })),
    0.3,
  );
  assert.equal(decodeThreshold(parseEdgeConfig({ ...base, detector: { confidence: 0.05 } })), 0.05);
});

test('DeepSORT decodes down to its minScore and turns re-ID on unless the config says otherwise', () => {
  const base = { streams: [{ source: 'a.mp4' }] };
  const ds = parseEdgeConfig({ ...base, tracker: { type: 'deepsort' } });
  assert.equal(decodeThreshold(ds), 0.3);
  assert.equal(reidEnabled(ds), true);
  assert.equal(reidEnabled(parseEdgeConfig(base)), false, 'ByteTrack uses no appearance');
  assert.equal(
    reidEnabled(parseEdgeConfig({ ...base, tracker: { type: 'deepsort' }, reid: { enabled: false } })),
    false,
  );
  assert.equal(
    reidEnabled(parseEdgeConfig({ ...base, reid: {} })),
    false,
    'a reid section with ByteTrack loads nothing: ByteTrack would never use the embeddings',
  );
});

test('bad tracker and re-ID settings name every bad field', () => {
  const base = { streams: [{ source: 'a.mp4' }] };
  assert.throws(
    () =>
      parseEdgeConfig({
        ...base,
        tracker: { type: 'deepsort', budget: 0, maxCosineDistance: 'far', gallery: 3 },
        reid: { model: '', batchSize: 1000, classes: [] },
      }),
    (err: Error) => {
      const text = err.message;
      for (const field of [
        'tracker.budget',
        'tracker.maxCosineDistance',
        'tracker.gallery',
        'reid.model',
        'reid.batchSize',
        'reid.classes',
      ]) {
        assert.ok(text.includes(field), `${field} in:\n${text}`);
      }
      return true;
    },
  );
  assert.throws(() => parseEdgeConfig({ ...base, tracker: { type: 'sort' } }), /tracker/);
});
