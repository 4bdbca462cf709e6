/**
 * mediasoup smoke test: the worker binary the project provides (scripts/build-mediasoup-worker.mjs; on a machine
 * without internet it is built from source against Debian's libraries with the deploy/mediasoup shims) starts,
 * and a Router with the hub's codecs, WebRTC / plain / SCTP transports and an SRTP pipe between two routers work.
 *
 * The worker is MEDIASOUP_WORKER_BIN, else the cache path of scripts/build-mediasoup-worker.mjs
 * (${MEDIASOUP_WORKER_CACHE:-$HOME/.cache/sightline/mediasoup-worker-<version>}/mediasoup-worker), else the one
 * mediasoup's own postinstall puts in node_modules. With none of them the test is skipped, saying so.
 */
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type * as Mediasoup from 'mediasoup';

const require = createRequire(import.meta.url);
const mediasoupDir = resolve(dirname(require.resolve('mediasoup')), '..', '..');
const mediasoupVersion: string = JSON.parse(readFileSync(join(mediasoupDir, 'package.json'), 'utf8')).version;

function findWorkerBin(): string | undefined {
  const candidates = [
    process.env.MEDIASOUP_WORKER_BIN,
    join(
      process.env.MEDIASOUP_WORKER_CACHE ||
        join(homedir(), '.cache', 'sightline', `mediasoup-worker-${mediasoupVersion}`),
      'mediasoup-worker',
    ),
    join(mediasoupDir, 'worker', 'out', 'Release', 'mediasoup-worker'),
  ];
  return candidates.find((p): p is string => !!p && existsSync(p));
}

const workerBin = findWorkerBin();
const skip = workerBin
  ? false
  : `no mediasoup-worker binary for mediasoup ${mediasoupVersion}: run \`node scripts/build-mediasoup-worker.mjs\` ` +
    '(builds it from source on Debian with the packages in .ci/apt-packages.txt) or set MEDIASOUP_WORKER_BIN';

const mediaCodecs: Mediasoup.types.RouterRtpCodecCapability[] = [
  { kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 },
  { kind: 'video', mimeType: 'video/VP8', clockRate: 90000 },
  {
    kind: 'video',
    mimeType: 'video/H264',
    clockRate: 90000,
    parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1 },
  },
  {
    kind: 'video',
    mimeType: 'video/H264',
    clockRate: 90000,
    parameters: { 'packetization-mode': 1, 'profile-level-id': '640032', 'level-asymmetry-allowed': 1 },
  },
];

/** A minimal RTP packet (RFC 3550 fixed header) carrying `payload`. */
function rtpPacket(
  payloadType: number,
  seq: number,
  timestamp: number,
  ssrc: number,
  payload: Buffer,
): Buffer {
  const header = Buffer.alloc(12);
  header[0] = 0x80;
  header[1] = payloadType & 0x7f;
  header.writeUInt16BE(seq & 0xffff, 2);
  header.writeUInt32BE(timestamp >>> 0, 4);
  header.writeUInt32BE(ssrc >>> 0, 8);
  return Buffer.concat([header, payload]);
}

/** The payload of an RTP packet: after the fixed header, the CSRCs and the header extension (mediasoup adds one). */
function rtpPayload(packet: Buffer): Buffer {
  let offset = 12 + 4 * (packet[0]! & 0x0f);
  if (packet[0]! & 0x10) offset += 4 + 4 * packet.readUInt16BE(offset + 2);
  return packet.subarray(offset);
}

function bindUdp(): Promise<Socket> {
  return new Promise((resolveSocket, reject) => {
    const s = createSocket('udp4');
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => resolveSocket(s));
  });
}

