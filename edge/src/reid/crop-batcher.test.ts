import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ImageBuffer } from '../frame.ts';
import { CropBatcher } from './crop-batcher.ts';

/** A 1x1 crop whose single blue byte is `v`; the fake model's embedding is [v]. */
const crop = (v: number): ImageBuffer => ({ data: Uint8Array.of(v, 0, 0), width: 1, height: 1 });
const value = (e: Float32Array) => e[0];

function fakeModel() {
  const batches: number[][] = [];
  const gates: (() => void)[] = [];
  const run = (crops: ImageBuffer[]) => {
    batches.push(crops.map((c) => c.data[0]!));
    return new Promise<Float32Array[]>((resolve) => {
      gates.push(() => resolve(crops.map((c) => Float32Array.of(c.data[0]!))));
    });
  };
  return { run, batches, release: () => gates.shift()?.() };
}

test('an idle model gets crops at once; under load crops of many requests share one batch, in order', async () => {
  const model = fakeModel();
  const batcher = new CropBatcher(model.run, { maxBatch: 4 });
  const a = batcher.embed([crop(1), crop(2)]);
  assert.deepEqual(model.batches, [[1, 2]], 'sent without waiting');
  const b = batcher.embed([crop(3)]);
  const c = batcher.embed([crop(4), crop(5), crop(6), crop(7)]);
  assert.equal(batcher.queued, 5);
  model.release();
  assert.deepEqual((await a).map(value), [1, 2]);
  await Promise.resolve();
  assert.deepEqual(model.batches[1], [3, 4, 5, 6], 'b and the start of c together, up to maxBatch');
  model.release();
  assert.deepEqual((await b).map(value), [3]);
  await Promise.resolve();
  assert.deepEqual(model.batches[2], [7]);
  model.release();
  assert.deepEqual((await c).map(value), [4, 5, 6, 7], 'a request split over two calls comes back whole');
  assert.equal(batcher.calls, 3);
  assert.equal(batcher.crops, 7);
});

test('a failed call rejects every request it carried; later requests still run', async () => {
  let fail = true;
  const batcher = new CropBatcher(async (crops) => {
    if (fail) throw new Error('model crashed');
    return crops.map((c) => Float32Array.of(c.data[0]!));
  });
  await assert.rejects(batcher.embed([crop(1)]), /model crashed/);
  fail = false;
  assert.deepEqual((await batcher.embed([crop(2)])).map(value), [2]);
  assert.deepEqual(await batcher.embed([]), []);
});

test('a model returning the wrong number of embeddings is an error, not a misalignment', async () => {
  const batcher = new CropBatcher(async () => [Float32Array.of(1)]);
  await assert.rejects(batcher.embed([crop(1), crop(2)]), /Expected 2 embeddings but received 1/);
  assert.throws(() => new CropBatcher(async () => [], { maxBatch: 0 }), /positive integer for maxBatch/);
});
