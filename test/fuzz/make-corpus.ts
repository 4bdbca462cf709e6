/**
 * Regenerates the binary and SDP seeds in test/fuzz/corpus/ (run once by hand, the files are committed):
 *   node --conditions=sightline-source --import tsx test/fuzz/make-corpus.ts
 * SDP offers come from real werift peers (an edge publishing to the hub; a WHIP publisher like OBS); the msgpack
 * frames are what an edge's uplink client sends (hello, heartbeat, batch with a thumbnail, embedding and event).
 */

import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Encoder } from '@msgpack/msgpack';
import { MediaStreamTrack, RTCPeerConnection, RTCRtpCodecParameters, useOPUS } from 'werift';

const dir = join(import.meta.dirname, 'corpus');
const h264 = (pt: number, profile: string) =>
  new RTCRtpCodecParameters({
    mimeType: 'video/H264',
    clockRate: 90_000,
    payloadType: pt,
    rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }],
    parameters: `packetization-mode=1;profile-level-id=${profile};level-asymmetry-allowed=1`,
  });

async function offer(pc: RTCPeerConnection): Promise<string> {
  await pc.setLocalDescription(await pc.createOffer());
  const sdp = pc.localDescription?.sdp ?? '';
  await pc.close();
  return sdp;
}

// What an edge sends the hub (docs/webrtc.md): H.264 sendonly plus the negotiated `meta` data channel.
const edge = new RTCPeerConnection({ bundlePolicy: 'max-bundle', codecs: { video: [h264(96, '42e01f')] } });
edge.addTransceiver(new MediaStreamTrack({ kind: 'video' }), { direction: 'sendonly' });
edge.createDataChannel('meta', { negotiated: true, id: 0, ordered: true });
writeFileSync(join(dir, 'publish-offer.sdp'), await offer(edge));

// What a WHIP publisher sends an edge: audio + video sendonly, two H.264 formats.
const whip = new RTCPeerConnection({
  codecs: { video: [h264(102, '42e01f'), h264(106, '640c1f')], audio: [useOPUS()] },
});
whip.addTransceiver('audio', { direction: 'sendonly' });
whip.addTransceiver('video', { direction: 'sendonly' });
writeFileSync(join(dir, 'whip-offer.sdp'), await offer(whip));

const jpeg = Buffer.from('ffd8ffe000104a46494600010100000100010000ffd9', 'hex');
const sha256 = createHash('sha256').update(jpeg).digest('hex');
const vector = Buffer.from(new Float32Array([0.6, 0.8, 0, 0]).buffer);
const t0 = 1_750_000_000_000;
const stream = {
  streamId: 'cam1',
  source: 'rtsp://camera.local/stream1',
  state: 'running',
  framesDecoded: 250,
  framesInferred: 240,
  droppedOverflow: 0,
  droppedStale: 10,
  inferErrors: 0,
  fps: 25,
  latencyP50Ms: 31.5,
  latencyP95Ms: 48.25,
  activeTracks: 2,
  reconnects: 0,
  video: { codec: 'h264', profileLevelId: '42e01f', transcoded: false },
  decoder: 'h264 (software)',
};
const SEED_FRAMES: Record<string, unknown> = {
  hello: {
    t: 'hello',
    protocol: 1,
    edgeId: 'edge-1',
    run: 'run1',
    version: '0.1.0',
    model: 'yolox_nano',
    provider: 'cpu',
    config: { detector: { model: 'yolox_nano', confidence: 0.5 }, streams: [{ id: 'cam1' }] },
    streams: [stream],
  },
  heartbeat: {
    t: 'heartbeat',
    load: { cpu: 0.25, rssMb: 312.5, outboxMessages: 0, outboxDropped: 0 },
    streams: [stream],
  },
  batch: {
    t: 'batch',
    streamId: 'cam1',
    run: 'run1',
    seq: 1,
    points: [
      [1, t0, 10.5, 20, 110.25, 220, 0.91],
      [2, t0 + 40, 300, 40, 360, 200, 0.42],
    ],
    tracks: [
      {
        trackId: 1,
        label: 'person',
        classId: 0,
        firstSeen: t0,
        lastSeen: t0,
        thumbnail: sha256,
        thumbnailScore: 0.8,
      },
      { trackId: 2, label: 'car', classId: 2, firstSeen: t0 + 40, lastSeen: t0 + 40 },
    ],
    thumbnails: [{ sha256, jpeg }],
    embeddings: [{ trackId: 1, ts: t0, model: 'osnet_x0_25_msmt17', vector }],
    events: [{ kind: 'stream.state', ts: t0, data: { from: 'starting', to: 'running', note: 'é😀' } }],
  },
  result: { t: 'result', id: 'cmd-1', ok: true, data: { applied: { detector: { confidence: 0.6 } } } },
};

const encoder = new Encoder({ ignoreUndefined: true });
for (const [name, msg] of Object.entries(SEED_FRAMES)) {
  writeFileSync(join(dir, `uplink-${name}.msgpack`), encoder.encode(msg));
}
console.log('corpus written to', dir);
