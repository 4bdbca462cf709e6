import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, type EdgeConfigInput, parseEdgeConfig, SightlineError } from '@sightline/shared';
import {
  checkConfigReferences,
  closestNames,
  configReferenceIssues,
  didYouMean,
  editDistance,
  loadConfigReferences,
  sourceSchemeIssues,
} from './config-check.ts';
import { coco80, loadManifest } from './models/index.ts';
import { planConfigChange } from './pipeline/config-change.ts';

function config(input: Partial<EdgeConfigInput>) {
  return parseEdgeConfig({ streams: [{ id: 'a', source: 'a.mp4' }], ...input });
}

describe('edit distance and suggestions', () => {
  test('editDistance counts insertions, deletions, substitutions and neighbour swaps, ignoring case', () => {
    assert.equal(editDistance('person', 'person'), 0);
    assert.equal(editDistance('persn', 'person'), 1, 'one deletion');
    assert.equal(editDistance('persson', 'person'), 1, 'one insertion');
    assert.equal(editDistance('parson', 'person'), 1, 'one substitution');
    assert.equal(editDistance('preson', 'person'), 1, 'one swap');
    assert.equal(editDistance('Person', 'person'), 0, 'case does not count');
    assert.equal(editDistance('', 'car'), 3);
    assert.equal(editDistance('kitten', 'sitting'), 3);
  });

  test('closestNames: the near names, nearest first; nothing for a name far from all', () => {
    assert.deepEqual(closestNames('persn', coco80), ['person']);
    assert.deepEqual(closestNames('cra', coco80), ['car']);
    assert.deepEqual(closestNames('bicylce', coco80), ['bicycle']);
    assert.deepEqual(closestNames('Person', coco80), ['person']);
    assert.deepEqual(closestNames('yolox_nan', ['yolox_nano', 'yolov8n_int8']), ['yolox_nano']);
    assert.deepEqual(closestNames('xyzzy', coco80), []);
    assert.deepEqual(
      closestNames('bat', ['cat', 'bat', 'hat', 'rat', 'mat'], 2),
      ['cat', 'hat'],
      'at most max',
    );
  });

  test('didYouMean phrases one or more suggestions, or nothing', () => {
    assert.equal(didYouMean('persn', coco80), 'did you mean "person"?');
    assert.equal(didYouMean('at', ['cat', 'hat']), 'did you mean "cat" or "hat"?');
    assert.equal(didYouMean('xyzzy', coco80), '');
  });
});

