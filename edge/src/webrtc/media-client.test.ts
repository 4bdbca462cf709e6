import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { type StreamStats, TypedEmitter } from '@sightline/shared';
import { Demuxer } from 'node-av/api';
import { RTCPeerConnection, RTCRtpCodecParameters } from 'werift';
import { WebSocketServer } from 'ws';
import type { StreamInfo } from '../sources/protocol.ts';
import { EdgeMediaClient, mediaUrl } from './media-client.ts';
import type { MediaRuntimeEvents } from './runtime-contracts.ts';
import { closePeer, WERIFT_BUNDLE } from './werift-ice.ts';

const dir = process.env.SIGHTLINE_MEDIA_DIR;
const TOKEN = 'slt_0123456789abcdef_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx';

class FakeRuntime extends TypedEmitter<MediaRuntimeEvents> {
  infos = new Map<string, StreamInfo>();
  stats(): StreamStats[] {
    return [...this.infos.keys()].map((streamId) => ({ streamId, state: 'running' }) as StreamStats);
  }
  streamInfo(id: string): StreamInfo | undefined {
    return this.infos.get(id);
  }
  readonly keyframeRequests: string[] = [];
  requestKeyframe(id: string): boolean {
    this.keyframeRequests.push(id);
    return true;
  }
}

function mp4Info(): StreamInfo {
  const d = Demuxer.openSync(join(dir ?? '', 'vtest_h264.mp4'));
  const par = d.video()!.codecpar;
  const extradata = new Uint8Array(par.extradata!);
  d.closeSync();
  return {
    codec: 'h264',
    width: 768,
    height: 576,
    fps: 10,
    timeBase: { num: 1, den: 10240 },
    extradata,
    hasBFrames: false,
    outputWidth: 416,
    outputHeight: 416,
    backend: 'node-av',
  };
}

/** Every fake-hub peer connection, closed after each test (one answering late must not keep the process alive). */
const answering: RTCPeerConnection[] = [];

async function answer(offer: string): Promise<{ pc: RTCPeerConnection; sdp: string }> {
  const pc = new RTCPeerConnection({
    bundlePolicy: WERIFT_BUNDLE,
    codecs: {
      video: [
        new RTCRtpCodecParameters({
          mimeType: 'video/H264',
          clockRate: 90_000,
          parameters: 'packetization-mode=1;profile-level-id=42e01f',
        }),
      ],
      audio: [],
    },
    iceServers: [],
  });
  answering.push(pc);
  await pc.setRemoteDescription({ type: 'offer', sdp: offer });
  await pc.setLocalDescription(await pc.createAnswer());
  while (pc.iceGatheringState !== 'complete') await new Promise((r) => setTimeout(r, 10));
  return { pc, sdp: pc.localDescription!.sdp };
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    ),
  );
}

function until<T>(what: string, ms: number, poll: () => T | undefined): Promise<T> {
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
    }, 10);
  });
}

test('mediaUrl', () => {
  assert.equal(mediaUrl('https://hub.example:8443/x'), 'wss://hub.example:8443/api/v1/media/edge');
  assert.equal(mediaUrl('http://h'), 'ws://h/api/v1/media/edge');
  assert.throws(() => mediaUrl('ftp://h'), /http\(s\)/);
});

