/**
 * One WHIP publisher: its werift peer connection, the RTP it forwards to FFmpeg (through an SDP file registered for
 * `whip://<streamId>`), its timeouts and keyframe requests, and its teardown.
 */
import { randomUUID } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '@sightline/shared';
import type { RTCPeerConnection, RTCRtpTransceiver } from 'werift';
import { registerWhipInput } from '../sources/whip-inputs.ts';
import type { WhipRuntime } from './runtime-contracts.ts';
import { KeyframeWatch } from './whip-keyframes.ts';
import { answerOffer, type IceServer, whipPeerConnection } from './whip-peer.ts';
import { type OfferedH264, rtpInputSdp } from './whip-sdp.ts';
import { freeRtpPort, RtpForwarder } from './whip-udp.ts';

/** One live WHIP session as reported by WhipServer.sessions(). */
export interface WhipSessionInfo {
  id: string;
  streamId: string;
  state: 'connecting' | 'connected' | 'ending';
  createdAt: number;
  /** RTP packets forwarded to the decoder. */
  packets: number;
  /** Keyframe starts seen. */
  keyframes: number;
  /** Keyframe requests (RTCP PLI) sent to the publisher. */
  plis: number;
  profileLevelId?: string;
}

export interface WhipSessionOptions {
  streamId: string;
  h264: OfferedH264;
  /** The checked (narrowed) SDP offer. */
  offer: string;
  runtime: WhipRuntime;
  log: Logger;
  iceServers: IceServer[];
  /** The folder for the SDP file FFmpeg opens. */
  sdpDir: () => Promise<string>;
  /** A session whose peer has not connected this long after the answer ends. */
  connectTimeoutMs: number;
  /** A connected session that has received no RTP this long ends. */
  idleTimeoutMs: number;
  /** How often to check whether a keyframe is needed. */
  keyframeCheckMs: number;
  /** Runs once the session has ended (its teardown done). */
  onEnded: (session: WhipSession) => void;
}

/** A WHIP publisher's session; open() answers the offer and starts it, end() tears it down. */
export class WhipSession {
  readonly id = randomUUID();
  readonly streamId: string;
  readonly createdAt = Date.now();
  readonly h264: OfferedH264;
  readonly #o: WhipSessionOptions;
  readonly #pc: RTCPeerConnection;
  readonly #rtp: RtpForwarder;
  readonly #sdpPath: string;
  readonly #unregister: () => void;
  readonly #transceiver: RTCRtpTransceiver | undefined;
  readonly #keyframes = new KeyframeWatch();
  readonly #timers: NodeJS.Timeout[] = [];
  #state: WhipSessionInfo['state'] = 'connecting';
  /** When the last RTP packet arrived (or the peer connected). */
  #rtpAt = 0;
  #ended: Promise<void> | undefined;
  /** The runtime has the stream (addStream resolved). */
  added = false;

  /**
   * Answer the offer, write the SDP FFmpeg opens and start forwarding (the stream is not added to the runtime yet).
   * Closes the peer connection when a step fails.
   */
  static async open(o: WhipSessionOptions): Promise<{ session: WhipSession; answer: string }> {
    const pc = whipPeerConnection(o.h264, o.iceServers);
    // Tracks appear while the offer is applied; their RTP goes to the session once it exists.
    let session: WhipSession | undefined;
    pc.onTrack.subscribe((track) => {
      if (track.kind !== 'video') return; // audio, if any, is not forwarded
      track.onReceiveRtp.subscribe((rtp) => {
        if (session) session.#forward(rtp.header.ssrc, rtp.serialize(), rtp.payload);
      });
    });
    const answer = await answerOffer(pc, o.offer, o.iceServers);
    let port: number;
    let sdpPath: string;
    try {
      port = await freeRtpPort();
      sdpPath = join(await o.sdpDir(), `${o.streamId}-${port}.sdp`);
      await writeFile(sdpPath, rtpInputSdp(o.streamId, port, o.h264));
    } catch (err) {
      await pc.close().catch(() => {});
      throw err;
    }
    session = new WhipSession(o, pc, port, sdpPath);
    return { session, answer };
  }

