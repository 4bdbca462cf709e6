import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import {
  ClosedError,
  type InferRequest,
  type Inferred,
  OFFLOAD_FAILURES,
  type OffloadResult,
  OverflowConfig,
  TypedEmitter,
} from '@sightline/shared';
import type { DecodedFrame, ImageBuffer } from '../frame.ts';
import { type LoadedModel, loadModel } from '../models/load.ts';
import type { InferenceBackend, InferenceBackendEvents } from './backend.ts';
import { OverflowBackend, withOverflow } from './overflow-backend.ts';
import type { EmbedResult, InferResult } from './protocol.ts';
import { type OffloadTransport, RemoteBackend } from './remote-backend.ts';

let model: LoadedModel;
before(async () => {
  model = await loadModel('yolox_nano', { verify: false });
});

/** A hub link in memory: records requests, answers on demand. */
class FakeLink implements OffloadTransport {
  ready = true;
  accept = true;
  readonly sent: InferRequest[] = [];
  #answer?: (a: Inferred) => void;
  #readyChange?: (ready: boolean) => void;
  sendInfer(request: InferRequest): boolean {
    if (!this.accept) return false;
    this.sent.push(request);
    return true;
  }
  onInferred(listener: (a: Inferred) => void): void {
    this.#answer = listener;
  }
  onReadyChange(listener: (ready: boolean) => void): void {
    this.#readyChange = listener;
  }
  answer(a: Inferred): void {
    this.#answer?.(a);
  }
  setReady(ready: boolean): void {
    this.ready = ready;
    this.#readyChange?.(ready);
  }
}

function frame(seq: number, streamId = 'cam1', capturedAt = Date.now()): DecodedFrame {
  const width = 64;
  const height = 48;
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7 + seq) & 0xff;
  return {
    data,
    width,
    height,
    sourceWidth: 640,
    sourceHeight: 480,
    streamId,
    seq,
    pts: seq,
    capturedAt,
    decodeMs: 0,
  };
}

function result(score: number): OffloadResult {
  return {
    detections: [{ box: [1, 2, 30, 40], score, classId: 0, label: 'person' }],
    preprocessMs: 1,
    inferMs: 2,
    postprocessMs: 0.5,
    batchSize: 3,
  };
}

function remote(link: FakeLink, overrides: Partial<OverflowConfig> = {}, budgetMs = 1000) {
  return new RemoteBackend({
    model: model.entry,
    modelPath: model.path,
    labels: model.labels,
    transport: link,
    overflow: OverflowConfig.parse({ enabled: true, encoding: 'raw', ...overrides }),
    deadlineOf: (f) => f.capturedAt + budgetMs,
  });
}

const tick = () => new Promise((r) => setImmediate(r));

