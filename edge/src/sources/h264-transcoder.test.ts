import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { AV_LOG_FATAL } from 'node-av/constants';
import { Log } from 'node-av/lib';
import { NAL, nalType, profileLevelId, splitNalUnits } from '../h264/nal.ts';
import { transcodeReason } from './h264-transcoder.ts';
import { NodeAvSession } from './node-av-session.ts';
import { type BackendMessage, CONTROL, type SessionRequest } from './protocol.ts';

const dir = process.env.SIGHTLINE_MEDIA_DIR;
Log.setLevel(AV_LOG_FATAL); // as in the decode worker: no libx264 statistics on stderr

function request(input: string, keepPackets: boolean): SessionRequest {
  return {
    input,
    display: input,
    network: false,
    rtsp: false,
    loop: false,
    realtime: false,
    window: 0,
    fit: { width: 320, height: 320 },
    keepPackets,
    openTimeoutMs: 5000,
    threads: 1,
  };
}

/** Runs a session until `frames` frames were posted; returns every message. */
async function run(req: SessionRequest, frames: number): Promise<BackendMessage[]> {
  const control = new Int32Array(new SharedArrayBuffer(CONTROL.length * 4));
  const messages: BackendMessage[] = [];
  let n = 0;
  await new NodeAvSession(req, control, (m) => {
    messages.push(m);
    if (m.type === 'frame' && ++n >= frames) Atomics.store(control, CONTROL.stop, 1);
  }).run();
  return messages;
}

test('transcodeReason: only non-H.264 or B-frames', () => {
  assert.equal(transcodeReason('h264', false), undefined);
  assert.match(transcodeReason('msmpeg4v3', false)!, /msmpeg4v3 is not playable in browsers/);
  assert.match(transcodeReason('h264', true)!, /B-frames/);
});

test('an msmpeg4v3 AVI with keepPackets yields H.264 packets with SPS/PPS in band, one per frame, same pts', {
  skip: dir ? false : 'SIGHTLINE_MEDIA_DIR is not set',
}, async () => {
  const messages = await run(request(join(dir ?? '', 'vtest.avi'), true), 25);
  const info = messages.find((m) => m.type === 'info');
  assert.ok(info && info.type === 'info');
  assert.equal(info.info.codec, 'msmpeg4v3');
  assert.deepEqual(info.info.transcoded, {
    from: 'msmpeg4v3',
    reason: 'msmpeg4v3 is not playable in browsers: re-encoded to H.264',
  });
  const packets = messages.filter((m) => m.type === 'packet');
  const frames = messages.filter((m) => m.type === 'frame');
  assert.ok(packets.length >= 24, `${packets.length} packets`);
  for (const p of packets) assert.equal(p.codec, 'h264');
  // Each packet arrives before its frame, with the frame's pts.
  const framePts = frames.map((f) => f.pts);
  assert.deepEqual(
    packets.map((p) => p.pts),
    framePts.slice(0, packets.length),
  );
  const first = packets[0]!;
  assert.equal(first.keyframe, true);
  const nals = splitNalUnits(new Uint8Array(first.data));
  const sps = nals.find((n) => nalType(n) === NAL.SPS);
  assert.ok(sps, 'SPS in band');
  assert.ok(
    nals.some((n) => nalType(n) === NAL.PPS),
    'PPS in band',
  );
  assert.ok(
    nals.some((n) => nalType(n) === NAL.IDR),
    'IDR',
  );
  assert.equal(profileLevelId(sps).slice(0, 2), '4d'); // Main profile
  // No B-frames: decode order is presentation order.
  for (const p of packets) assert.equal(p.dts, p.pts);
});

test('a keyframe asked for mid-GOP (CONTROL.keyframe) makes the next re-encoded frame an IDR with SPS/PPS', {
  skip: dir ? false : 'SIGHTLINE_MEDIA_DIR is not set',
}, async () => {
  const control = new Int32Array(new SharedArrayBuffer(CONTROL.length * 4));
  const messages: BackendMessage[] = [];
  let frames = 0;
  let askedAfter = -1;
  await new NodeAvSession(request(join(dir ?? '', 'vtest.avi'), true), control, (m) => {
    messages.push(m);
    if (m.type !== 'frame') return;
    frames++;
    if (frames === 8) {
      askedAfter = messages.filter((x) => x.type === 'packet').length;
      Atomics.add(control, CONTROL.keyframe, 1);
    }
    if (frames >= 16) Atomics.store(control, CONTROL.stop, 1);
  }).run();
  const packets = messages.filter((m) => m.type === 'packet');
  // vtest.avi is 10 fps with a 2 s GOP: the only keyframes in 16 frames are the first and the one asked for.
  const keyframes = packets.flatMap((p, i) => (p.keyframe ? [i] : []));
  assert.deepEqual(keyframes, [0, askedAfter], `keyframes at ${keyframes}, asked after packet ${askedAfter}`);
  const nals = splitNalUnits(new Uint8Array(packets[askedAfter]!.data));
  for (const type of [NAL.SPS, NAL.PPS, NAL.IDR]) {
    assert.ok(
      nals.some((n) => nalType(n) === type),
      `NAL type ${type} in the forced keyframe`,
    );
  }
});

test('an H.264 MP4 without B-frames passes its own packets through', {
  skip: dir ? false : 'SIGHTLINE_MEDIA_DIR is not set',
}, async () => {
  const messages = await run(request(join(dir ?? '', 'vtest_h264.mp4'), true), 5);
  const info = messages.find((m) => m.type === 'info');
  assert.ok(info && info.type === 'info');
  assert.equal(info.info.transcoded, undefined);
  const packets = messages.filter((m) => m.type === 'packet');
  assert.ok(packets.length >= 5);
  assert.equal(packets[0]!.codec, 'h264');
});

/** Debian's ffmpeg CLI (from .ci/apt-packages.txt) makes the B-frame clip; without it the test says so. */
const ffmpeg = spawnSync('ffmpeg', ['-version']).status === 0 ? 'ffmpeg' : undefined;

test('an H.264 source with B-frames is re-encoded without them, and says so', {
  skip: !dir ? 'SIGHTLINE_MEDIA_DIR is not set' : !ffmpeg ? 'no ffmpeg CLI to make a B-frame clip' : false,
}, async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'sightline-bframes-'));
  try {
    const clip = join(tmp, 'bframes.mp4');
    const made = spawnSync('ffmpeg', [
      ...['-v', 'error', '-i', join(dir ?? '', 'vtest_h264.mp4'), '-t', '3', '-an'],
      ...[
        '-c:v',
        'libx264',
        '-preset',
        'ultrafast',
        '-bf',
        '2',
        '-g',
        '20',
        '-x264-params',
        'b-adapt=0',
        clip,
      ],
    ]);
    assert.equal(made.status, 0, String(made.stderr));
    const messages = await run(request(clip, true), 20);
    const info = messages.find((m) => m.type === 'info');
    assert.ok(info && info.type === 'info');
    assert.equal(info.info.codec, 'h264');
    assert.equal(info.info.hasBFrames, true, 'the clip really has B-frames');
    assert.deepEqual(info.info.transcoded, {
      from: 'h264',
      reason: 'source has B-frames: re-encoded without them',
    });
    const packets = messages.filter((m) => m.type === 'packet');
    assert.ok(packets.length >= 19, `${packets.length} packets`);
    // Re-encoded without B-frames: decode order is presentation order, pts strictly increasing.
    for (const p of packets) assert.equal(p.dts, p.pts);
    for (let i = 1; i < packets.length; i++) assert.ok(packets[i]!.pts > packets[i - 1]!.pts);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
