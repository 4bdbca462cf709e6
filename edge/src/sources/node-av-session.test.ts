import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { NodeAvSession } from './node-av-session.ts';
import { type BackendMessage, CONTROL, type SessionRequest } from './protocol.ts';

const dir = process.env.SIGHTLINE_MEDIA_DIR;

// node-av's per-frame objects are freed by Node-API finalizers that run from the event loop; a session that
// never let the loop turn leaked 1-2 kB per frame (docs/benchmarks.md, soak). Checks that it turns while
// decoding, not only at the end.
test('a session lets the event loop turn between packets', {
  skip: dir ? false : 'SIGHTLINE_MEDIA_DIR is not set',
}, async () => {
  const input = join(dir ?? '', 'vtest_h264.mp4');
  const request: SessionRequest = {
    input,
    display: input,
    network: false,
    rtsp: false,
    loop: true,
    realtime: false,
    window: 0,
    fit: { width: 208, height: 208 },
    keepPackets: false,
    openTimeoutMs: 5000,
    threads: 1,
  };
  const control = new Int32Array(new SharedArrayBuffer(CONTROL.length * 4));
  let frames = 0;
  let turnsAtFrame100 = 0;
  let done: BackendMessage | undefined;
  let turns = 0;
  let counting = true;
  const tick = () => {
    turns++;
    if (counting) setImmediate(tick);
  };
  setImmediate(tick);
  const session = new NodeAvSession(request, control, (message) => {
    if (message.type === 'done') done = message;
    if (message.type !== 'frame') return;
    frames++;
    if (frames === 100) {
      turnsAtFrame100 = turns;
      Atomics.store(control, CONTROL.stop, 1);
    }
  });
  await session.run();
  counting = false;
  assert.equal(frames, 100);
  assert.deepEqual(done, { type: 'done', outcome: 'stopped' });
  assert.ok(turnsAtFrame100 >= 90, `the event loop turned ${turnsAtFrame100} times in 100 frames`);
});

/** The first `n` frames' pixels of vtest with `enhance` settings (or none). */
async function firstFrames(n: number, enhance?: SessionRequest['enhance']): Promise<Uint8Array[]> {
  const input = join(dir ?? '', 'vtest_h264.mp4');
  const request: SessionRequest = {
    input,
    display: input,
    network: false,
    rtsp: false,
    loop: false,
    realtime: false,
    window: 0,
    fit: { width: 320, height: 240 },
    keepPackets: false,
    openTimeoutMs: 5000,
    threads: 1,
    ...(enhance ? { enhance } : {}),
  };
  const control = new Int32Array(new SharedArrayBuffer(CONTROL.length * 4));
  const out: Uint8Array[] = [];
  const session = new NodeAvSession(request, control, (message) => {
    if (message.type !== 'frame') return;
    out.push(new Uint8Array(message.pixels));
    if (out.length === n) Atomics.store(control, CONTROL.stop, 1);
  });
  await session.run();
  return out;
}

test('the enhance stage runs on each decoded frame: white balance pulls the channel means together; denoising changes the pixels', {
  skip: dir ? false : 'SIGHTLINE_MEDIA_DIR is not set',
}, async () => {
  const stats = (px: Uint8Array) => {
    const sum = [0, 0, 0];
    let lo = 255;
    let hi = 0;
    for (let i = 0; i < px.length; i++) {
      sum[i % 3]! += px[i]!;
      lo = Math.min(lo, px[i]!);
      hi = Math.max(hi, px[i]!);
    }
    const means = sum.map((v) => v / (px.length / 3));
    return { spread: Math.max(...means) - Math.min(...means), range: hi - lo };
  };
  const [plain] = await firstFrames(1);
  const [balanced] = await firstFrames(1, {
    denoise: false,
    denoiseH: 10,
    whiteBalance: true,
    contrast: false,
  });
  const [denoised] = await firstFrames(1, {
    denoise: true,
    denoiseH: 10,
    whiteBalance: false,
    contrast: false,
  });
  assert.equal(balanced!.length, plain!.length);
  assert.ok(
    stats(balanced!).spread < stats(plain!).spread / 2,
    `${stats(plain!).spread} -> ${stats(balanced!).spread}`,
  );
  let changed = 0;
  for (let i = 0; i < plain!.length; i++) if (plain![i] !== denoised![i]) changed++;
  assert.ok(changed > plain!.length / 10, `denoising changed ${changed} of ${plain!.length} bytes`);
});