describe('RemoteBackend', () => {
  test('sends one request per batch with the model, its checksum and the budget; maps the answer in order', async () => {
    const link = new FakeLink();
    const b = remote(link);
    const p = b.infer([frame(1), frame(2, 'cam2')], { confidence: 0.3 });
    assert.equal(b.freeSlots, 0, 'the slot is taken at the call, before the frames are encoded');
    await tick();
    assert.equal(link.sent.length, 1);
    const req = link.sent[0]!;
    assert.equal(req.model, 'yolox_nano');
    assert.equal(req.modelSha256, model.entry.sha256);
    assert.deepEqual(
      req.frames.map((f) => [f.streamId, f.seq, f.encoding, f.width, f.height, f.sourceWidth]),
      [
        ['cam1', 1, 'raw', 64, 48, 640],
        ['cam2', 2, 'raw', 64, 48, 640],
      ],
    );
    assert.equal(req.decode.confidence, 0.3);
    assert.ok(req.budgetMs > 900 && req.budgetMs <= 1000, `budget ${req.budgetMs}`);
    assert.equal(b.freeSlots, 0, 'the window starts at one request');
    link.answer({ t: 'inferred', id: req.id, ok: true, results: [result(0.9), result(0.8)], worker: 'w1' });
    const out = await p;
    assert.deepEqual(
      out.map((r) => r.detections[0]!.score),
      [0.9, 0.8],
    );
    assert.equal(out[0]!.batchSize, 3);
    assert.equal(out[0]!.geometry.sourceWidth, 640);
    assert.deepEqual(
      { ...b.stats(), bytes: 0 },
      {
        requests: 1,
        frames: 2,
        answered: 1,
        answeredFrames: 2,
        shed: 0,
        unavailable: 0,
        failed: 0,
        late: 0,
        duplicates: 0,
        bytes: 0,
      },
    );
    assert.equal(b.stats().bytes, 2 * 64 * 48 * 3);
    await b.close();
  });

  test('the in-flight window grows with answers in time (up to maxInFlight) and halves on a late one', async () => {
    const link = new FakeLink();
    const b = remote(link, { maxInFlight: 4 }, 60);
    const answerAll = () => {
      for (const r of link.sent.splice(0))
        link.answer({ t: 'inferred', id: r.id, ok: true, results: r.frames.map(() => result(0.5)) });
    };
    const slots: number[] = [b.freeSlots];
    for (let round = 0; round < 12; round++) {
      const calls = Array.from({ length: b.freeSlots }, (_, i) => b.infer([frame(round * 10 + i)]));
      await tick();
      answerAll();
      await Promise.all(calls);
      slots.push(b.freeSlots);
    }
    assert.equal(slots[0], 1);
    assert.equal(slots.at(-1), 4, `grew to maxInFlight: ${slots.join(' ')}`);
    assert.ok(
      slots.every((n, i) => i === 0 || n >= slots[i - 1]!),
      `never shrinks while answers come in time: ${slots}`,
    );
    // Four in flight, none answered: each one that goes late halves the window.
    const late = Array.from({ length: 4 }, (_, i) => b.infer([frame(200 + i)]).catch((e: Error) => e));
    await Promise.all(late);
    assert.equal(b.stats().late, 4);
    assert.equal(b.freeSlots, 1, 'back to one request after the late ones');
    await b.close();
  });

  test('after a shed the window starts again from one request: no burst when the backoff ends', async () => {
    const link = new FakeLink();
    const b = remote(link, { maxInFlight: 4, backoffMs: 50 });
    for (let round = 0; round < 8; round++) {
      const calls = Array.from({ length: b.freeSlots }, (_, i) => b.infer([frame(round * 10 + i)]));
      await tick();
      for (const r of link.sent.splice(0))
        link.answer({ t: 'inferred', id: r.id, ok: true, results: r.frames.map(() => result(0.5)) });
      await Promise.all(calls);
    }
    assert.equal(b.freeSlots, 4, 'grown to maxInFlight');
    const p = b.infer([frame(100)]);
    await tick();
    link.answer({
      t: 'inferred',
      id: link.sent.splice(0)[0]!.id,
      ok: false,
      error: { code: 'OVERFLOW_SHED', message: 'full' },
    });
    await assert.rejects(p);
    await new Promise((r) => setTimeout(r, 80));
    assert.equal(b.freeSlots, 1);
    await b.close();
  });

  test('frames already past their deadline are not sent; an answer "expired in the queue" backs off like a shed', async () => {
    const link = new FakeLink();
    const b = remote(link, { backoffMs: 100 });
    await assert.rejects(
      b.infer([frame(1, 'cam1', Date.now() - 5000)]),
      (err: Error & { code?: string }) => err.code === 'OVERFLOW_LATE',
    );
    assert.equal(link.sent.length, 0, 'nothing sent');
    assert.equal(b.stats().late, 1);
    const p = b.infer([frame(2)]);
    await tick();
    link.answer({
      t: 'inferred',
      id: link.sent[0]!.id,
      ok: false,
      error: { code: 'OVERFLOW_EXPIRED', message: 'queued too long' },
    });
    await assert.rejects(p, (err: Error & { code?: string }) => err.code === 'OVERFLOW_EXPIRED');
    assert.equal(b.freeSlots, 0, 'in backoff');
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(b.freeSlots, 1);
    await b.close();
  });

  test('a repeated answer (a reclaimed entry done twice) is applied once and counted', async () => {
    const link = new FakeLink();
    const b = remote(link);
    const p = b.infer([frame(1)]);
    await tick();
    const id = link.sent[0]!.id;
    link.answer({ t: 'inferred', id, ok: true, results: [result(0.9)] });
    link.answer({ t: 'inferred', id, ok: true, results: [result(0.1)] });
    assert.equal((await p)[0]!.detections[0]!.score, 0.9);
    assert.equal(b.stats().duplicates, 1);
    assert.equal(b.stats().answered, 1);
    await b.close();
  });

  test('an answer after the deadline is dropped and counted late, never applied', async () => {
    const link = new FakeLink();
    const b = remote(link, {}, 80);
    const p = b.infer([frame(1)]);
    await tick();
    await assert.rejects(p, (err: Error & { code?: string }) => err.code === 'OVERFLOW_LATE');
    link.answer({ t: 'inferred', id: link.sent[0]!.id, ok: true, results: [result(0.9)] });
    const s = b.stats();
    assert.equal(s.late, 1);
    assert.equal(s.answered, 0);
    assert.equal(s.duplicates, 0, 'a late answer is not a duplicate');
    await b.close();
  });

  test('shed: the call fails with OVERFLOW_SHED and nothing is offered for backoffMs, then slots come back', async () => {
    const link = new FakeLink();
    // A backoff long enough that a loaded machine cannot see it end before the first check.
    const b = remote(link, { backoffMs: 1000 });
    const p = b.infer([frame(1)]);
    await tick();
    const slots: number[] = [];
    b.on('slot', (n) => slots.push(n));
    const shedAt = performance.now();
    link.answer({
      t: 'inferred',
      id: link.sent[0]!.id,
      ok: false,
      error: { code: OFFLOAD_FAILURES.SHED, message: 'no worker serves yolox_nano' },
    });
    await assert.rejects(p, (err: Error & { code?: string }) => err.code === 'OVERFLOW_SHED');
    assert.equal(b.freeSlots, 0, 'in backoff');
    const giveUp = performance.now() + 5000;
    while (!slots.length && performance.now() < giveUp) await new Promise((r) => setTimeout(r, 10));
    assert.ok(slots.length > 0, "'slot' announced when the backoff ended");
    assert.ok(performance.now() - shedAt >= 990, 'not before the backoff ended');
    assert.ok(b.freeSlots > 0, 'back after the backoff');
    assert.equal(b.stats().shed, 1);
    await b.close();
  });

  test('link down: no free slots; a send refused by the link fails at once with OVERFLOW_UNAVAILABLE', async () => {
    const link = new FakeLink();
    const b = remote(link, { backoffMs: 0 });
    link.setReady(false);
    assert.equal(b.freeSlots, 0);
    link.setReady(true);
    link.accept = false;
    await assert.rejects(
      b.infer([frame(1)]),
      (err: Error & { code?: string }) => err.code === 'OVERFLOW_UNAVAILABLE',
    );
    assert.equal(b.stats().unavailable, 1);
    await b.close();
  });

  test('a worker failure or a wrong number of results rejects with OVERFLOW_FAILED', async () => {
    const link = new FakeLink();
    const b = remote(link);
    const p1 = b.infer([frame(1)]);
    const p2 = b.infer([frame(2), frame(3)]);
    await tick();
    link.answer({
      t: 'inferred',
      id: link.sent[0]!.id,
      ok: false,
      error: { code: 'WHATEVER', message: 'boom' },
    });
    link.answer({ t: 'inferred', id: link.sent[1]!.id, ok: true, results: [result(0.5)] });
    await assert.rejects(
      p1,
      (err: Error & { code?: string }) => err.code === 'OVERFLOW_FAILED' && /boom/.test(err.message),
    );
    await assert.rejects(p2, /1 results for 2 frames/);
    assert.equal(b.stats().failed, 2);
    await b.close();
  });

  test('jpeg encoding sends a JPEG of the frame, a fraction of its raw size', async () => {
    const link = new FakeLink();
    const b = remote(link, { encoding: 'jpeg', jpegQuality: 80 });
    const f = frame(1);
    const raw = f.data.length;
    const p = b.infer([f]);
    for (let i = 0; i < 50 && link.sent.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    const sent = link.sent[0]!.frames[0]!;
    assert.equal(sent.encoding, 'jpeg');
    assert.deepEqual([...sent.data.subarray(0, 2)], [0xff, 0xd8], 'JPEG SOI marker');
    assert.ok(sent.data.length < raw, `${sent.data.length} < ${raw}`);
    await b.close();
    await assert.rejects(p, ClosedError);
  });

  test('close() rejects what is pending with ClosedError and offers no slots', async () => {
    const link = new FakeLink();
    const b = remote(link);
    const p = b.infer([frame(1)]);
    await tick();
    await b.close();
    await assert.rejects(p, ClosedError);
    assert.equal(b.freeSlots, 0);
    await assert.rejects(b.infer([frame(2)]), ClosedError);
  });
});

/** A local pool stand-in with a settable number of free slots. */
class FakeLocal extends TypedEmitter<InferenceBackendEvents> implements InferenceBackend {
  readonly provider = 'cpu' as const;
  readonly maxBatch = 1;
  readonly inputSize = { width: 416, height: 416 };
  freeSlots = 1;
  closed = false;
  readonly calls: number[][] = [];
  infer(frames: readonly DecodedFrame[]): Promise<InferResult[]> {
    this.calls.push(frames.map((f) => f.seq));
    return Promise.resolve(
      frames.map(() => ({
        detections: [],
        geometry: {} as InferResult['geometry'],
        preprocessMs: 0,
        inferMs: 0,
        postprocessMs: 0,
        batchSize: 1,
        session: 0,
      })),
    );
  }
  embed(crops: readonly ImageBuffer[]): Promise<EmbedResult> {
    return Promise.resolve({ embeddings: crops.map(() => new Float32Array(4)), preprocessMs: 0, inferMs: 0 });
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

describe('OverflowBackend', () => {
  test('local while the pool has room, the workers when it has none, local again when neither has', async () => {
    const link = new FakeLink();
    const local = new FakeLocal();
    const b = new OverflowBackend(local, remote(link, { maxBatch: 4, maxInFlight: 1 }));
    assert.equal(b.maxBatch, 4);
    assert.equal(b.batchLimit, 1, 'local batch size while the pool has room');
    assert.equal(b.freeSlots, 2);
    await b.infer([frame(1)]);
    assert.deepEqual(local.calls, [[1]]);

    local.freeSlots = 0;
    assert.equal(b.batchLimit, 4, 'the workers take bigger batches');
    const p = b.infer([frame(2), frame(3), frame(4)]);
    await tick();
    assert.equal(link.sent.length, 1);
    assert.deepEqual(
      link.sent[0]!.frames.map((f) => f.seq),
      [2, 3, 4],
    );
    assert.equal(b.freeSlots, 0, 'remote in-flight bound reached');
    link.answer({
      t: 'inferred',
      id: link.sent[0]!.id,
      ok: true,
      results: [result(1), result(1), result(1)],
    });
    assert.equal((await p).length, 3);

    // Neither free (a race): the pool takes it in its own batch size.
    link.setReady(false);
    await b.infer([frame(5), frame(6)]);
    assert.deepEqual(local.calls.slice(1), [[5], [6]]);
    const s = b.stats();
    assert.equal(s.localFrames, 3);
    assert.equal(s.frames, 3);
    await b.close();
    assert.ok(local.closed);
  });

  test('withOverflow wraps detectors only; re-ID and embeddings stay local', async () => {
    const local = new FakeLocal();
    const link = new FakeLink();
    let wrapped = 0;
    const factory = withOverflow(
      async () => local,
      () => ({
        transport: link,
        overflow: OverflowConfig.parse({ enabled: true }),
        deadlineOf: (f) => f.capturedAt + 1000,
      }),
      () => wrapped++,
    );
    const reid = await loadModel('osnet_x0_25_msmt17', { verify: false });
    const det = await factory({ model: model.entry, modelPath: model.path, labels: model.labels });
    assert.ok(det instanceof OverflowBackend);
    assert.equal(wrapped, 1);
    const emb = await det.embed([{ data: new Uint8Array(12), width: 2, height: 2 }]);
    assert.equal(emb.embeddings.length, 1, 'embed goes to the local pool');
    const r = await factory({ model: reid.entry, modelPath: reid.path, labels: [] });
    assert.equal(r, local, 're-ID model not wrapped');
    assert.equal(wrapped, 1);
    await det.close();
  });
});
