import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, parseEdgeConfig, SightlineError } from '@sightline/shared';
import { planConfigChange } from './config-change.ts';

const current = parseEdgeConfig({
  edgeId: 'e1',
  streams: [
    { id: 'a', source: 'a.mp4' },
    { id: 'b', source: 'b.mp4' },
  ],
  detector: { confidence: 0.4, classes: ['person'] },
});

describe('planConfigChange', () => {
  test('merges a partial patch over the current config and lists the changed paths', () => {
    const plan = planConfigChange(current, {
      detector: { confidence: 0.6 },
      inference: { maxWaitMs: 10 },
      thumbnails: { enabled: false },
    });
    assert.deepEqual(plan.applied.sort(), [
      'detector.confidence',
      'inference.maxWaitMs',
      'thumbnails.enabled',
    ]);
    assert.equal(plan.config.detector.confidence, 0.6);
    assert.deepEqual(plan.config.detector.classes, ['person'], 'fields not in the patch stay');
    assert.equal(plan.config.detector.model, current.detector.model);
    assert.equal(plan.trackerChanged, false);
    assert.equal(current.detector.confidence, 0.4, 'the current config is not modified');
  });

  test('an empty or same-value patch changes nothing', () => {
    assert.deepEqual(planConfigChange(current, {}).applied, []);
    assert.deepEqual(planConfigChange(current, { detector: { confidence: 0.4 } }).applied, []);
  });

  test('tracker settings apply live; a tracker of another type needs a restart', () => {
    const plan = planConfigChange(current, { tracker: { maxAge: 5 } });
    assert.deepEqual(plan.applied, ['tracker.maxAge']);
    assert.equal(plan.trackerChanged, true);
    assert.equal(plan.config.tracker.type, 'bytetrack');
    assert.throws(
      () => planConfigChange(current, { tracker: { type: 'deepsort' } }),
      (err: unknown) =>
        err instanceof SightlineError &&
        err.code === 'CONFIG_RESTART_REQUIRED' &&
        /tracker\.type/.test(err.message),
    );
  });

  test('fields that need a restart reject the whole patch, listing them', () => {
    assert.throws(
      () =>
        planConfigChange(current, {
          detector: { model: 'yolox_s', confidence: 0.9 },
          decoder: { threads: 2 },
          inference: { providers: ['cuda'] },
          reid: { model: 'x' },
          hub: { url: 'http://hub:8080' },
          metrics: { port: 9464 },
        }),
      (err: unknown) => {
        assert.ok(err instanceof SightlineError);
        assert.equal(err.code, 'CONFIG_RESTART_REQUIRED');
        for (const f of [
          'detector.model',
          'decoder.threads',
          'inference.providers',
          'reid',
          'hub',
          'metrics',
        ]) {
          assert.ok(err.message.includes(`- ${f}`), `${f} listed in ${err.message}`);
        }
        assert.ok(!err.message.includes('detector.confidence'));
        return true;
      },
    );
  });

  test('wrong types, unknown fields and non-objects are ConfigErrors naming the field', () => {
    assert.throws(() => planConfigChange(current, { detector: { confidence: 2 } }), /detector\.confidence:/);
    assert.throws(
      () => planConfigChange(current, { inference: { maxWaitMs: 'soon' } } as never),
      /inference\.maxWaitMs:/,
    );
    assert.throws(() => planConfigChange(current, { nope: true } as never), /nope: unknown field/);
    assert.throws(
      () => planConfigChange(current, { thumbnails: { evry: 2 } } as never),
      /thumbnails\.evry: unknown field/,
    );
    assert.throws(() => planConfigChange(current, { streams: [] }), /streams: at least one stream/);
    for (const bad of [null, 3, 'x', [1]]) {
      assert.throws(() => planConfigChange(current, bad as never), ConfigError);
    }
  });

  test('streams diff by id; arrays replace', () => {
    const plan = planConfigChange(current, {
      streams: [
        { id: 'b', source: 'b.mp4', loop: true },
        { id: 'c', source: 'c.mp4' },
      ],
    });
    assert.deepEqual(plan.streams, { added: ['c'], removed: ['a'], restarted: ['b'] });
    assert.deepEqual(plan.applied, ['streams.a', 'streams.b', 'streams.c']);
    assert.throws(
      () =>
        planConfigChange(current, {
          streams: [
            { id: 'x', source: '1' },
            { id: 'x', source: '2' },
          ],
        }),
      /duplicate stream id "x"/,
    );
  });

  test('a config with every stream removed still takes patches', () => {
    const empty = { ...current, streams: [] };
    const plan = planConfigChange(empty, { detector: { confidence: 0.7 } });
    assert.deepEqual(plan.config.streams, []);
    assert.deepEqual(plan.applied, ['detector.confidence']);
  });
});