describe('checkConfigReferences', () => {
  test('a valid config has no issues (detector and re-ID classes, default and explicit models)', async () => {
    const manifest = await loadManifest();
    for (const c of [
      config({}),
      config({ detector: { classes: ['person', 'car'] } }),
      config({ tracker: { type: 'deepsort' }, reid: { model: 'osnet_x0_25_msmt17', classes: ['person'] } }),
      config({ detector: { model: 'yolov8n_int8', classes: ['dog'] } }),
    ]) {
      const refs = await loadConfigReferences(c, { manifest });
      assert.deepEqual(configReferenceIssues(c, refs), [], JSON.stringify(c.detector));
      checkConfigReferences(c, refs);
    }
  });

  test('a class typo in detector.classes names the field, the value and the closest label', async () => {
    const c = config({ detector: { classes: ['persn', 'car'] } });
    const refs = await loadConfigReferences(c);
    assert.equal(refs.detectorLabels?.[0], 'person');
    assert.throws(
      () => checkConfigReferences(c, refs),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.code, 'CONFIG_INVALID');
        assert.deepEqual(err.issues, [
          'detector.classes.0: "persn" is not a class label of detector model yolox_nano; did you mean "person"?',
        ]);
        return true;
      },
    );
  });

  test('every bad class is listed; one close to nothing lists the labels instead', async () => {
    const c = config({ detector: { classes: ['person', 'cra', 'xyzzy'] } });
    const issues = configReferenceIssues(c, await loadConfigReferences(c));
    assert.equal(issues.length, 2);
    assert.match(issues[0]!, /^detector\.classes\.1: "cra" .* did you mean "car"\?$/);
    assert.match(
      issues[1]!,
      /^detector\.classes\.2: "xyzzy" .*; known: person, bicycle, car, .*\(80 in all\)$/,
    );
  });

  test('reid.classes is checked against the detector labels; reid.model against the manifest', async () => {
    const c = config({
      tracker: { type: 'deepsort' },
      reid: { model: 'osnet_x0_25_msmt1', classes: ['persons'] },
    });
    const issues = configReferenceIssues(c, await loadConfigReferences(c));
    assert.deepEqual(issues, [
      'reid.model: "osnet_x0_25_msmt1" is not a model in the manifest; did you mean "osnet_x0_25_msmt17"?',
      'reid.classes.0: "persons" is not a class label of detector model yolox_nano; did you mean "person"?',
    ]);
    // A model of another task is ReidStage's to refuse (MODEL_INVALID, also before any stream starts).
    const wrongTask = config({ reid: { model: 'yolox_nano' } });
    assert.deepEqual(configReferenceIssues(wrongTask, await loadConfigReferences(wrongTask)), []);
  });

  test('classify and segment: models of their task, classify.classes against the detector labels', async () => {
    const c = config({
      classify: { model: 'mobilenetv2_int', classes: ['cars'] },
      segment: { model: 'yolov8n_seg_int8_320' },
    });
    assert.deepEqual(configReferenceIssues(c, await loadConfigReferences(c)), [
      'classify.model: "mobilenetv2_int" is not a model in the manifest; did you mean "mobilenetv2_int8"?',
      'segment.model: "yolov8n_seg_int8_320" is a segmentation model (adapter yolov8-seg); segment models: deeplabv3_mnv2_pascal_257',
      'classify.classes.0: "cars" is not a class label of detector model yolox_nano; did you mean "car"?',
    ]);
    const good = config({ classify: { classes: ['car'] }, segment: {} });
    assert.deepEqual(configReferenceIssues(good, await loadConfigReferences(good)), []);
  });

  test('detector.model: an unknown id suggests the closest detector; a non-detector model is refused', async () => {
    const c = config({ detector: { model: 'yolox_nan', classes: ['persn'] } });
    assert.deepEqual(configReferenceIssues(c, await loadConfigReferences(c)), [
      'detector.model: "yolox_nan" is not a model in the manifest; did you mean "yolox_nano"?',
    ]);
    const reid = config({ detector: { model: 'osnet_x0_25_msmt17' } });
    assert.match(
      configReferenceIssues(reid, await loadConfigReferences(reid))[0]!,
      /^detector\.model: "osnet_x0_25_msmt17" is a reid model, not a detector .*detectors: yolox_nano/,
    );
  });

  test('labels that cannot be read here are not guessed at: no class issue', async () => {
    const c = config({ detector: { classes: ['persn'] } });
    const refs = await loadConfigReferences(c);
    assert.deepEqual(configReferenceIssues(c, { manifest: refs.manifest }), []);
    // Labels of another model than the config's detector are not used either.
    assert.deepEqual(
      configReferenceIssues(c, { manifest: refs.manifest, detectorModel: 'other', detectorLabels: ['x'] }),
      [],
    );
  });
});

describe('planConfigChange with the references of the running edge', () => {
  test('a class typo is a ConfigError naming the field, before the restart check', async () => {
    const current = config({ detector: { classes: ['person'] } });
    const refs = await loadConfigReferences(current);
    assert.throws(
      () => planConfigChange(current, { detector: { classes: ['persn'] } }, refs),
      (err: unknown) =>
        err instanceof ConfigError &&
        /Invalid config patch\n {2}- detector\.classes\.0: "persn" .*did you mean "person"\?/.test(
          err.message,
        ),
    );
    // A valid classes change still needs a restart, as before.
    assert.throws(
      () => planConfigChange(current, { detector: { classes: ['car'] } }, refs),
      (err: unknown) => err instanceof SightlineError && err.code === 'CONFIG_RESTART_REQUIRED',
    );
    // An unknown model is a restart-only field like any other: CONFIG_RESTART_REQUIRED, as before.
    assert.throws(
      () => planConfigChange(current, { detector: { model: 'yolox_s' } }, refs),
      (err: unknown) => err instanceof SightlineError && err.code === 'CONFIG_RESTART_REQUIRED',
    );
    assert.deepEqual(planConfigChange(current, { detector: { confidence: 0.7 } }, refs).applied, [
      'detector.confidence',
    ]);
  });
});

describe('stream sources against sources.schemes', () => {
  test('names each stream whose scheme the policy leaves out, among the issues start() checks', async () => {
    const c = parseEdgeConfig({
      streams: [
        { id: 'a', source: 'a.mp4' },
        { id: 'b', source: 'RTSP://cam/s' },
        { id: 'c', source: 'file:///srv/c.mp4' },
      ],
      sources: { schemes: ['rtsps', 'https'] },
    });
    assert.deepEqual(sourceSchemeIssues(c), [
      'streams.0.source: a local file is not allowed by sources.schemes (rtsps, https)',
      'streams.1.source: rtsp:// is not allowed by sources.schemes (rtsps, https)',
      'streams.2.source: a local file is not allowed by sources.schemes (rtsps, https)',
    ]);
    const manifest = await loadManifest();
    assert.ok(configReferenceIssues(c, { manifest }).includes(sourceSchemeIssues(c)[1]!));
    assert.deepEqual(sourceSchemeIssues(config({})), [], 'no sources: every scheme');
    assert.deepEqual(sourceSchemeIssues(config({ sources: { schemes: ['file'] } })), []);
  });
});
