import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, parseEdgeConfig, resolveStages } from './index.ts';

const base = { streams: [{ source: 'a.mp4' }] };
const issuesOf = (input: unknown): readonly string[] => {
  try {
    parseEdgeConfig(input);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
  return [];
};

test('a stream names its stages as a list or as "a -> b"; sections take their defaults', () => {
  const c = parseEdgeConfig({
    streams: [
      { source: 'a.mp4', stages: 'detect -> classify' },
      { source: 'b.mp4', stages: ['segment', 'detect'] },
      { source: 'c.mp4' },
    ],
    classify: { classes: ['car'] },
    segment: {},
  });
  assert.deepEqual(c.streams[0]!.stages, ['detect', 'classify']);
  assert.deepEqual(c.streams[1]!.stages, ['segment', 'detect']);
  assert.equal(c.streams[2]!.stages, undefined);
  assert.deepEqual(c.classify, {
    model: 'mobilenetv2_int8',
    on: 'crops',
    classes: ['car'],
    topK: 3,
    minScore: 0.05,
    minHeight: 32,
    every: 5,
    batchSize: 16,
    sessions: 1,
  });
  assert.deepEqual(c.segment, {
    model: 'deeplabv3_mnv2_pascal_257',
    every: 5,
    map: true,
    batchSize: 1,
    sessions: 1,
  });
});

test('bad stage lists are config errors naming the stream and why', () => {
  assert.deepEqual(
    issuesOf({ ...base, streams: [{ source: 'a.mp4', stages: 'classify -> detect' }], classify: {} }),
    ['streams.0.stages: "classify" must come after "detect" (it classifies the detections)'],
  );
  // A whole-frame classifier may come first.
  assert.deepEqual(
    issuesOf({ streams: [{ source: 'a.mp4', stages: 'classify -> detect' }], classify: { on: 'frame' } }),
    [],
  );
  assert.deepEqual(issuesOf({ streams: [{ source: 'a.mp4', stages: ['segment'] }], segment: {} }), [
    'streams.0.stages: every stream needs "detect" (the tracker follows its objects)',
  ]);
  assert.deepEqual(issuesOf({ streams: [{ source: 'a.mp4', stages: ['detect', 'detect'] }] }), [
    'streams.0.stages: "detect" is listed twice',
  ]);
  assert.deepEqual(
    issuesOf({ streams: [{ source: 'a.mp4', stages: ['detect', 'classify', 'segment', 'reid'] }] }),
    [
      'streams.0.stages: "classify" needs a classify section (classify: {} takes the defaults)',
      'streams.0.stages: "segment" needs a segment section (segment: {} takes the defaults)',
      'streams.0.stages: "reid" needs re-ID on (tracker: {type: deepsort}, reid not disabled)',
    ],
  );
  assert.match(
    issuesOf({ streams: [{ source: 'a.mp4', stages: 'detect -> sharpen' }] })[0]!,
    /^streams\.0\.stages\.1: /,
  );
  assert.match(issuesOf({ streams: [{ source: 'a.mp4', stages: [] }] })[0]!, /^streams\.0\.stages: /);
  assert.match(issuesOf({ streams: [{ source: 'a.mp4', stages: 7 }] })[0]!, /^streams\.0\.stages: /);
  assert.match(issuesOf({ ...base, classify: { on: 'pixels' } })[0]!, /^classify\.on: /);
  assert.match(issuesOf({ ...base, classify: { topK: 0 } })[0]!, /^classify\.topK: /);
  assert.match(issuesOf({ ...base, segment: { every: 0 } })[0]!, /^segment\.every: /);
  assert.deepEqual(issuesOf({ ...base, segment: { colour: true } }), ['segment.colour: unknown field']);
  assert.deepEqual(
    issuesOf({ streams: [{ source: 'a.mp4', stages: 'detect -> reid' }], tracker: { type: 'deepsort' } }),
    [],
  );
});

test('enhance: a stage that comes first, needs its section with a step on, and the node-av decoder', () => {
  const one = (stages: unknown, extra: Record<string, unknown> = {}) =>
    issuesOf({ streams: [{ source: 'a.mp4', stages }], ...extra });
  assert.deepEqual(one('enhance -> detect', { enhance: { denoise: true } }), []);
  assert.deepEqual(one('detect -> enhance', { enhance: { contrast: true } }), [
    'streams.0.stages: "enhance" must come first (it cleans the frame the others see)',
  ]);
  assert.deepEqual(one('enhance -> detect'), [
    'streams.0.stages: "enhance" needs an enhance section (e.g. enhance: {denoise: true})',
  ]);
  assert.deepEqual(issuesOf({ ...base, enhance: {} }), [
    'enhance: turn on at least one of denoise, whiteBalance, contrast',
  ]);
  assert.match(issuesOf({ ...base, enhance: { denoise: true, denoiseH: 0 } })[0]!, /^enhance\.denoiseH: /);
  assert.deepEqual(issuesOf({ ...base, enhance: { whiteBalance: true }, decoder: { backend: 'ffmpeg' } }), [
    'streams.0.stages: "enhance" runs in the node-av decoder; decoder.backend is ffmpeg',
  ]);
  // Without its own list a stream runs every configured stage, enhance first.
  const c = parseEdgeConfig({ ...base, enhance: { whiteBalance: true }, segment: {} });
  assert.deepEqual(resolveStages(c.streams[0]!.stages, { ...c, reid: false }), [
    'enhance',
    'detect',
    'segment',
  ]);
});
