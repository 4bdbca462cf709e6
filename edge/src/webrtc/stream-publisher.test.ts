import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { FrameMetaSchema, parseEdgeConfig } from '@sightline/shared';
import { type RTCDataChannel, RTCPeerConnection, RTCRtpCodecParameters } from 'werift';
import { NAL, nalType } from '../h264/nal.ts';
import { EdgeRuntime } from '../pipeline/edge-runtime.ts';
import type { StreamInfo } from '../sources/protocol.ts';
import { H264Depacketizer } from './rtp-h264.ts';
import { type FrameMeta, PublishError, StreamPublisher } from './stream-publisher.ts';
import { WERIFT_BUNDLE } from './werift-ice.ts';

const dir = process.env.SIGHTLINE_MEDIA_DIR;
const skip = dir && process.env.MODELS_DIR ? false : 'SIGHTLINE_MEDIA_DIR or MODELS_DIR is not set';

function receiverPc(): RTCPeerConnection {
  return new RTCPeerConnection({
    bundlePolicy: WERIFT_BUNDLE,
    codecs: {
      video: [
        new RTCRtpCodecParameters({
          mimeType: 'video/H264',
          clockRate: 90_000,
          rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }],
          parameters: 'packetization-mode=1;level-asymmetry-allowed=1;profile-level-id=42e01f',
        }),
      ],
      audio: [],
    },
    iceServers: [],
  });
}

/** signal() for a loopback receiver: it answers the offer itself. */
async function answerWith(
  pc: RTCPeerConnection,
  offer: string,
  onChannel?: (dc: RTCDataChannel) => void,
): Promise<string> {
  await pc.setRemoteDescription({ type: 'offer', sdp: offer });
  // The publisher's `meta` channel is negotiated on SCTP stream 0 (as the hub's DataProducer expects).
  onChannel?.(pc.createDataChannel('meta', { negotiated: true, id: 0 }));
  await pc.setLocalDescription(await pc.createAnswer());
  if (pc.iceGatheringState !== 'complete') {
    await new Promise<void>((resolve) => {
      const sub = pc.iceGatheringStateChange.subscribe((s) => {
        if (s === 'complete') {
          sub.unSubscribe();
          resolve();
        }
      });
    });
  }
  return pc.localDescription!.sdp;
}

function runtimeFor(source: string, model?: string): EdgeRuntime {
  return new EdgeRuntime(
    parseEdgeConfig({
      edgeId: 'webrtc-test',
      streams: [{ id: 'cam1', source, realtime: true, loop: true }],
      ...(model ? { detector: { model } } : {}),
      // The segmentation model takes ~130 ms a frame here: two sessions keep up with 10 fps.
      inference: { sessions: model ? 2 : 1 },
      thumbnails: { enabled: false },
    }),
  );
}

function waitFor<T>(what: string, ms: number, poll: () => T | undefined): Promise<T> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const timer = setInterval(() => {
      const v = poll();
      if (v !== undefined) {
        clearInterval(timer);
        resolve(v);
      } else if (Date.now() - t0 > ms) {
        clearInterval(timer);
        reject(new Error(`timed out waiting for ${what}`));
      }
    }, 20);
  });
}

type Rtp = { kind: 'rtp'; ts: number; pt: number; seq: number; marker: boolean; payload: Buffer };

/**
 * Access units of the received packets, as a jitter buffer would rebuild them: in sequence order (werift's
 * receiver NACKs a packet lost in a keyframe burst and gets it later), duplicates dropped. `firstIndex`: the
 * arrival index (in `events`) of the unit's earliest packet.
 */
