import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FeatureGallery, l2Normalise } from './gallery.ts';

const unit = (...v: number[]) => l2Normalise(Float32Array.from(v));

test('the gallery keeps at most its budget, forgetting the oldest first', () => {
  const g = new FeatureGallery(3);
  const items = [unit(1, 0, 0), unit(0, 1, 0), unit(0, 0, 1), unit(1, 1, 0)];
  for (const v of items) g.add(v);
  assert.equal(g.size, 3);
  // The first (1,0,0) is gone: its nearest remaining neighbour is (1,1,0)/sqrt2.
  assert.ok(Math.abs(g.distance(unit(1, 0, 0)) - (1 - Math.SQRT1_2)) < 1e-6);
  assert.ok(g.distance(unit(0, 0, 1)) < 1e-6);
  g.add(unit(1, 0, 0));
  assert.ok(g.distance(unit(1, 0, 0)) < 1e-6, 'the newest replaces the oldest (0,1,0)');
  assert.ok(Math.abs(g.distance(unit(0, 1, 0)) - (1 - Math.SQRT1_2)) < 1e-6);
});

test('distance is the smallest cosine distance; mean is unit length; empty gallery is infinitely far', () => {
  const g = new FeatureGallery(10);
  assert.equal(g.distance(unit(1, 0)), Number.POSITIVE_INFINITY);
  assert.equal(g.mean(), undefined);
  g.add(unit(1, 0));
  g.add(unit(0, 1));
  assert.ok(Math.abs(g.distance(unit(-1, 0)) - 1) < 1e-6);
  const m = g.mean()!;
  assert.ok(Math.abs(m[0]! - Math.SQRT1_2) < 1e-6 && Math.abs(m[1]! - Math.SQRT1_2) < 1e-6);
});

test('bad input: a non-positive budget, embeddings of different lengths', () => {
  assert.throws(() => new FeatureGallery(0), /positive integer for budget/);
  const g = new FeatureGallery(2);
  g.add(unit(1, 0));
  assert.throws(() => g.add(unit(1, 0, 0)), /length 2 but received 3/);
});