  private constructor(o: WhipSessionOptions, pc: RTCPeerConnection, port: number, sdpPath: string) {
    this.#o = o;
    this.streamId = o.streamId;
    this.h264 = o.h264;
    this.#pc = pc;
    this.#sdpPath = sdpPath;
    this.#rtp = new RtpForwarder(port, o.h264.pt, (err) =>
      o.log.debug({ stream: o.streamId, err: err.message }, 'RTP forward error'),
    );
    this.#unregister = registerWhipInput(o.streamId, sdpPath);
    this.#transceiver = pc.getTransceivers().find((t) => t.kind === 'video');
    pc.connectionStateChange.subscribe((state) => {
      if (state === 'connected' && this.#state === 'connecting') {
        this.#state = 'connected';
        this.#rtpAt = Date.now();
        o.log.info({ stream: o.streamId, session: this.id }, 'WHIP publisher connected');
      }
      if (state === 'failed' || state === 'closed') void this.end(`peer connection ${state}`);
    });
    this.#timers.push(
      setTimeout(() => {
        if (this.#state === 'connecting') void this.end('the publisher did not connect in time');
      }, o.connectTimeoutMs),
      setInterval(() => this.#tick(), o.keyframeCheckMs),
    );
  }

  get state(): WhipSessionInfo['state'] {
    return this.#state;
  }

  /** The local UDP port FFmpeg receives on. */
  get port(): number {
    return this.#rtp.port;
  }

  /** Resolves when the session has ended; undefined while it has not begun ending. */
  get ended(): Promise<void> | undefined {
    return this.#ended;
  }

  info(): WhipSessionInfo {
    return {
      id: this.id,
      streamId: this.streamId,
      state: this.#state,
      createdAt: this.createdAt,
      packets: this.#rtp.packets,
      keyframes: this.#rtp.keyframes,
      plis: this.#keyframes.plis,
      ...(this.h264.profileLevelId ? { profileLevelId: this.h264.profileLevelId } : {}),
    };
  }

  /** A viewer of the stream needs a keyframe: ask the publisher (at most twice a second). */
  keyframeWanted(): void {
    if (this.#state === 'ending' || this.#rtp.ssrc === undefined || !this.#transceiver) return;
    if (this.#keyframes.viewerWants(Date.now())) this.#sendPli();
  }

  /** End the session: stop forwarding, take the stream out of the runtime, close the peer. Safe to call twice. */
  end(why: string, removeStream = true): Promise<void> {
    if (this.#ended) return this.#ended;
    this.#state = 'ending';
    // Set before any step runs: closing the peer below reports 'closed', which calls end() again.
    this.#ended = Promise.resolve().then(() => this.#teardown(why, removeStream));
    return this.#ended;
  }

  #tick(): void {
    const runtime = this.#o.runtime;
    if (this.#state === 'connected' && Date.now() - this.#rtpAt > this.#o.idleTimeoutMs) {
      void this.end(`no media for ${this.#o.idleTimeoutMs} ms`);
    } else if (this.added && runtime.stats && !runtime.stats().some((x) => x.streamId === this.streamId)) {
      // Removed from the runtime by someone else (an operator, the hub): the session has no purpose left.
      void this.end('the stream was removed from the runtime', false);
    } else {
      this.#checkKeyframes();
    }
  }

  #forward(ssrc: number, packet: Buffer, payload: Buffer): void {
    if (this.#state === 'ending') return;
    const first = this.#rtp.learn(ssrc);
    this.#rtpAt = Date.now();
    if (first) this.#checkKeyframes();
    this.#rtp.forward(packet, payload);
  }

  /** Ask for a keyframe (RTCP PLI) while media flows but the stream has decoded nothing for a while. */
  #checkKeyframes(): void {
    if (this.#state === 'ending' || this.#rtp.ssrc === undefined || !this.#transceiver) return;
    const stats = this.#o.runtime.stats?.().find((x) => x.streamId === this.streamId);
    if (this.#keyframes.check(Date.now(), stats?.framesDecoded, this.#rtp.keyframes)) this.#sendPli();
  }

  #sendPli(): void {
    void this.#transceiver!.receiver.sendRtcpPLI(this.#rtp.ssrc!).catch(() => {});
  }

  async #teardown(why: string, removeStream: boolean): Promise<void> {
    const { log, runtime } = this.#o;
    for (const t of this.#timers) clearTimeout(t);
    log.info(
      { stream: this.streamId, session: this.id, why, packets: this.#rtp.packets },
      'WHIP session ending',
    );
    // The decoder may be blocked waiting for RTP: RTCP BYEs end its input until its stream is gone.
    const stopByes = this.#rtp.startByes();
    try {
      if (removeStream) {
        await runtime.removeStream(this.streamId).catch((err: Error) => {
          // Already removed (e.g. by an operator): nothing to do.
          log.debug({ stream: this.streamId, err: err.message }, 'removing the WHIP stream');
        });
      }
    } finally {
      stopByes();
      this.#unregister();
      this.#rtp.close();
      await rm(this.#sdpPath, { force: true }).catch(() => {});
      await this.#pc.close().catch(() => {});
      this.#o.onEnded(this);
    }
  }
}