function accessUnits(
  events: { kind: string }[],
): { timestamp: number; nals: Uint8Array[]; firstIndex: number }[] {
  const rtp = events.flatMap((e, i) => (e.kind === 'rtp' ? [{ ...(e as Rtp), i }] : []));
  let ext = 0;
  let last: number | undefined;
  const withExt = rtp.map((p) => {
    if (last !== undefined) {
      const d = (((p.seq - last) & 0xffff) ^ 0x8000) - 0x8000;
      ext += d;
    }
    last = p.seq;
    return { ...p, ext };
  });
  const bySeq = new Map(withExt.map((p) => [p.ext, p]));
  const sorted = [...bySeq.values()].sort((a, b) => a.ext - b.ext);
  const d = new H264Depacketizer();
  const units: { timestamp: number; nals: Uint8Array[]; firstIndex: number }[] = [];
  let firstIndex = Number.POSITIVE_INFINITY;
  for (const p of sorted) {
    firstIndex = Math.min(firstIndex, p.i);
    const unit = d.push(p.payload, p.ts, p.marker, p.seq & 0xffff);
    if (unit) {
      units.push({ ...unit, firstIndex });
      firstIndex = Number.POSITIVE_INFINITY;
    }
  }
  return units;
}

/** Publishes cam1 of a runtime to a loopback werift receiver; returns what arrived, in arrival order. */
/**
 * `minMetas`: also wait (up to 45 s) until that many frames' metadata came with results (not skipped): a slow model
 * on a loaded CPU can make the first seconds' frames go out unannotated.
 */
async function loopback(source: string, frames: number, model?: string, holdMs?: number, minMetas = 0) {
  const runtime = runtimeFor(source, model);
  runtime.enablePackets();
  const receiver = receiverPc();
  const events: (
    | { kind: 'rtp'; ts: number; pt: number; seq: number; marker: boolean; payload: Buffer }
    | { kind: 'meta'; meta: FrameMeta }
  )[] = [];
  let negotiatedPt: number | undefined;
  let mime: string | undefined;
  receiver.onTrack.subscribe((track) => {
    track.onReceiveRtp.subscribe((rtp) => {
      negotiatedPt ??= track.codec?.payloadType;
      mime ??= track.codec?.mimeType;
      events.push({
        kind: 'rtp',
        ts: rtp.header.timestamp,
        pt: rtp.header.payloadType,
        seq: rtp.header.sequenceNumber,
        marker: rtp.header.marker,
        payload: Buffer.from(rtp.payload),
      });
    });
  });
  let label: string | undefined;
  const onChannel = (dc: RTCDataChannel) => {
    label = dc.label;
    // Parsed with the wire schema: what the edge sends is what shared/src/signalling.ts says.
    dc.onMessage.subscribe((m) =>
      events.push({ kind: 'meta', meta: FrameMetaSchema.parse(JSON.parse(m.toString())) }),
    );
  };
  let publisher: StreamPublisher | undefined;
  let published: Promise<void> | undefined;
  const au = () => events.filter((e) => e.kind === 'rtp' && e.marker).length;
  runtime.on('stream-info', (id, info) => {
    if (id !== 'cam1' || publisher) return;
    publisher = new StreamPublisher({
      streamId: id,
      info,
      holdMs,
      signal: (sdp) => answerWith(receiver, sdp, onChannel),
    });
    published = publisher.start();
  });
  runtime.on('packet', (p) => publisher?.packet(p));
  runtime.on('result', (r) => publisher?.result(r));
  runtime.on('frame-dropped', (_id, pts, reason, f) => publisher?.dropped(pts, reason, f));
  try {
    await runtime.start();
    await waitFor('the publisher', 10_000, () => published);
    await published;
    await waitFor(`${frames} access units`, 20_000, () => (au() >= frames ? true : undefined));
    const annotated = () => events.filter((e) => e.kind === 'meta' && !e.meta.skipped).length;
    await waitFor(`${minMetas} annotated frames`, 45_000, () =>
      annotated() >= minMetas ? true : undefined,
    ).catch((err: Error) => {
      throw new Error(
        `${err.message}: publisher ${JSON.stringify(publisher?.stats())}, runtime ${JSON.stringify(runtime.stats())}`,
      );
    });
    return {
      events: [...events],
      pt: negotiatedPt,
      mime,
      label,
      stats: publisher!.stats(),
      info: publisher!.info,
    };
  } finally {
    await publisher?.close();
    await receiver.close();
    await runtime.close();
  }
}

