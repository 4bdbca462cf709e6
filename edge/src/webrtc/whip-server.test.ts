/**
 * WHIP ingest end to end: a werift peer (like OBS) publishes H.264 from the sample file to a WhipServer in front of a
 * real EdgeRuntime (yolox_nano), which decodes, infers and tracks it as the stream whip://<id>.
 */

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type FrameResult, parseEdgeConfig } from '@sightline/shared';
import { Demuxer } from 'node-av/api';
import {
  MediaStreamTrack,
  RTCPeerConnection,
  RTCRtpCodecParameters,
  type RTCRtpTransceiver,
  RtpHeader,
  RtpPacket,
  useOPUS,
  useVP8,
} from 'werift';
import { EdgeRuntime } from '../pipeline/edge-runtime.ts';
import { startsKeyframe } from './rtp-h264.ts';
import { skipDefaultStun, WERIFT_BUNDLE } from './werift-ice.ts';
import { checkWhipOffer } from './whip-sdp.ts';
import { WhipServer } from './whip-server.ts';

const MEDIA = process.env.SIGHTLINE_MEDIA_DIR ?? '';
const MODELS = process.env.MODELS_DIR ?? '';
const VIDEO = join(MEDIA, 'vtest_h264.mp4');
const TOKEN = 'test-whip-token-0123456789';

/** SPS and PPS of an avcC record (MP4 extradata) and its NAL length size. */
function parseAvcC(d: Uint8Array): { sps: Uint8Array[]; pps: Uint8Array[]; lengthSize: number } {
  let i = 5;
  const read = (count: number) =>
    Array.from({ length: count }, () => {
      const len = (d[i]! << 8) | d[i + 1]!;
      i += 2 + len;
      return d.slice(i - len, i);
    });
  const spsCount = d[i++]! & 0x1f;
  const sps = read(spsCount);
  const pps = read(d[i++]!);
  return { sps, pps, lengthSize: (d[4]! & 3) + 1 };
}

/** NAL units of length-prefixed (AVCC) sample data. */
function splitAvcc(d: Uint8Array, lengthSize: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i + lengthSize <= d.length; ) {
    let len = 0;
    for (let k = 0; k < lengthSize; k++) len = len * 256 + d[i + k]!;
    i += lengthSize;
    out.push(d.slice(i, i + len));
    i += len;
  }
  return out;
}

/** RFC 6184 packetization-mode 1 as a publisher would do it: single NAL units, FU-A above the MTU. */
class Packetizer {
  #seq = 1000;
  packetize(nals: Uint8Array[], pts: number, mtu = 1200): RtpPacket[] {
    const payloads: Buffer[] = [];
    for (const nal of nals) {
      if (nal.length <= mtu) {
        payloads.push(Buffer.from(nal));
        continue;
      }
      const body = nal.subarray(1);
      for (let o = 0; o < body.length; o += mtu - 2) {
        const part = body.subarray(o, o + mtu - 2);
        const fu = Buffer.alloc(2 + part.length);
        fu[0] = (nal[0]! & 0xe0) | 28;
        fu[1] = (o === 0 ? 0x80 : 0) | (o + mtu - 2 >= body.length ? 0x40 : 0) | (nal[0]! & 0x1f);
        fu.set(part, 2);
        payloads.push(fu);
      }
    }
    return payloads.map((payload, k) => {
      const header = new RtpHeader({
        payloadType: 96,
        sequenceNumber: this.#seq++ & 0xffff,
        timestamp: pts >>> 0,
        ssrc: 1234,
        marker: k === payloads.length - 1,
      });
      return new RtpPacket(header, payload);
    });
  }
}

interface AccessUnit {
  nals: Uint8Array[];
  key: boolean;
}

/** The sample file's access units as NAL units, SPS and PPS put in front of every keyframe. */
function loadAccessUnits(): AccessUnit[] {
  const demuxer = Demuxer.openSync(VIDEO);
  try {
    const stream = demuxer.video()!;
    const ps = parseAvcC(new Uint8Array(stream.codecpar.extradata!));
    const out: AccessUnit[] = [];
    for (const packet of demuxer.packetsSync(stream.index)) {
      if (!packet) break;
      const nals = splitAvcc(new Uint8Array(packet.data!), ps.lengthSize).map((n) => new Uint8Array(n));
      const key = packet.isKeyframe;
      out.push({ nals: key ? [...ps.sps, ...ps.pps, ...nals] : nals, key });
      packet.free();
    }
    return out;
  } finally {
    demuxer.closeSync();
  }
}