describe('mediasoup worker', () => {
  let mediasoup: typeof Mediasoup;
  let worker: Mediasoup.types.Worker;

  before(async () => {
    if (!workerBin) return;
    // mediasoup reads MEDIASOUP_WORKER_BIN when it is first imported: set it before the import.
    process.env.MEDIASOUP_WORKER_BIN = workerBin;
    mediasoup = await import('mediasoup');
    worker = await mediasoup.createWorker({ logLevel: 'warn', rtcMinPort: 40000, rtcMaxPort: 49999 });
  });

  after(() => worker?.close());

  test('router with opus, VP8 and H264 (42e01f, 640032), WebRTC / plain / SCTP transports', {
    skip,
  }, async (t) => {
    t.diagnostic(`mediasoup ${mediasoup.version}, worker ${workerBin} (pid ${worker.pid})`);
    const router = await worker.createRouter({ mediaCodecs });
    const codecs = router.rtpCapabilities.codecs ?? [];
    assert.ok(codecs.some((c) => c.mimeType === 'audio/opus'));
    assert.ok(codecs.some((c) => c.mimeType === 'video/VP8'));
    for (const profile of ['42e01f', '640032']) {
      assert.ok(
        codecs.some(
          (c) =>
            c.mimeType === 'video/H264' &&
            c.parameters?.['profile-level-id'] === profile &&
            c.parameters?.['packetization-mode'] === 1,
        ),
        `H264 ${profile} in the router's capabilities`,
      );
    }

    const webRtc = await router.createWebRtcTransport({
      listenInfos: [{ protocol: 'udp', ip: '127.0.0.1' }],
    });
    assert.equal(webRtc.iceCandidates[0]?.address, '127.0.0.1');
    assert.equal(webRtc.dtlsParameters.fingerprints.length > 0, true);

    const plain = await router.createPlainTransport({
      listenInfo: { protocol: 'udp', ip: '127.0.0.1' },
      rtcpMux: true,
    });
    assert.equal(plain.tuple.localAddress, '127.0.0.1');

    const sctp = await router.createWebRtcTransport({
      listenInfos: [{ protocol: 'udp', ip: '127.0.0.1' }],
      enableSctp: true,
      numSctpStreams: { OS: 1024, MIS: 1024 },
    });
    assert.ok(sctp.sctpParameters, 'SCTP parameters on an enableSctp transport');
    const dataProducer = await sctp.produceData({
      sctpStreamParameters: { streamId: 0, ordered: true },
      label: 'tracks',
    });
    assert.equal(dataProducer.type, 'sctp');

    t.diagnostic(`router ${router.id}`);
    t.diagnostic(
      `webrtc transport ${webRtc.id} (ice ${webRtc.iceCandidates[0]?.address}:${webRtc.iceCandidates[0]?.port})`,
    );
    t.diagnostic(`plain transport ${plain.id} (${plain.tuple.localAddress}:${plain.tuple.localPort})`);
    t.diagnostic(
      `sctp transport ${sctp.id} (sctp port ${sctp.sctpParameters?.port}), data producer ${dataProducer.id}`,
    );

    router.close();
    assert.equal(webRtc.closed, true);
    assert.equal(plain.closed, true);
    assert.equal(dataProducer.closed, true);
  });

  test('RTP in over a plain transport, through an SRTP pipe to a second router, and out again', {
    skip,
  }, async (t) => {
    const router1 = await worker.createRouter({ mediaCodecs });
    const router2 = await worker.createRouter({ mediaCodecs });
    const sender = await bindUdp();
    const receiver = await bindUdp();
    try {
      const ingress = await router1.createPlainTransport({
        listenInfo: { protocol: 'udp', ip: '127.0.0.1' },
        rtcpMux: true,
        comedia: true,
      });
      const ssrc = 0x1234abcd;
      const producer = await ingress.produce({
        kind: 'audio',
        rtpParameters: {
          codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }],
          encodings: [{ ssrc }],
        },
      });
      // An SRTP pipe between the routers, as router.pipeToRouter({ enableSrtp: true }) makes it: every packet is
      // encrypted by one pipe transport and decrypted by the other (libsrtp, through the libsrtp 2 compat header
      // when the worker was built from source).
      const listenInfo = { protocol: 'udp', ip: '127.0.0.1' } as const;
      const pipe1 = await router1.createPipeTransport({ listenInfo, enableSrtp: true });
      const pipe2 = await router2.createPipeTransport({ listenInfo, enableSrtp: true });
      assert.ok(pipe1.srtpParameters && pipe2.srtpParameters, 'SRTP keys on the pipe transports');
      await pipe1.connect({
        ip: '127.0.0.1',
        port: pipe2.tuple.localPort,
        srtpParameters: pipe2.srtpParameters,
      });
      await pipe2.connect({
        ip: '127.0.0.1',
        port: pipe1.tuple.localPort,
        srtpParameters: pipe1.srtpParameters,
      });
      const pipeConsumer = await pipe1.consume({ producerId: producer.id });
      // Both routers live in one worker, where ids must be unique: the piped producer gets a new id.
      const pipeProducer = await pipe2.produce({
        kind: pipeConsumer.kind,
        rtpParameters: pipeConsumer.rtpParameters,
      });

      const egress = await router2.createPlainTransport({
        listenInfo: { protocol: 'udp', ip: '127.0.0.1' },
        rtcpMux: true,
        comedia: false,
      });
      await egress.connect({ ip: '127.0.0.1', port: receiver.address().port });
      const consumer = await egress.consume({
        producerId: pipeProducer.id,
        rtpCapabilities: router2.rtpCapabilities,
      });

      const received: Buffer[] = [];
      receiver.on('message', (msg) => received.push(msg));

      const payload = Buffer.from([0xf8, 0xff, 0xfe]); // an Opus "silence" frame
      for (let i = 0; i < 50 && received.length < 10; i++) {
        sender.send(rtpPacket(100, 1000 + i, 960 * i, ssrc, payload), ingress.tuple.localPort, '127.0.0.1');
        await new Promise((r) => setTimeout(r, 20));
      }
      const deadline = Date.now() + 2000;
      while (received.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));

      assert.ok(received.length > 0, 'RTP came out of the second router');
      const first = received[0]!;
      assert.equal(first[0]! >> 6, 2, 'RTP version 2');
      assert.equal(first.readUInt32BE(8), consumer.rtpParameters.encodings?.[0]?.ssrc, 'consumer SSRC');
      assert.deepEqual(rtpPayload(first), payload, 'payload unchanged after SRTP protect / unprotect');
      const [pipeStats] = await pipe2.getStats();
      assert.ok(
        (pipeStats?.rtpBytesReceived ?? 0) > 0,
        'the second pipe transport received (and decrypted) RTP',
      );
      t.diagnostic(
        `${received.length} RTP packets through the SRTP pipe (${pipe1.srtpParameters.cryptoSuite}, ` +
          `${pipeStats?.rtpBytesReceived} bytes), pipe transports ${pipe1.id} / ${pipe2.id}, consumer ${consumer.id}`,
      );
      // On Linux >= 6 the worker sends through io_uring (the liburing compat header's io_uring_prep_sendto).
      const { liburing } = await worker.dump();
      t.diagnostic(
        liburing
          ? `io_uring sends: ${liburing.sqeProcessCount} (misses ${liburing.sqeMissCount})`
          : 'io_uring: off',
      );
    } finally {
      sender.close();
      receiver.close();
      router1.close();
      router2.close();
    }
  });
});