test('loopback: a runtime-driven publisher sends H.264 RTP and per-frame meta first, matched by RTP timestamp', {
  skip,
  timeout: 60_000,
}, async () => {
  const { events, pt, mime, label, stats } = await loopback(join(dir ?? '', 'vtest_h264.mp4'), 25);
  assert.equal(label, 'meta');
  assert.equal(mime, 'video/H264');
  const rtp = events.filter((e) => e.kind === 'rtp');
  const metas = events.filter((e) => e.kind === 'meta').map((e) => e.meta);
  for (const p of rtp) assert.equal(p.pt, pt, 'every RTP packet has the negotiated H264 payload type');
  // None lost: after reordering the sequence numbers are contiguous.
  assert.equal(new Set(rtp.map((p) => p.seq)).size, stats.packetsSent, 'every packet sent arrived');
  const units = accessUnits(events);
  assert.ok(units.length >= 25, `${units.length} access units`);
  // The publisher starts at a keyframe (the receiver may miss packets sent while its DTLS was finishing).
  const keyframes = units.filter((u) => u.nals.some((n) => nalType(n) === NAL.IDR));
  assert.ok(keyframes.length > 0, 'a keyframe arrived');
  // Every keyframe carries its parameter sets (viewers may join at any keyframe): SPS, PPS, ..., IDR.
  for (const u of keyframes) assert.deepEqual(u.nals.map(nalType).slice(0, 2), [NAL.SPS, NAL.PPS]);
  // Each frame's meta: same RTP timestamp, and it arrived before the frame's first packet.
  const metaIndex = new Map<number, number>();
  events.forEach((e, i) => {
    if (e.kind === 'meta' && !metaIndex.has(e.meta.rtp)) metaIndex.set(e.meta.rtp, i);
  });
  for (const u of units) {
    const at = metaIndex.get(u.timestamp);
    assert.ok(at !== undefined, `meta for RTP timestamp ${u.timestamp}`);
    assert.ok(
      at < u.firstIndex,
      `meta of ${u.timestamp} (#${at}) before its first packet (#${u.firstIndex})`,
    );
  }
  // The meta shape of docs/webrtc.md.
  const m = metas.find((x) => !x.skipped && x.tracks.length > 0);
  assert.ok(m, `a meta with tracks among ${metas.length}`);
  assert.deepEqual(
    Object.keys(m).sort(),
    ['h', 'pts', 'rtp', 'sent', 'seq', 'skipped', 't', 'tracks', 'v', 'w'].sort(),
  );
  assert.equal(m.v, 1);
  assert.equal(m.w, 768);
  assert.equal(m.h, 576);
  assert.ok(m.sent >= m.t && m.t > 1.7e12, 'epoch ms');
  const track = m.tracks[0]!;
  assert.deepEqual(Object.keys(track).sort(), ['b', 'c', 'id', 'l', 's']);
  assert.equal(track.b.length, 4);
  assert.equal(typeof track.l, 'string');
  assert.equal(Math.round(track.s * 100) / 100, track.s);
  // RTP timestamps follow pts: 10 fps -> 9000 ticks apart.
  assert.equal((units[1]!.timestamp - units[0]!.timestamp) >>> 0, 9000);
  assert.equal(stats.profileLevelId, '4d401f');
  assert.ok(stats.framesSent >= 25 && stats.packetsSent >= stats.framesSent && stats.bytesSent > 0);
  assert.equal(stats.state, 'connected');
});

test('loopback: an msmpeg4v3 AVI is re-encoded to H.264 and published', {
  skip,
  timeout: 60_000,
}, async () => {
  const { events, mime, stats, info } = await loopback(join(dir ?? '', 'vtest.avi'), 25);
  assert.equal(mime, 'video/H264');
  assert.equal(info.codec, 'msmpeg4v3');
  assert.deepEqual(info.transcoded, {
    from: 'msmpeg4v3',
    reason: 'msmpeg4v3 is not playable in browsers: re-encoded to H.264',
  });
  assert.equal(stats.transcoded, true);
  assert.match(stats.profileLevelId ?? '', /^4d/);
  const first = accessUnits(events).find((u) => u.nals.some((n) => nalType(n) === NAL.IDR))?.nals;
  assert.ok(first, 'a keyframe arrived');
  assert.deepEqual(first.map(nalType).slice(0, 2), [NAL.SPS, NAL.PPS]);
  assert.ok(first.map(nalType).includes(NAL.IDR));
});