/** A WHIP publisher: a werift peer sending the sample file at 10 fps, jumping to the next keyframe on PLI. */
class TestPublisher {
  readonly pc: RTCPeerConnection;
  readonly track = new MediaStreamTrack({ kind: 'video' });
  readonly transceiver: RTCRtpTransceiver;
  plis = 0;
  frames = 0;
  location?: string;
  #timer?: NodeJS.Timeout;
  #keyWanted = false;

  constructor(codec: 'h264' | 'vp8' = 'h264', withAudio = false) {
    this.pc = new RTCPeerConnection({
      codecs: {
        video: [
          codec === 'h264'
            ? new RTCRtpCodecParameters({
                mimeType: 'video/H264',
                clockRate: 90_000,
                rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }],
                parameters: 'profile-level-id=4d401f;packetization-mode=1;level-asymmetry-allowed=1',
              })
            : useVP8(),
        ],
        audio: [useOPUS()],
      },
      iceServers: [],
      iceUseIpv6: false,
      bundlePolicy: WERIFT_BUNDLE,
    });
    // Like a browser: audio first when the camera has a microphone.
    if (withAudio) this.pc.addTransceiver('audio', { direction: 'sendonly' });
    this.transceiver = this.pc.addTransceiver(this.track, { direction: 'sendonly' });
    this.transceiver.sender.onPictureLossIndication.subscribe(() => {
      this.plis++;
      this.#keyWanted = true;
    });
  }

  async offer(): Promise<string> {
    const offer = await this.pc.createOffer();
    skipDefaultStun(this.pc);
    await this.pc.setLocalDescription(offer);
    return this.pc.localDescription!.sdp;
  }

  async publish(base: string, streamId: string, token = TOKEN): Promise<Response> {
    const res = await fetch(`${base}/whip/${streamId}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/sdp', Authorization: `Bearer ${token}` },
      body: await this.offer(),
    });
    if (res.status === 201) {
      this.location = res.headers.get('location') ?? undefined;
      await this.pc.setRemoteDescription({ type: 'answer', sdp: await res.clone().text() });
    }
    return res;
  }

  /** Send access units at 10 fps from `units`, looping. */
  send(units: AccessUnit[]): void {
    const packetizer = new Packetizer();
    let i = 0;
    let pts = 0;
    this.#timer = setInterval(() => {
      if (this.#keyWanted) {
        this.#keyWanted = false;
        while (!units[i % units.length]!.key) i++;
      }
      const unit = units[i++ % units.length]!;
      for (const rtp of packetizer.packetize(unit.nals, pts)) this.track.writeRtp(rtp);
      pts += 9000;
      this.frames++;
    }, 100);
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.pc.close();
  }
}

function waitFor<T>(what: string, ms: number, poll: () => T | undefined): Promise<T> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const tick = () => {
      const v = poll();
      if (v !== undefined) return resolve(v);
      if (Date.now() - t0 > ms) return reject(new Error(`timed out after ${ms} ms waiting for ${what}`));
      setTimeout(tick, 50);
    };
    tick();
  });
}

describe('WhipServer', () => {
  let runtime: EdgeRuntime;
  let whip: WhipServer;
  let base: string;
  let units: AccessUnit[];
  const results: FrameResult[] = [];

  before(async () => {
    units = loadAccessUnits();
    runtime = new EdgeRuntime(
      parseEdgeConfig({
        edgeId: 'whip-test',
        modelsDir: MODELS,
        streams: [{ id: 'file', source: VIDEO, realtime: true, loop: true }],
        detector: { model: 'yolox_nano', classes: ['person'] },
      }),
    );
    runtime.on('result', (r) => results.push(r));
    await runtime.start();
    whip = new WhipServer({ runtime, port: 0, token: TOKEN, connectTimeoutMs: 5000, idleTimeoutMs: 3000 });
    await whip.listen();
    base = whip.url;
  });

  after(async () => {
    await whip?.close();
    await runtime?.close();
  });

  test('a published camera becomes a stream that is decoded, inferred and tracked; DELETE removes it', async () => {
    const pub = new TestPublisher();
    try {
      const t0 = Date.now();
      const res = await pub.publish(base, 'cam-whip');
      assert.equal(res.status, 201, await res.clone().text());
      assert.equal(res.headers.get('content-type'), 'application/sdp');
      assert.match(res.headers.get('location') ?? '', /^\/whip\/cam-whip\/[0-9a-f-]{36}$/);
      assert.equal(res.headers.get('access-control-allow-origin'), '*');
      const answer = await res.text();
      assert.match(answer, /a=rtpmap:\d+ H264\/90000/);
      assert.doesNotMatch(answer, /VP8/);
      const stream = runtime.stats().find((s) => s.streamId === 'cam-whip');
      assert.equal(stream?.source, 'whip://cam-whip');
      pub.send(units);
      const mine = () => results.filter((r) => r.streamId === 'cam-whip');
      const first = await waitFor('a result of cam-whip', 20_000, () => mine()[0]);
      const firstAfterMs = Date.now() - t0;
      const withPeople = await waitFor('results with person tracks', 20_000, () => {
        const got = mine().filter((r) => r.tracks.some((t) => t.label === 'person'));
        return got.length >= 10 ? got : undefined;
      });
      const last = withPeople.at(-1)!;
      assert.equal(last.width, 768);
      assert.equal(last.height, 576);
      const stats = runtime.stats().find((s) => s.streamId === 'cam-whip')!;
      assert.ok(stats.framesDecoded >= 10, JSON.stringify(stats));
      assert.equal(stats.state, 'running');
      const session = whip.sessions().find((s) => s.streamId === 'cam-whip')!;
      assert.equal(session.state, 'connected');
      assert.ok(session.packets > 0);
      // Latency of a frame: decoder output (capturedAt) to result, and first result after the POST.
      const lat = mine().map((r) => r.timings.totalMs ?? 0);
      console.log(
        `whip: first result ${firstAfterMs} ms after POST (seq ${first.seq}); ${pub.frames} frames sent, ` +
          `${stats.framesDecoded} decoded, ${mine().length} results, ${withPeople.length} with people; ` +
          `PLIs ${session.plis} (publisher saw ${pub.plis}); median capture->result ` +
          `${lat.sort((a, b) => a - b)[lat.length >> 1]?.toFixed(1)} ms`,
      );

      // A viewer of the stream needs a keyframe (its PLI reached the runtime): the server asks the publisher.
      const sawBefore = pub.plis;
      await sleep(600); // past the server's own PLI spacing
      assert.equal(runtime.requestKeyframe('cam-whip'), true, 'a WHIP stream passes keyframe requests on');
      await waitFor('the publisher to see the PLI', 5000, () => (pub.plis > sawBefore ? true : undefined));
      assert.equal(runtime.requestKeyframe('file'), false, 'a file answers at its next keyframe only');

      // A second publisher for the same stream id is refused while the first is live.
      const dup = new TestPublisher();
      try {
        const r2 = await dup.publish(base, 'cam-whip');
        assert.equal(r2.status, 409);
        assert.equal(((await r2.json()) as { error: { code: string } }).error.code, 'STREAM_BUSY');
      } finally {
        await dup.close();
      }

      // The file stream ran alongside.
      assert.equal(runtime.stats().find((s) => s.streamId === 'file')?.state, 'running');

      const del = await fetch(`${base}${pub.location}`, {
        method: 'DELETE',
        headers: { Authorization: `Bearer ${TOKEN}` },
      });
      assert.equal(del.status, 200);
      assert.equal(
        runtime.stats().find((s) => s.streamId === 'cam-whip'),
        undefined,
        'the stream is gone after DELETE',
      );
      assert.equal(whip.sessions().length, 0);
      const again = await fetch(`${base}${pub.location}`, {
        method: 'DELETE',
        headers: { Authorization: `Bearer ${TOKEN}` },
      });
      assert.equal(again.status, 404);
    } finally {
      await pub.close();
    }
  });

  test('the same stream id publishes again after DELETE (with audio, ignored); a publisher that goes away without DELETE is ended', async () => {
    const pub = new TestPublisher('h264', true);
    const from = results.length;
    const res = await pub.publish(base, 'cam-whip');
    assert.equal(res.status, 201, await res.clone().text());
    assert.match(await res.text(), /m=audio [\s\S]*m=video /);
    pub.send(units);
    await waitFor('a new result of cam-whip', 20_000, () =>
      results.slice(from).find((r) => r.streamId === 'cam-whip'),
    );
    const stoppedAt = Date.now();
    await pub.close(); // no DELETE: the media stops, the session times out (idleTimeoutMs 3000)
    await waitFor('the session to end', 15_000, () =>
      runtime.stats().some((s) => s.streamId === 'cam-whip') || whip.sessions().length > 0 ? undefined : true,
    );
    const endedAfter = Date.now() - stoppedAt;
    assert.ok(endedAfter >= 2500, `ended ${endedAfter} ms after the media stopped`);
  });

  test('rejects bad requests with clear errors, and a failed session leaves the file stream running', async (t) => {
    const before = results.filter((r) => r.streamId === 'file').length;
    const h264Peer = new TestPublisher();
    const vp8Peer = new TestPublisher('vp8');
    t.after(() => Promise.all([h264Peer.close(), vp8Peer.close()]));
    const offer = await h264Peer.offer();
    const post = (body: string, headers: Record<string, string>, path = '/whip/cam-bad') =>
      fetch(`${base}${path}`, { method: 'POST', headers, body });
    const sdp = { 'Content-Type': 'application/sdp' };
    const auth = { ...sdp, Authorization: `Bearer ${TOKEN}` };
    const errorOf = async (r: Response) =>
      ((await r.json()) as { error: { code: string; message: string } }).error;

    let r = await post(offer, sdp);
    assert.equal(r.status, 401);
    assert.match(r.headers.get('www-authenticate') ?? '', /Bearer/);
    assert.equal((await errorOf(r)).code, 'UNAUTHORIZED');
    r = await post(offer, { ...sdp, Authorization: 'Bearer nope' });
    assert.equal(r.status, 401);
    assert.match((await errorOf(r)).message, /wrong WHIP token/);

    r = await post('{"hello":1}', { ...auth, 'Content-Type': 'application/json' });
    assert.equal(r.status, 415);
    r = await post('hello, not SDP', auth);
    assert.equal(r.status, 400);
    assert.equal((await errorOf(r)).code, 'SDP_INVALID');

    const audioOnly = offer
      .replace(/m=video [^\r\n]*/, 'm=audio 9 UDP/TLS/RTP/SAVPF 111')
      .replace(/a=rtpmap:\d+ H264\/90000/, 'a=rtpmap:111 opus/48000/2');
    r = await post(audioOnly, auth);
    assert.equal(r.status, 400);
    assert.match((await errorOf(r)).message, /no video \(m=video\)/);

    const vp8 = await vp8Peer.offer();
    r = await post(vp8, auth);
    assert.equal(r.status, 400);
    const e = await errorOf(r);
    assert.equal(e.code, 'CODEC_UNSUPPORTED');
    assert.match(e.message, /no H\.264 \(offered: VP8\); this edge ingests H\.264 only/);

    r = await post(offer, auth, '/whip/bad%20id');
    assert.equal(r.status, 400);
    r = await fetch(`${base}/whip/cam-bad/00000000-0000-0000-0000-000000000000`, {
      method: 'DELETE',
      headers: { Authorization: `Bearer ${TOKEN}` },
    });
    assert.equal(r.status, 404);
    assert.equal((await errorOf(r)).code, 'SESSION_UNKNOWN');
    r = await fetch(`${base}/elsewhere`, { method: 'POST' });
    assert.equal(r.status, 404);

    // The runtime already has a (file) stream with this id.
    const taken = new TestPublisher();
    try {
      r = await taken.publish(base, 'file');
      assert.equal(r.status, 409);
    } finally {
      await taken.close();
    }

    // CORS preflight for browsers.
    r = await fetch(`${base}/whip/cam-bad`, { method: 'OPTIONS' });
    assert.equal(r.status, 204);
    assert.equal(r.headers.get('access-control-allow-origin'), '*');
    assert.match(r.headers.get('access-control-allow-methods') ?? '', /POST/);
    assert.match(r.headers.get('access-control-allow-headers') ?? '', /Authorization/);

    // A session whose publisher never connects ends; the file stream keeps going.
    const silent = new TestPublisher();
    try {
      const res = await fetch(`${base}/whip/cam-silent`, {
        method: 'POST',
        headers: auth,
        body: await silent.offer(),
      });
      assert.equal(res.status, 201);
      assert.ok(runtime.stats().some((s) => s.streamId === 'cam-silent'));
      await waitFor('the silent session to end', 15_000, () =>
        runtime.stats().some((s) => s.streamId === 'cam-silent') ? undefined : true,
      );
    } finally {
      await silent.close();
    }
    await sleep(500);
    assert.equal(runtime.stats().find((s) => s.streamId === 'file')?.state, 'running');
    assert.ok(
      results.filter((r) => r.streamId === 'file').length > before,
      'the file stream produced results',
    );
  });
});

test('checkWhipOffer narrows the video section to one H.264 format', () => {
  const offer = [
    'v=0',
    'o=- 1 1 IN IP4 0.0.0.0',
    's=-',
    't=0 0',
    'm=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103',
    'a=mid:0',
    'a=sendonly',
    'a=rtpmap:96 VP8/90000',
    'a=rtcp-fb:96 nack pli',
    'a=rtpmap:97 rtx/90000',
    'a=fmtp:97 apt=96',
    'a=rtpmap:102 H264/90000',
    'a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f',
    'a=rtpmap:103 H264/90000',
    'a=rtcp-fb:103 nack pli',
    'a=fmtp:103 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42E01F',
    '',
  ].join('\r\n');
  const c = checkWhipOffer(offer);
  assert.ok(c.ok);
  assert.equal(c.h264.pt, 103);
  assert.equal(c.h264.profileLevelId, '42e01f');
  assert.match(c.offer, /m=video 9 UDP\/TLS\/RTP\/SAVPF 103\r\n/);
  assert.doesNotMatch(c.offer, /a=rtpmap:(96|97|102) /);
  assert.match(c.offer, /a=rtcp-fb:103 nack pli/);
  const recv = checkWhipOffer(offer.replace('a=sendonly', 'a=recvonly'));
  assert.ok(!recv.ok && /recvonly/.test(recv.message));
  assert.ok(startsKeyframe(Uint8Array.of(0x65, 0x88)));
  assert.ok(startsKeyframe(Uint8Array.of(0x7c, 0x85)), 'FU-A start of an IDR');
  assert.ok(!startsKeyframe(Uint8Array.of(0x7c, 0x05)), 'FU-A middle');
  assert.ok(!startsKeyframe(Uint8Array.of(0x41, 0x9a)));
});

test('EdgeAgent starts the WHIP server with config.whip and closes it with the edge', async () => {
  const { EdgeAgent } = await import('../agent/edge-agent.ts');
  const agent = await EdgeAgent.start(
    parseEdgeConfig({
      edgeId: 'whip-agent',
      modelsDir: MODELS,
      streams: [{ id: 'file', source: VIDEO, realtime: true, loop: true }],
      whip: { port: 0, allowAnonymous: true },
    }),
  );
  let url = '';
  try {
    assert.ok(agent.whip && agent.whip.port > 0);
    url = agent.whip.url;
    const r = await fetch(`${url}/whip/cam1`, { method: 'OPTIONS' });
    assert.equal(r.status, 204);
    // Anonymous: no token needed, and a bad offer still gets its 400.
    const bad = await fetch(`${url}/whip/cam1`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/sdp' },
      body: 'v=0\r\n',
    });
    assert.equal(bad.status, 400);
  } finally {
    await agent.close();
  }
  await assert.rejects(fetch(`${url}/whip/cam1`, { method: 'OPTIONS' }));
});