test('publishes with the docs/webrtc.md message, republishes after a reconnect, unpublishes a removed stream', {
  skip: dir ? false : 'SIGHTLINE_MEDIA_DIR is not set',
  timeout: 30_000,
}, async () => {
  const server = createServer();
  const wss = new WebSocketServer({ noServer: true });
  const messages: Record<string, unknown>[] = [];
  const auth: (string | undefined)[] = [];
  const peers: RTCPeerConnection[] = [];
  server.on('upgrade', (req, socket, head) => {
    if (req.url !== '/api/v1/media/edge') {
      socket.end('HTTP/1.1 404 Not Found\r\n\r\n');
      return;
    }
    auth.push(req.headers.authorization);
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('message', async (data) => {
        const m = JSON.parse(data.toString()) as Record<string, unknown>;
        messages.push(m);
        if (m.t === 'publish') {
          const { pc, sdp } = await answer(m.sdp as string);
          peers.push(pc);
          ws.send(JSON.stringify({ t: 'answer', streamId: m.streamId, sdp }));
        }
      });
    });
  });
  const url = await listen(server);
  const runtime = new FakeRuntime();
  runtime.infos.set('cam1', mp4Info());
  const client = new EdgeMediaClient({
    hubUrl: url,
    token: TOKEN,
    runtime,
    backoff: { initialDelayMs: 50, maxDelayMs: 200 },
  });
  try {
    client.start();
    const publish = await until('publish', 10_000, () => messages.find((m) => m.t === 'publish'));
    assert.equal(auth[0], `Bearer ${TOKEN}`);
    assert.equal(publish.streamId, 'cam1');
    assert.deepEqual(publish.video, {
      codec: 'h264',
      profileLevelId: '4d401f',
      width: 768,
      height: 576,
      fps: 10,
      transcoded: false,
    });
    const sdp = publish.sdp as string;
    assert.match(sdp, /m=video .*\r?\n/);
    assert.match(sdp, /a=sendonly/);
    assert.match(sdp, /H264\/90000/);
    assert.match(sdp, /packetization-mode=1;level-asymmetry-allowed=1;profile-level-id=4d401f/);
    assert.match(sdp, /m=application .*webrtc-datachannel/);
    await until('connected', 10_000, () =>
      client.publisher('cam1')?.state === 'connected' ? true : undefined,
    );
    // A PLI from the hub reaches the runtime as a keyframe request for the stream (a re-encoded one makes an IDR).
    const ssrc = Number(/a=ssrc:(\d+)/.exec(sdp)![1]);
    await peers[0]!.getTransceivers()[0]!.receiver.sendRtcpPLI(ssrc);
    await until('a keyframe request', 5000, () => (runtime.keyframeRequests.length ? true : undefined));
    assert.deepEqual(runtime.keyframeRequests, ['cam1']);
    assert.equal(client.publisher('cam1')?.stats().keyframeRequests, 1);
    // The hub drops the socket: peer connections go, the client reconnects and publishes again.
    for (const ws of wss.clients) ws.terminate();
    await until('republish', 10_000, () =>
      messages.filter((m) => m.t === 'publish').length >= 2 ? true : undefined,
    );
    assert.equal(client.stats().reconnects, 1);
    // A hub error without a pending publish is logged, not thrown.
    for (const ws of wss.clients) ws.send(JSON.stringify({ t: 'error', code: 'BAD_MESSAGE', message: 'x' }));
    for (const ws of wss.clients) ws.send('not json');
    await until('answered', 10_000, () => (client.publisher('cam1') ? true : undefined));
    runtime.emit('stream-removed', 'cam1');
    await until('unpublish', 5000, () => messages.find((m) => m.t === 'unpublish'));
    assert.equal(client.publisher('cam1'), undefined);
    assert.equal(client.stats().hubErrors, 1);
  } finally {
    await client.close();
    wss.close();
    await new Promise((r) => setTimeout(r, 300)); // a publish answered late
    for (const pc of answering.splice(0)) await closePeer(pc);
    server.close();
  }
});

test('a hub without the media endpoint (404) is retried quietly at the slowest backoff', {
  timeout: 10_000,
}, async () => {
  let attempts = 0;
  const server = createServer((_req, res) => res.writeHead(404).end());
  server.on('upgrade', (_req, socket) => {
    attempts++;
    socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
  });
  const url = await listen(server);
  const runtime = new FakeRuntime();
  const client = new EdgeMediaClient({
    hubUrl: url,
    token: TOKEN,
    runtime,
    backoff: { initialDelayMs: 10, maxDelayMs: 300, jitter: 0 },
  });
  try {
    client.start();
    await new Promise((r) => setTimeout(r, 1000));
    // 10 ms doubling would be many attempts; at 300 ms it is about 4.
    assert.ok(attempts >= 2 && attempts <= 5, `${attempts} attempts`);
    assert.equal(client.connected, false);
  } finally {
    await client.close();
    server.close();
  }
});