test("loopback: with a segmentation model the meta carries each track's instance mask", {
  skip,
  timeout: 100_000,
}, async () => {
  // 6 s of video, frames held up to 5 s for their results (a slow model on a busy CPU: another suite beside it can
  // push the latency past 2 s), and at least 5 annotated frames.
  const { events } = await loopback(join(dir ?? '', 'vtest_h264.mp4'), 60, 'yolov8n_seg_int8_320', 5000, 5);
  const metas = events.flatMap((e) => (e.kind === 'meta' && !e.meta.skipped ? [e.meta] : []));
  const withMasks = metas.filter((m) => m.masks?.length);
  assert.ok(withMasks.length > 0, `metas with masks: ${withMasks.length} of ${metas.length}`);
  for (const m of withMasks) {
    for (const mask of m.masks!) {
      const track = m.tracks.find((t) => t.id === mask.id);
      assert.ok(track, `mask ${mask.id} belongs to a track of the frame`);
      assert.deepEqual(Object.keys(mask).sort(), ['box', 'counts', 'h', 'id', 'w']);
      assert.equal(
        mask.counts.reduce((a, b) => a + b, 0),
        mask.w * mask.h,
        'the runs cover the grid',
      );
      // The grid is the prototype cells under the track's box: 4 model pixels = 4 * 768/320 source pixels. Unlike
      // the track's box, the grid is not clipped to the frame (it may reach into the letterbox padding).
      const limit = [m.w, m.h, m.w, m.h];
      for (const k of [0, 1, 2, 3] as const) {
        const clipped = Math.min(Math.max(mask.box[k], 0), limit[k]!);
        assert.ok(Math.abs(clipped - track.b[k]) <= 10, `mask grid ${mask.box} over its box ${track.b}`);
      }
      assert.ok(mask.counts.length >= 2, 'some cells are inside');
    }
  }
});

function fakeInfo(codec: string): StreamInfo {
  return {
    codec,
    width: 64,
    height: 48,
    fps: 10,
    timeBase: { num: 1, den: 90000 },
    extradata: new Uint8Array(0),
    hasBFrames: false,
    outputWidth: 64,
    outputHeight: 48,
    backend: 'node-av',
  };
}

test('a non-H.264 packet stops only its own publisher, with a clear error', () => {
  const signal = () => Promise.reject(new Error('not used'));
  const a = new StreamPublisher({ streamId: 'a', info: fakeInfo('h264'), signal });
  const b = new StreamPublisher({ streamId: 'b', info: fakeInfo('h264'), signal });
  const h264 = Uint8Array.from([
    0, 0, 0, 1, 0x67, 0x42, 0xc0, 0x1e, 0, 0, 0, 1, 0x68, 0xce, 0, 0, 0, 1, 0x65, 0x88,
  ]);
  assert.throws(
    () =>
      a.packet({
        streamId: 'a',
        codec: 'mpeg4',
        data: Uint8Array.from([0, 0, 1, 0xb6]),
        pts: 0,
        dts: 0,
        keyframe: true,
      }),
    (e: Error) =>
      e instanceof PublishError && /sent a mpeg4 packet: WebRTC publishing needs H.264/.test(e.message),
  );
  assert.equal(a.state, 'failed');
  assert.match(a.stats().lastError ?? '', /mpeg4/);
  // The other stream goes on (and learns its profile-level-id from the in-band SPS).
  b.packet({ streamId: 'b', codec: 'h264', data: h264, pts: 0, dts: 0, keyframe: true });
  assert.equal(b.state, 'new');
  assert.equal(b.stats().profileLevelId, '42c01e');
  // A stream announced as another codec without re-encoding cannot start.
  const c = new StreamPublisher({ streamId: 'c', info: fakeInfo('mpeg4'), signal });
  return assert.rejects(c.start(), /is mpeg4, not H.264, and is not re-encoded/);
});
