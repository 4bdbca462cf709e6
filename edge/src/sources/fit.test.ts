import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fitInside } from './fit.ts';

test('fits inside the box preserving aspect ratio', () => {
  assert.deepEqual(fitInside({ width: 768, height: 576 }, { width: 416, height: 416 }), {
    width: 416,
    height: 312,
  });
  assert.deepEqual(fitInside({ width: 1920, height: 1080 }, { width: 640, height: 640 }), {
    width: 640,
    height: 360,
  });
  assert.deepEqual(fitInside({ width: 576, height: 768 }, { width: 416, height: 416 }), {
    width: 312,
    height: 416,
  });
});

test('never upscales and keeps full size without a box', () => {
  assert.deepEqual(fitInside({ width: 320, height: 240 }, { width: 416, height: 416 }), {
    width: 320,
    height: 240,
  });
  assert.deepEqual(fitInside({ width: 768, height: 576 }, undefined), { width: 768, height: 576 });
});

test('keeps at least one pixel per side', () => {
  assert.deepEqual(fitInside({ width: 4000, height: 10 }, { width: 100, height: 100 }), {
    width: 100,
    height: 1,
  });
});
