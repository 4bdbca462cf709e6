// The masks that the real yolov8-seg adapter makes, through the JSONL sink, decoded as COCO RLE.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { FrameResult } from '@sightline/shared';
import ort from 'onnxruntime-node';
import { createDetectionAdapter, type OutputMap } from '../adapters/adapter.ts';
import { loadImageBgr } from '../media/image.ts';
import { loadModel } from '../models/load.ts';
import { preprocessInto } from '../preprocess/preprocess.ts';
import { JsonlSink } from './jsonl-sink.ts';
import { decodeCocoRle, differences, rasterise } from './mask-fixtures.ts';

const media = process.env.SIGHTLINE_MEDIA_DIR ?? '';

test('yolov8n_seg_int8_320 masks on bus.jpg are written as COCO RLE of the frame that decode to the same pixels', async () => {
  const model = await loadModel('yolov8n_seg_int8_320', { verify: false });
  const session = await ort.InferenceSession.create(model.path, { intraOpNumThreads: 1 });
  const img = loadImageBgr(join(media, 'bus.jpg'));
  let detections: FrameResult['detections'];
  try {
    const [, c, h, w] = model.entry.input.shape as [number, number, number, number];
    const input = new Float32Array(c * h * w);
    const geometry = preprocessInto(img, model.entry.preprocess, { width: w, height: h }, input);
    const out = await session.run({
      [model.entry.input.name]: new ort.Tensor('float32', input, [1, c, h, w]),
    });
    const outputs: OutputMap = Object.fromEntries(
      Object.entries(out).map(([k, v]) => [k, { data: v.data as Float32Array, dims: v.dims }]),
    );
    detections = createDetectionAdapter(model.entry, model.labels).decode(outputs, 0, geometry, {
      confidence: 0.25,
      iou: 0.7,
    });
  } finally {
    await session.release();
  }
  assert.ok(detections.length >= 3, `${detections.length} detections`);
  const dir = await mkdtemp(join(tmpdir(), 'jsonl-seg-'));
  try {
    const path = join(dir, 'bus.jsonl');
    const sink = await JsonlSink.open(path);
    const result: FrameResult = {
      streamId: 'bus',
      seq: 0,
      pts: 0,
      width: img.width,
      height: img.height,
      capturedAt: 0,
      detections,
      tracks: [],
      timings: {},
    };
    sink.write(result);
    await sink.close();
    const line = JSON.parse((await readFile(path, 'utf8')).trim()) as {
      detections: { box: number[]; label: string; mask: { size: [number, number]; counts: number[] } }[];
    };
    assert.equal(line.detections.length, detections.length);
    line.detections.forEach((d, i) => {
      const wire = detections[i]!.mask;
      assert.ok(wire, `${d.label} has a mask`);
      assert.deepEqual(d.mask.size, [img.height, img.width]);
      const got = decodeCocoRle(d.mask);
      // Pixel for pixel what the wire mask covers in the frame.
      assert.deepEqual(differences(got, rasterise(wire, img.width, img.height)), [], d.label);
      // And it is the object: nearly all of it inside the detection's box (one 13.5 px cell of slack), filling
      // a good part of that box.
      const [x1, y1, x2, y2] = d.box as [number, number, number, number];
      let inside = 0;
      let total = 0;
      for (let y = 0; y < got.height; y++) {
        for (let x = 0; x < got.width; x++) {
          if (!got.data[y * got.width + x]) continue;
          total++;
          if (x + 0.5 >= x1 - 14 && x + 0.5 <= x2 + 14 && y + 0.5 >= y1 - 14 && y + 0.5 <= y2 + 14) inside++;
        }
      }
      assert.equal(inside, total, `${d.label}: mask pixels outside its box`);
      const fill = total / ((x2 - x1) * (y2 - y1));
      assert.ok(fill >= 0.2 && fill <= 0.8, `${d.label} mask fills ${(fill * 100).toFixed(0)} % of its box`);
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
