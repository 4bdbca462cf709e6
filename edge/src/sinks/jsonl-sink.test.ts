import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ClosedError, SinkError } from '@sightline/shared';
import { createSink } from './create-sink.ts';
import { JsonlSink } from './jsonl-sink.ts';
import { bitmapOf, decodeCocoRle, differences, wireMask } from './mask-fixtures.ts';
import { frameResult, track } from './test-results.ts';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'jsonl-sink-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const readLines = async (path: string) =>
  (await readFile(path, 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
const isSinkError = (re: RegExp) => (e: unknown) =>
  e instanceof SinkError && e.code === 'SINK_FAILED' && re.test(e.message);

describe('JsonlSink', () => {
  test('round-trips FrameResults, one per line, embeddings as 4-decimal arrays', async () => {
    const path = join(dir, 'nested', 'deeper', 'out.jsonl');
    const sink = await createSink({ type: 'jsonl', path });
    const embedding = Float32Array.from([0.123456, -0.5, 1 / 3]);
    const results = [
      frameResult('cam1', 0, [track(1, 10, 20, { embedding })]),
      frameResult('cam2', 0, []),
      frameResult('cam1', 1, [track(1, 12, 20), track(2, 300, 40)]),
    ];
    for (const r of results) sink.write(r);
    await sink.flush();
    const lines = await readLines(path);
    assert.equal(lines.length, 3);
    assert.deepEqual(lines[0].tracks[0].embedding, [0.1235, -0.5, 0.3333]);
    delete lines[0].tracks[0].embedding;
    const { embedding: _dropped, ...plain } = results[0]!.tracks[0]!;
    assert.deepEqual(lines[0], { ...results[0], tracks: [plain] });
    assert.deepEqual(lines.slice(1), results.slice(1));
    await sink.close();
    await sink.close();
    assert.throws(() => sink.write(results[0]!), ClosedError);
  });

  test('omits embeddings when asked', async () => {
    const path = join(dir, 'omit.jsonl');
    const sink = await JsonlSink.open(path, { omitEmbeddings: true });
    sink.write(frameResult('cam1', 5, [track(3, 0, 0, { embedding: new Float32Array(512).fill(0.5) })]));
    await sink.close();
    const [line] = await readLines(path);
    assert.equal('embedding' in line.tracks[0], false);
    assert.equal(line.tracks[0].trackId, 3);
  });

  test('writes instance masks as COCO RLE over the whole frame (column-major), leaving the wire form alone', async () => {
    const path = join(dir, 'masks.jsonl');
    const sink = await JsonlSink.open(path);
    // An L (left column and bottom row of a 3 x 4 grid of 10 px cells) at [600, 400, 630, 440] in the 640 x 480
    // frame, and a mask whose right column and bottom row of cells lie past the frame's right and bottom edges.
    const mask = wireMask(
      [600, 400, 630, 440],
      [
        [1, 0, 0],
        [1, 0, 0],
        [1, 0, 0],
        [1, 1, 1],
      ],
    );
    const edge = wireMask(
      [620, 450, 650, 490],
      [
        [0, 1, 1],
        [0, 1, 0],
        [1, 1, 1],
        [1, 1, 1],
      ],
    );
    const result = frameResult('cam1', 0, [track(1, 600, 400, { mask }), track(2, 620, 450, { mask: edge })]);
    result.detections[0]!.mask = mask;
    const before = structuredClone(result);
    sink.write(result);
    await sink.close();
    assert.deepEqual(result, before, 'the result (and its wire masks) is not changed');
    const [line] = await readLines(path);
    assert.deepEqual(Object.keys(line.tracks[0].mask).sort(), ['counts', 'size']);
    assert.deepEqual(line.tracks[0].mask.size, [480, 640], '[height, width] of the frame');
    const want = bitmapOf(640, 480, [
      [600, 400, 610, 440],
      [600, 430, 630, 440],
    ]);
    assert.deepEqual(differences(decodeCocoRle(line.tracks[0].mask), want), []);
    assert.deepEqual(line.detections[0].mask, line.tracks[0].mask, 'detection masks too');
    assert.equal('mask' in line.detections[1], false);
    const cut = bitmapOf(640, 480, [
      [630, 450, 640, 470],
      [620, 470, 640, 480],
    ]);
    assert.deepEqual(differences(decodeCocoRle(line.tracks[1].mask), cut), []);
  });

  test('keeps every result of a burst larger than the stream buffer, in order', async () => {
    const path = join(dir, 'burst.jsonl');
    const sink = await JsonlSink.open(path);
    const n = 3000;
    for (let i = 0; i < n; i++)
      sink.write(frameResult('cam1', i, [track(1, i % 600, 10), track(2, 5, i % 400)]));
    await sink.close();
    const lines = await readLines(path);
    assert.equal(lines.length, n);
    assert.deepEqual(
      lines.map((l) => l.seq),
      Array.from({ length: n }, (_, i) => i),
    );
    assert.equal(sink.dropped, 0);
  });

  test('drops and counts results beyond maxPendingBytes while the disk is behind', async () => {
    const path = join(dir, 'drop.jsonl');
    const sink = await JsonlSink.open(path, { maxPendingBytes: 2000 });
    const n = 2000;
    for (let i = 0; i < n; i++) sink.write(frameResult('cam1', i, [track(1, 1, 1)]));
    await sink.close();
    const lines = await readLines(path);
    assert.ok(sink.dropped > 0, 'some results were dropped');
    assert.equal(lines.length + sink.dropped, n);
    const seqs = lines.map((l) => l.seq);
    assert.deepEqual(
      seqs,
      [...seqs].sort((a, b) => a - b),
      'what was kept is in order',
    );
  });

  test('a path under a regular file gives a SinkError naming the path', async () => {
    const file = join(dir, 'plain-file');
    await writeFile(file, 'x');
    await assert.rejects(
      JsonlSink.open(join(file, 'out.jsonl')),
      isSinkError(/plain-file.*out\.jsonl|Cannot create directory .*plain-file/),
    );
    await assert.rejects(
      createSink({ type: 'jsonl', path: '/proc/sightline-no-such/out.jsonl' }),
      isSinkError(/\/proc\/sightline-no-such/),
    );
    await assert.rejects(
      JsonlSink.open(dir),
      isSinkError(/Cannot open output file .*jsonl-sink-/),
      'a directory is not a file',
    );
  });

  test('a write failure (disk full) rejects flush and close with a SinkError naming the file', async () => {
    const sink = await JsonlSink.open('/dev/full');
    sink.write(frameResult('cam1', 0, []));
    await assert.rejects(sink.flush(), isSinkError(/Cannot write output file \/dev\/full: .*ENOSPC/));
    sink.write(frameResult('cam1', 1, []));
    assert.ok(sink.dropped >= 1);
    await assert.rejects(sink.close(), isSinkError(/\/dev\/full/));
  });

  test('createSink rejects an unknown type', async () => {
    await assert.rejects(
      createSink({ type: 'kafka' } as never),
      /Expected a sink type of jsonl, mot but received kafka/,
    );
  });
});
