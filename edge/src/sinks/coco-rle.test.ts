import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Mask } from '@sightline/shared';
import { isWireMask, maskToCocoRle } from './coco-rle.ts';
import { bitmapOf, decodeCocoRle, differences, rasterise, wireMask } from './mask-fixtures.ts';

/** Encode, check the COCO invariants, decode with the independent decoder. */
function roundTrip(mask: Mask, width: number, height: number) {
  const rle = maskToCocoRle(mask, width, height);
  assert.deepEqual(rle.size, [height, width], 'size is [height, width]');
  assert.equal(
    rle.counts.reduce((a, b) => a + b, 0),
    width * height,
    'the runs cover the frame',
  );
  assert.ok(
    rle.counts.slice(1).every((c) => c > 0),
    `only the first run may be empty: ${rle.counts}`,
  );
  return decodeCocoRle(rle);
}

describe('maskToCocoRle', () => {
  test('a tiny mask: column-major runs starting with an empty outside run', () => {
    // Frame = box = grid, 3 x 2:  1 1 0 / 0 1 0. Row-major wire runs [0,2,2,1,1]; column-major 1 0 | 1 1 | 0 0.
    const mask = wireMask(
      [0, 0, 3, 2],
      [
        [1, 1, 0],
        [0, 1, 0],
      ],
    );
    assert.deepEqual(mask.counts, [0, 2, 2, 1, 1]);
    assert.deepEqual(maskToCocoRle(mask, 3, 2), { size: [2, 3], counts: [0, 1, 1, 2, 2] });
  });

  test('an L-shaped mask is placed in the frame at its box, cells upsampled to pixels', () => {
    // 3 x 4 grid of 10 x 10 px cells over [10, 20, 40, 60]: the left column and the bottom row.
    const mask = wireMask(
      [10, 20, 40, 60],
      [
        [1, 0, 0],
        [1, 0, 0],
        [1, 0, 0],
        [1, 1, 1],
      ],
    );
    const got = roundTrip(mask, 50, 70);
    const want = bitmapOf(50, 70, [
      [10, 20, 20, 60],
      [10, 50, 40, 60],
    ]);
    assert.deepEqual(differences(got, want), []);
  });

  test('a mask reaching past every frame edge is cut at the edges', () => {
    // 4 x 3 grid of 10 px cells over [-10, -10, 30, 20] in a 25 x 18 frame: the top row and the left column of
    // cells lie above / left of the frame, the last row and column reach past its bottom / right edge.
    const mask = wireMask(
      [-10, -10, 30, 20],
      [
        [0, 0, 0, 1],
        [0, 0, 0, 1],
        [1, 1, 1, 1],
      ],
    );
    const got = roundTrip(mask, 25, 18);
    const want = bitmapOf(25, 18, [
      [20, 0, 25, 10],
      [0, 10, 25, 18],
    ]);
    assert.deepEqual(differences(got, want), []);
    const rle = maskToCocoRle(mask, 25, 18);
    assert.equal(rle.counts.length % 2, 0, 'ends inside: the bottom-right pixel is set');
    assert.equal(rle.counts[0], 10, 'column 0 is outside for rows 0-9');
  });

  test('fractional boxes (as the adapter makes them) match a per-pixel rasterisation', () => {
    let seed = 7;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let n = 0; n < 300; n++) {
      const w = 1 + Math.floor(rand() * 9);
      const h = 1 + Math.floor(rand() * 9);
      const rows = Array.from({ length: h }, () => Array.from({ length: w }, () => (rand() < 0.5 ? 1 : 0)));
      const x1 = Math.round((rand() * 80 - 10) * 10) / 10;
      const y1 = Math.round((rand() * 60 - 10) * 10) / 10;
      const box: Mask['box'] = [
        x1,
        y1,
        x1 + Math.round((1 + rand() * 50) * 10) / 10,
        y1 + Math.round((1 + rand() * 50) * 10) / 10,
      ];
      const mask = wireMask(box, rows);
      const got = roundTrip(mask, 97, 71);
      assert.deepEqual(differences(got, rasterise(mask, 97, 71)), [], `mask ${JSON.stringify(mask)}`);
    }
  });

  test('empty, degenerate and off-frame masks give an all-outside frame; short runs read as outside', () => {
    const none = { size: [4, 5], counts: [20] };
    assert.deepEqual(maskToCocoRle({ box: [0, 0, 5, 4], w: 0, h: 0, counts: [0] }, 5, 4), none);
    assert.deepEqual(maskToCocoRle({ box: [3, 3, 3, 4], w: 1, h: 1, counts: [0, 1] }, 5, 4), none);
    assert.deepEqual(maskToCocoRle({ box: [10, 0, 20, 4], w: 1, h: 1, counts: [0, 1] }, 5, 4), none);
    assert.deepEqual(maskToCocoRle({ box: [0, 0, 5, 4], w: 5, h: 4, counts: [20] }, 5, 4), none);
    // Runs that stop early: the rest is outside. 2 x 2 grid, only the top-left cell given as inside.
    assert.deepEqual(maskToCocoRle({ box: [0, 0, 2, 2], w: 2, h: 2, counts: [0, 1] }, 2, 2), {
      size: [2, 2],
      counts: [0, 1, 3],
    });
  });

  test('isWireMask tells wire masks from COCO RLE and other values', () => {
    assert.equal(isWireMask(wireMask([0, 0, 1, 1], [[1]])), true);
    assert.equal(isWireMask({ size: [1, 1], counts: [0, 1] }), false);
    assert.equal(isWireMask(null), false);
    assert.equal(isWireMask([1, 2]), false);
  });
});
