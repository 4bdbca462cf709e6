/**
 * Live video through the hub's SFU with a real mediasoup worker: a werift peer plays the edge (real H.264 from
 * the shared test video, packetized by hand, and the `meta` data channel), werift peers play viewers (viewer
 * WebSocket) and a WHEP player. Skipped, saying why, without a mediasoup-worker binary.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { WebSocket } from 'ws';
import {
  type AccessUnit,
  FakeEdgePeer,
  FakeViewerPeer,
  h264Codec,
  JsonSocket,
  readAccessUnits,
  until,
} from '../../test-support/media.ts';
import { EDGE_ERRORS_FOR_TESTS } from '../../test-support/media-fixtures.ts';
import { type HubServer, startHub } from '../server.ts';
import { socketBufferCap } from './socket-buffers.ts';
import { findWorkerBin } from './worker-pool.ts';

const workerBin = findWorkerBin();
const skip = workerBin
  ? false
  : 'no mediasoup-worker binary: run `node scripts/build-mediasoup-worker.mjs` or set MEDIASOUP_WORKER_BIN';

describe('live video through the hub', { skip, timeout: 180_000 }, () => {
  let hub: HubServer;
  let dataDir: string;
  let units: AccessUnit[];
  let profileLevelId: string;
  const tok: Record<string, string> = {};
  /** Why WebRTC media cannot flow with this mediasoup-worker binary (undefined when it can). */
  let dtlsBroken: string | undefined;

  /** Connects one werift publisher; reports a worker that dies in the DTLS handshake (a broken worker build). */
  async function probeDtls(): Promise<string | undefined> {
    let died = false;
    const onRestart = () => {
      died = true;
    };
    hub.media.pool!.on('restart', onRestart);
    try {
      const edge = await publish('dtls-probe', tok.edge2!);
      await edge.stop();
      return undefined;
    } catch (err) {
      return died
        ? 'the mediasoup-worker binary crashes (SIGSEGV in libssl SSL_read) on the DTLS ClientHello of any client ' +
            '(werift and Chromium alike): rebuild it (scripts/build-mediasoup-worker.mjs) against a working OpenSSL'
        : `a werift publisher does not connect: ${(err as Error).message}`;
    } finally {
      await new Promise((r) => setTimeout(r, 1500)); // let a dead worker be replaced
      hub.media.pool!.off('restart', onRestart);
    }
  }
  const wsUrl = (path: string) => hub.url.replace(/^http/, 'ws') + path;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'sightline-media-'));
    hub = await startHub({ port: 0, dataDir, media: { workers: 2 } });
    assert.equal(hub.media.available, true, hub.media.unavailableReason);
    for (const role of ['viewer', 'operator', 'admin', 'edge'] as const) {
      tok[role] = (await hub.tokens.create({ role, edgeId: role === 'edge' ? 'edge-1' : undefined })).token;
    }
    tok.edge2 = (await hub.tokens.create({ role: 'edge', edgeId: 'edge-2' })).token;
    ({ units, profileLevelId } = await readAccessUnits());
    dtlsBroken = await probeDtls();
    if (dtlsBroken) console.warn(`media tests that need DTLS are skipped: ${dtlsBroken}`);
  });
  after(async () => {
    await hub?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** An edge socket with a werift publisher on `streamId`, connected, and a pump sending frames + metadata. */
  async function publish(streamId: string, token = tok.edge!, connect = true) {
    const sock = new JsonSocket(wsUrl('/api/v1/media/edge'), token);
    await sock.opened;
    const peer = new FakeEdgePeer(96, profileLevelId);
    const video = { codec: 'h264', profileLevelId, width: 768, height: 576, fps: 25, transcoded: false };
    sock.send({ t: 'publish', streamId, sdp: await peer.offer(), video });
    const answer = await sock.next((m) => m.t === 'answer' || m.t === 'error', 10_000);
    assert.equal(answer.t, 'answer', JSON.stringify(answer));
    assert.equal(answer.streamId, streamId);
    assert.match(String(answer.sdp), /a=ice-lite/);
    assert.match(String(answer.sdp), /a=setup:passive/);
    if (!connect) {
      return {
        sock,
        peer,
        sent: [] as { rtp: number; meta: string }[],
        answer: String(answer.sdp),
        stop: async () => {
          sock.close();
          await peer.close();
        },
      };
    }
    await peer.answer(String(answer.sdp));
    await until(() => peer.pc.connectionState === 'connected', 10_000, 'the edge peer to connect');
    await until(() => peer.meta?.readyState === 'open', 10_000, 'the meta channel to open');
    const sent: { rtp: number; meta: string }[] = [];
    let i = 0;
    const timer = setInterval(() => {
      const unit = units[i % units.length]!;
      const frame = {
        v: 1,
        seq: i,
        pts: i * 3600,
        w: 768,
        h: 576,
        t: Date.now(),
        sent: Date.now(),
        tracks: [],
        skipped: false,
      };
      const meta = JSON.stringify({ ...frame, rtp: 0 }).replace('"rtp":0', `"rtp":${0}`);
      const rtp = peer.sendUnit(unit, undefined);
      const text = meta.replace('"rtp":0', `"rtp":${rtp}`);
      if (peer.meta?.readyState === 'open') peer.meta.send(text);
      sent.push({ rtp, meta: text });
      i++;
    }, 40);
    return {
      sock,
      peer,
      sent,
      answer: String(answer.sdp),
      async stop() {
        clearInterval(timer);
        sock.close();
        await peer.close();
      },
    };
  }

  /** A viewer socket, authenticated, watching `key` with a werift peer. */
  async function watch(key: string, token = tok.viewer!) {
    const sock = new JsonSocket(wsUrl('/api/v1/media/view'));
    await sock.opened;
    sock.send({ t: 'auth', token });
    await sock.next((m) => m.t === 'streams');
    const peer = new FakeViewerPeer(100);
    const from = sock.got.length;
    sock.send({ t: 'watch', key });
    const offer = await sock.next((m) => m.t === 'offer' || m.t === 'error', 10_000, from);
    assert.equal(offer.t, 'offer', JSON.stringify(offer));
    const sdp = String(offer.sdp);
    assert.match(sdp, /a=sendonly/);
    assert.match(sdp, /m=application \d+ UDP\/DTLS\/SCTP webrtc-datachannel/);
    assert.match(sdp, /a=sctp-port:5000/);
    assert.match(sdp, /a=setup:actpass/);
    assert.deepEqual(offer.dataChannel, { label: 'meta', id: 0 }, 'the negotiated id of the meta channel');
    sock.send({ t: 'answer', key, sdp: await peer.answer(sdp) });
    const offeredPt = Number(/m=video \d+ \S+ (\d+)/.exec(sdp)![1]);
    return {
      sock,
      peer,
      offeredPt,
      async stop() {
        sock.close();
        await peer.close();
      },
    };
  }

  test('a viewer receives the edge RTP (payload type of the offer) and the metadata exactly as sent', async (t) => {
    if (dtlsBroken) return t.skip(dtlsBroken);
    const edge = await publish('cam1');
    try {
      const viewer = await watch('edge-1/cam1');
      try {
        await until(() => viewer.peer.rtp.length > 20, 15_000, 'RTP at the viewer');
        assert.ok(
          viewer.peer.rtp.every((p) => p.pt === viewer.offeredPt),
          'RTP uses the offered payload type',
        );
        await until(() => viewer.peer.messages.length > 5, 10_000, 'metadata at the viewer');
        const sentTexts = new Set(edge.sent.map((s) => s.meta));
        for (const m of viewer.peer.messages) assert.ok(sentTexts.has(m), `metadata arrived unchanged: ${m}`);
        // The RTP timestamps the viewer sees are the ones named in the metadata (polled: under load the data
        // channel may open after the video has been flowing for a while, or the newest meta's packets still travel).
        await until(
          () => {
            const rtpTs = new Set(viewer.peer.rtp.map((p) => p.ts));
            return viewer.peer.messages.some((m) => rtpTs.has(JSON.parse(m).rtp as number));
          },
          10_000,
          'metadata naming the RTP timestamp of packets the viewer received',
        );
        const streams = viewer.sock.got.find((m) => m.t === 'streams') as {
          streams: { key: string; video: unknown }[];
        };
        assert.ok(streams.streams.some((s) => s.key === 'edge-1/cam1'));
        t.diagnostic(
          `${viewer.peer.rtp.length} RTP packets (PT ${viewer.offeredPt}), ${viewer.peer.messages.length} meta messages`,
        );
      } finally {
        await viewer.stop();
      }
    } finally {
      await edge.stop();
    }
  });

  test('a second viewer joining and leaving does not interrupt the first or the producer', async (t) => {
    if (dtlsBroken) return t.skip(dtlsBroken);
    const edge = await publish('cam2');
    try {
      const first = await watch('edge-1/cam2');
      await until(() => first.peer.rtp.length > 10, 15_000, 'RTP at the first viewer');
      const producerId = hub.media.producer('edge-1/cam2')!.id;
      const second = await watch('edge-1/cam2', tok.operator);
      await until(() => second.peer.rtp.length > 10, 15_000, 'RTP at the second viewer');
      await second.stop();
      const before = first.peer.rtp.length;
      await new Promise((r) => setTimeout(r, 600));
      assert.ok(first.peer.rtp.length > before + 5, 'the first viewer keeps receiving');
      const gaps = first.peer.rtp.slice(1).map((p, i) => p.at - first.peer.rtp[i]!.at);
      assert.ok(Math.max(...gaps) < 1000, `no gap over 1 s (max ${Math.max(...gaps)} ms)`);
      assert.equal(hub.media.producer('edge-1/cam2')?.id, producerId, 'same producer');
      await first.stop();
    } finally {
      await edge.stop();
    }
  });

  test('unpublish and the edge socket closing send streams updates; a republish replaces the producer', async () => {
    const viewer = new JsonSocket(wsUrl('/api/v1/media/view'));
    await viewer.opened;
    viewer.send({ t: 'auth', token: tok.admin });
    await viewer.next((m) => m.t === 'streams');
    const has = (key: string) => (m: Record<string, unknown>) =>
      m.t === 'streams' && (m.streams as { key: string }[]).some((s) => s.key === key);
    const lacks = (key: string) => (m: Record<string, unknown>) =>
      m.t === 'streams' && !(m.streams as { key: string }[]).some((s) => s.key === key);

    const edge = await publish('cam3', tok.edge, false);
    await viewer.next(has('edge-1/cam3'));
    let from = viewer.got.length;
    edge.sock.send({ t: 'unpublish', streamId: 'cam3' });
    await viewer.next(lacks('edge-1/cam3'), 5000, from);
    await edge.stop();

    const again = await publish('cam3', tok.edge, false);
    const firstProducer = hub.media.producer('edge-1/cam3')!.id;
    const replaced = await publish('cam3', tok.edge, false);
    assert.notEqual(
      hub.media.producer('edge-1/cam3')!.id,
      firstProducer,
      'the newer publish replaced the producer',
    );
    await again.stop(); // the old socket closing must not end the newer publication
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(hub.media.producer('edge-1/cam3'), 'the replacing publication survives the old socket');
    from = viewer.got.length;
    replaced.sock.close();
    await viewer.next(lacks('edge-1/cam3'), 5000, from);
    await replaced.peer.close();
    await replaced.stop();
    viewer.close();
  });

  test('viewer socket auth: no/bad token 4401, weak role 4403; the edge socket refuses non-edge tokens', async () => {
    const cases: [string | undefined, number][] = [
      [undefined, 4401],
      [`slt_0123456789abcdef_${'A'.repeat(43)}`, 4401],
      ['garbage', 4401],
      [tok.edge, 4403],
    ];
    for (const [token, code] of cases) {
      const s = new JsonSocket(wsUrl('/api/v1/media/view'));
      await s.opened;
      s.send(token === undefined ? { t: 'watch', key: 'edge-1/x' } : { t: 'auth', token });
      const closed = await s.closed;
      assert.equal(closed.code, code, `token ${token?.slice(0, 8)}`);
      assert.equal(s.got[0]?.t, 'error');
      assert.equal(s.got[0]?.code, code === 4401 ? 'UNAUTHORIZED' : 'FORBIDDEN');
    }
    for (const [token, status] of [
      [undefined, 401],
      ['garbage', 401],
      [tok.viewer, 403],
      [tok.admin, 403],
    ] as const) {
      const s = new JsonSocket(wsUrl('/api/v1/media/edge'), token);
      await assert.rejects(s.opened, new RegExp(`HTTP ${status}`));
    }
    const silent = new JsonSocket(wsUrl('/api/v1/media/view'));
    await silent.opened;
    const closed = await silent.closed;
    assert.equal(closed.code, 4401, 'no auth within 5 s');
  });

  test('malformed messages get error replies and the sockets stay open', async () => {
    const edgeSock = new JsonSocket(wsUrl('/api/v1/media/edge'), tok.edge2);
    await edgeSock.opened;
    const cases: [unknown, string][] = [
      ['not json', 'BAD_MESSAGE'],
      [{ t: 'dance' }, 'BAD_MESSAGE'],
      // The discriminator is `t` (as on the uplink): the old `type` key names no message.
      [{ type: 'publish', streamId: 'c', sdp: 'v=0', video: { codec: 'h264' } }, 'BAD_MESSAGE'],
      [{ t: 'publish', streamId: 'c' }, 'BAD_MESSAGE'],
      [{ t: 'publish', streamId: '../x', sdp: 'v=0', video: { codec: 'h264' } }, 'BAD_MESSAGE'],
      [{ t: 'publish', streamId: 'c', sdp: 'x'.repeat(200_000), video: { codec: 'h264' } }, 'BAD_MESSAGE'],
      [{ t: 'publish', streamId: 'c', sdp: 'hello', video: { codec: 'h264' } }, 'SDP_INVALID'],
      [{ t: 'publish', streamId: 'c', sdp: 'v=0\r\nm=video\r\n', video: { codec: 'h264' } }, 'SDP_INVALID'],
      ...EDGE_ERRORS_FOR_TESTS,
    ];
    for (const [msg, code] of cases) {
      const from = edgeSock.got.length;
      edgeSock.send(msg);
      const err = await edgeSock.next((m) => m.t === 'error', 5000, from);
      assert.equal(err.code, code, `${JSON.stringify(msg).slice(0, 80)} -> ${JSON.stringify(err)}`);
    }
    assert.equal(edgeSock.ws.readyState, WebSocket.OPEN);

    const view = new JsonSocket(wsUrl('/api/v1/media/view'));
    await view.opened;
    view.send({ t: 'auth', token: tok.viewer });
    await view.next((m) => m.t === 'streams');
    const viewCases: [unknown, string][] = [
      ['{', 'BAD_MESSAGE'],
      [{ t: 'dance' }, 'BAD_MESSAGE'],
      [{ t: 'watch' }, 'BAD_MESSAGE'],
      [{ t: 'watch', key: 'nope/nope' }, 'STREAM_UNKNOWN'],
      [{ t: 'answer', key: 'nope/nope', sdp: 'v=0' }, 'STREAM_UNKNOWN'],
      [{ t: 'watch', key: 'x'.repeat(200_000) }, 'BAD_MESSAGE'],
    ];
    for (const [msg, code] of viewCases) {
      const from = view.got.length;
      view.send(msg);
      const err = await view.next((m) => m.t === 'error', 5000, from);
      assert.equal(err.code, code, `${JSON.stringify(msg).slice(0, 80)} -> ${JSON.stringify(err)}`);
    }
    // A bad answer to a real offer.
    const edge = await publish('cam4', tok.edge, false);
    let from = view.got.length;
    view.send({ t: 'watch', key: 'edge-1/cam4' });
    const offer = await view.next((m) => m.t === 'offer', 5000, from);
    // The hub's offer to a viewer: ICE-lite, actpass, sendonly H.264 as published, the meta data channel.
    const sdp = String(offer.sdp);
    for (const re of [
      /a=ice-lite/,
      /a=setup:actpass/,
      /a=sendonly/,
      new RegExp(`a=fmtp:\\d+ .*profile-level-id=${profileLevelId}`),
      /a=rtcp-fb:\d+ nack pli/,
      /a=ssrc:\d+ cname:/,
      /m=application \d+ UDP\/DTLS\/SCTP webrtc-datachannel/,
      /a=sctp-port:5000/,
      /a=candidate:\S+ 1 udp \d+ 127\.0\.0\.1 \d+ typ host/,
    ]) {
      assert.match(sdp, re);
    }
    assert.deepEqual(offer.dataChannel, { label: 'meta', id: 0 });
    from = view.got.length;
    view.send({ t: 'answer', key: 'edge-1/cam4', sdp: 'v=0\r\ns=-\r\n' });
    const bad = await view.next((m) => m.t === 'error', 5000, from);
    assert.equal(bad.code, 'SDP_INVALID');
    assert.equal(bad.key, 'edge-1/cam4');
    assert.equal(view.ws.readyState, WebSocket.OPEN);
    view.close();
    edgeSock.close();
    await edge.stop();
    assert.equal((await fetch(`${hub.url}/health`)).status, 200, 'the hub is still up');
  });

  test('WHEP: a werift player gets the video (payload type it offered), DELETE ends the session', async (t) => {
    if (dtlsBroken) t.diagnostic(`RTP not checked: ${dtlsBroken}`);
    const edge = dtlsBroken ? await publish('cam5', tok.edge, false) : await publish('cam5');
    try {
      const auth = { authorization: `Bearer ${tok.viewer}` };
      const none = await fetch(`${hub.url}/api/v1/whep/edge-1/cam5`, { method: 'POST', body: 'v=0' });
      assert.equal(none.status, 401);
      const { RTCPeerConnection } = await import('werift');
      for (const pt of [96, 125]) {
        const pc = new RTCPeerConnection({
          bundlePolicy: 'max-bundle',
          codecs: { video: [h264Codec(pt - 1, '42e01f'), h264Codec(pt, profileLevelId)] },
        });
        const got: number[] = [];
        pc.addTransceiver('video', { direction: 'recvonly' }).onTrack.subscribe((track) =>
          track.onReceiveRtp.subscribe((p) => got.push(p.header.payloadType)),
        );
        await pc.setLocalDescription(await pc.createOffer());
        const res = await fetch(`${hub.url}/api/v1/whep/edge-1/cam5`, {
          method: 'POST',
          headers: { ...auth, 'content-type': 'application/sdp' },
          body: pc.localDescription!.sdp,
        });
        const answer = await res.text();
        assert.equal(res.status, 201, answer);
        assert.equal(res.headers.get('content-type'), 'application/sdp');
        const location = res.headers.get('location')!;
        assert.match(location, /^\/api\/v1\/whep\/sessions\/[\w-]+$/);
        const answeredPt = Number(/m=video \d+ \S+ (\d+)/.exec(answer)![1]);
        assert.match(answer, new RegExp(`a=rtpmap:${answeredPt} H264/90000`));
        assert.match(answer, /a=sendonly/);
        assert.match(answer, /a=ice-lite/);
        assert.equal(answeredPt, pt, 'the answer uses the payload type the player offered for the profile');
        t.diagnostic(
          `WHEP offer H264 PTs ${pt - 1} (42e01f) / ${pt} (${profileLevelId}): answered PT ${answeredPt}`,
        );
        if (!dtlsBroken) {
          await pc.setRemoteDescription({ type: 'answer', sdp: answer });
          // Past a few keyframes (a GOP is 20 frames, an IDR ~30 packets sent back to back).
          await until(() => got.length > 250, 15_000, `WHEP RTP (offered PT ${pt})`);
          assert.ok(
            got.every((p) => p === answeredPt),
            `RTP PT ${got[0]} is the answered ${answeredPt}`,
          );
          // What the session's consumer gets from its producer (over the pipe when the payload type differs) lost
          // nothing: that pipe's socket once dropped every keyframe's burst of packets, so no player decoded a frame.
          const session = hub.media.session(location.split('/').pop()!)!;
          const inbound = (await session.consumer.getStats()).find((x) => x.type === 'inbound-rtp');
          assert.ok(
            inbound && inbound.packetCount > 250,
            `the consumer's source counted ${inbound?.packetCount}`,
          );
          // Only where the kernel grants the buffers the hub asks for (net.core.rmem_max / wmem_max).
          const capped = socketBufferCap(2 * 1024 * 1024);
          if (capped) t.diagnostic(`packet loss not checked: ${capped} (lost ${inbound.packetsLost})`);
          else assert.equal(inbound.packetsLost, 0, `packets lost before the consumer (PT ${pt})`);
        }
        const del = await fetch(hub.url + location, { method: 'DELETE', headers: auth });
        assert.equal(del.status, 204);
        const again = await fetch(hub.url + location, { method: 'DELETE', headers: auth });
        assert.equal(again.status, 404);
        await pc.close();
      }
      const unknown = await fetch(`${hub.url}/api/v1/whep/edge-1/nope`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/sdp' },
        body: 'v=0\r\n',
      });
      assert.equal(unknown.status, 404);
      const badSdp = await fetch(`${hub.url}/api/v1/whep/edge-1/cam5`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/sdp' },
        body: 'nonsense',
      });
      assert.equal(badSdp.status, 400);
      assert.equal(((await badSdp.json()) as { error: { code: string } }).error.code, 'SDP_INVALID');
      const wrongType = await fetch(`${hub.url}/api/v1/whep/edge-1/cam5`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'text/plain' },
        body: 'v=0',
      });
      assert.equal(wrongType.status, 415);
    } finally {
      await edge.stop();
    }
  });

  test('a dead worker is restarted; its streams go away and can be published again', async () => {
    const viewer = new JsonSocket(wsUrl('/api/v1/media/view'));
    await viewer.opened;
    viewer.send({ t: 'auth', token: tok.viewer });
    await viewer.next((m) => m.t === 'streams');
    const edge = await publish('cam6', tok.edge, false);
    const has = (m: Record<string, unknown>) =>
      m.t === 'streams' && (m.streams as { key: string }[]).some((s) => s.key === 'edge-1/cam6');
    await viewer.next(has);
    const restarts = async () =>
      Number(/sightline_hub_media_worker_restarts_total (\d+)/.exec(await metricsText())?.[1] ?? 0);
    const metricsText = async () =>
      (await fetch(`${hub.url}/metrics`, { headers: { authorization: `Bearer ${tok.viewer}` } })).text();
    const before = await restarts();
    const pids = hub.media.pool!.pids;
    const from = viewer.got.length;
    for (const pid of pids) if (pid) process.kill(pid, 'SIGKILL');
    await viewer.next((m) => m.t === 'streams' && !has(m), 5000, from);
    await until(() => hub.media.pool!.pids.every((p) => p && !pids.includes(p)), 10_000, 'new workers');
    assert.ok((await restarts()) >= before + pids.length, 'restarts counted');
    assert.match(await metricsText(), /sightline_hub_media_publications \d+/);
    await edge.stop();
    const again = await publish('cam6', tok.edge, false);
    await viewer.next(has, 5000, from + 1);
    await again.stop();
    viewer.close();
  });
});
