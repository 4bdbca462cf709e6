/**
 * Publishes one stream over WebRTC (werift): its H.264 packets as RTP on a sendonly video track, and one JSON
 * message per frame on the `meta` data channel, sent before the frame's packets once its result is out
 * (docs/webrtc.md). Packets wait in a FrameHold until the frame's result, drop or timeout.
 */

import {
  childLogger,
  describeError,
  type FrameResult,
  type PublishedVideo,
  SightlineError,
  type Track,
  TypedEmitter,
} from '@sightline/shared';
import {
  MediaStreamTrack,
  type RTCDataChannel,
  type RTCIceServer,
  RTCPeerConnection,
  RTCRtpCodecParameters,
  type RTCRtpSender,
} from 'werift';
import type { EncodedPacket } from '../frame.ts';
import { AccessUnitBuilder, hasIdr } from '../h264/nal.ts';
import { profileLevelIdOfPacket, videoFacts } from '../h264/video-facts.ts';
import { FrameHold, type HeldFrame, type HoldOutcome } from './frame-hold.ts';
import { frameMeta, round1 } from './frame-meta.ts';
import { H264Packetizer } from './rtp-h264.ts';
import type { MediaStreamInfo } from './runtime-contracts.ts';
import { closePeer, skipDefaultStun, WERIFT_BUNDLE } from './werift-ice.ts';

/** A problem that stops a publisher (e.g. packets that are not H.264): PUBLISH_FAILED. */
export class PublishError extends SightlineError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('PUBLISH_FAILED', message, options);
  }
}

/** The wire shapes this publisher sends (shared/src/signalling.ts). */
export type { FrameMeta, PublishedVideo } from '@sightline/shared';

export type PublisherState = 'new' | 'waiting-sps' | 'connecting' | 'connected' | 'failed' | 'closed';

export interface StreamPublisherOptions {
  streamId: string;
  /** The stream's info from its source (codec, size, extradata, transcoded). Required. */
  info: MediaStreamInfo;
  /** Sends the offer SDP to the hub (with `video`) and resolves with the answer SDP. Required. */
  signal: (offerSdp: string, video: PublishedVideo) => Promise<string>;
  /** Longest a frame's packets wait for its result (ms). Default 500. */
  holdMs?: number;
  /** Most frames held; beyond, the oldest leaves at once as skipped. Default 60. */
  maxHeldFrames?: number;
  /** Most RTP payload bytes per packet. Default 1200. */
  mtu?: number;
  /** ICE servers of the edge's peer connection. Default none (host candidates; the hub's mediasoup is ICE-lite). */
  iceServers?: RTCIceServer[];
  /** Longest start() waits for an SPS when the extradata has none (ms). Default 10000. */
  spsTimeoutMs?: number;
  /** Longest ICE gathering may take before the offer goes with the candidates found so far (ms). Default 5000. */
  gatherTimeoutMs?: number;
  /** Which tracks go into the metadata. Default: confirmed tracks matched on this frame. */
  trackFilter?: (track: Track) => boolean;
}

export type StreamPublisherEvents = {
  /** The peer connection's state changed. */
  state: [state: PublisherState];
  /** The hub asked for a keyframe (RTCP PLI / FIR); a file source answers at its next GOP. */
  'keyframe-request': [];
};

/** Counters of a publisher. */
export interface PublisherStats {
  streamId: string;
  state: PublisherState;
  profileLevelId?: string;
  transcoded: boolean;
  framesSent: number;
  packetsSent: number;
  bytesSent: number;
  metaSent: number;
  /** Frames released with a result / as skipped (dropped before inference, or timed out). */
  framesWithResult: number;
  framesSkipped: number;
  /** Frames whose outcome never came within holdMs. */
  framesTimedOut: number;
  /** Frames pushed out early because maxHeldFrames were held. */
  holdOverflow: number;
  /** Frames not put on the wire: not connected yet, or waiting for the first keyframe after connecting. */
  framesNotSent: number;
  /** Packets that could not be parsed as H.264 (their frame is skipped). */
  badPackets: number;
  keyframeRequests: number;
  /** Median ms a frame was held (last 200 frames). */
  heldMsP50: number;
  lastError?: string;
}

const HELD_SAMPLES = 200;
/** RTP packets waiting for the socket beyond which frames are skipped until the next keyframe. */
const MAX_QUEUED_PACKETS = 4000;

function h264Codec(profileLevelId: string): RTCRtpCodecParameters {
  return new RTCRtpCodecParameters({
    mimeType: 'video/H264',
    clockRate: 90_000,
    rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }],
    parameters: `packetization-mode=1;level-asymmetry-allowed=1;profile-level-id=${profileLevelId}`,
  });
}

/** One stream's WebRTC publication: a werift RTCPeerConnection with a video track and the `meta` data channel. */
export class StreamPublisher extends TypedEmitter<StreamPublisherEvents> {
  readonly streamId: string;
  readonly info: MediaStreamInfo;
  readonly #o: StreamPublisherOptions;
  readonly #log;
  readonly #hold: FrameHold;
  readonly #builder: AccessUnitBuilder;
  readonly #packetizer: H264Packetizer;
  readonly #trackFilter: (track: Track) => boolean;
  #pc: RTCPeerConnection | undefined;
  #track: MediaStreamTrack | undefined;
  #sender: RTCRtpSender | undefined;
  /** RTP packets go out one after the other: werift's sends, if not awaited, can overtake each other. */
  #sendChain: Promise<void> = Promise.resolve();
  #sendQueued = 0;
  #dc: RTCDataChannel | undefined;
  #state: PublisherState = 'new';
  #profileLevelId: string | undefined;
  #spsWaiters: ((id: string) => void)[] = [];
  #needKeyframe = true;
  #timer: NodeJS.Timeout | undefined;
  #heldMs: number[] = [];
  #lastError: string | undefined;
  #failed: PublishError | undefined;
  #badLoggedAt = 0;
  #stats = {
    framesSent: 0,
    packetsSent: 0,
    bytesSent: 0,
    metaSent: 0,
    framesNotSent: 0,
    badPackets: 0,
    keyframeRequests: 0,
  };

  constructor(options: StreamPublisherOptions) {
    super();
    if (!options || typeof options.streamId !== 'string' || options.streamId === '') {
      throw new TypeError('StreamPublisher needs a non-empty streamId');
    }
    if (!options.info) throw new TypeError(`StreamPublisher for ${options.streamId} needs the stream info`);
    if (typeof options.signal !== 'function') {
      throw new TypeError(`StreamPublisher for ${options.streamId} needs a signal(offerSdp) function`);
    }
    this.#o = options;
    this.streamId = options.streamId;
    this.info = options.info;
    this.#log = childLogger('webrtc', { streamId: options.streamId });
    this.#trackFilter = options.trackFilter ?? ((t) => t.status === 'confirmed' && t.timeSinceUpdate === 0);
    this.#hold = new FrameHold({
      holdMs: options.holdMs,
      maxFrames: options.maxHeldFrames,
      onRelease: (frame, outcome) => this.#send(frame, outcome),
    });
    this.#packetizer = new H264Packetizer({ mtu: options.mtu });
    const transcoded = options.info.transcoded !== undefined;
    if (!transcoded && options.info.codec !== 'h264') {
      this.#failed = new PublishError(
        `stream ${this.streamId} is ${options.info.codec}, not H.264, and is not re-encoded: WebRTC publishing needs H.264 packets (the runtime re-encodes when packets are enabled before the stream opens)`,
      );
    }
    // A re-encoded stream carries its SPS/PPS in band; the source's extradata describes the other codec.
    let extradata = transcoded ? new Uint8Array(0) : options.info.extradata;
    try {
      this.#builder = new AccessUnitBuilder(extradata);
    } catch (err) {
      this.#log.warn({ err: describeError(err) }, 'unusable H.264 extradata; waiting for SPS/PPS in band');
      extradata = new Uint8Array(0);
      this.#builder = new AccessUnitBuilder(extradata);
    }
    this.#profileLevelId = transcoded ? undefined : videoFacts(options.info).profileLevelId;
  }

  get state(): PublisherState {
    return this.#state;
  }

  /** The RTP timestamp a frame at this 90 kHz pts is sent with. */
  rtpTimestamp(pts: number): number {
    return this.#packetizer.rtpTimestamp(pts);
  }

  /** The video facts for the publish message (known once the SPS is). */
  get video(): PublishedVideo | undefined {
    const id = this.#profileLevelId;
    if (!id) return undefined;
    const facts = videoFacts(this.info);
    return {
      ...facts,
      codec: 'h264',
      profileLevelId: id,
      width: this.info.width,
      height: this.info.height,
      fps: this.info.fps,
    };
  }

  /**
   * Wait for the SPS (from the extradata, else the first keyframe fed), open the peer connection, gather ICE,
   * call signal() with the offer and apply the answer. Rejects (state 'failed') when any step fails.
   */
  async start(): Promise<void> {
    if (this.#failed) throw this.#failed;
    if (this.#state !== 'new') throw new PublishError(`publisher of ${this.streamId} was started already`);
    this.#timer = setInterval(() => this.#hold.flush(), 50);
    try {
      const profile = await this.#waitForSps();
      if (this.#isClosed()) return;
      this.#setState('connecting');
      const pc = new RTCPeerConnection({
        bundlePolicy: WERIFT_BUNDLE,
        codecs: { video: [h264Codec(profile)], audio: [] },
        iceServers: this.#o.iceServers ?? [],
      });
      this.#pc = pc;
      const track = new MediaStreamTrack({ kind: 'video' });
      this.#track = track;
      const transceiver = pc.addTransceiver(track, { direction: 'sendonly' });
      this.#sender = transceiver.sender;
      this.#watchRtcp(transceiver.sender);
      // Negotiated (SCTP stream 0, no DCEP handshake): mediasoup's DataProducer does not answer DCEP opens.
      const dc = pc.createDataChannel('meta', { ordered: true, negotiated: true, id: 0 });
      this.#dc = dc;
      pc.connectionStateChange.subscribe((s) => {
        if (this.#isClosed() || this.#state === 'failed') return;
        if (s === 'connected') {
          this.#needKeyframe = true;
          this.#setState('connected');
        } else if (s === 'failed' || s === 'closed') {
          this.#fail(new PublishError(`peer connection ${s}`));
        }
      });
      const offer = await pc.createOffer();
      if (!(this.#o.iceServers ?? []).some((x) => /^stuns?:/.test(String(x.urls)))) skipDefaultStun(pc);
      await pc.setLocalDescription(offer);
      await this.#gathered(pc);
      const sdp = pc.localDescription?.sdp;
      if (!sdp) throw new PublishError('werift produced no local description');
      if (this.#isClosed()) return;
      const answer = await this.#o.signal(sdp, this.video!);
      if (this.#isClosed()) return;
      await pc.setRemoteDescription({ type: 'answer', sdp: answer });
    } catch (err) {
      if (this.#isClosed()) return;
      const error =
        err instanceof PublishError
          ? err
          : new PublishError(`publishing ${this.streamId} failed: ${describeError(err)}`);
      this.#fail(error);
      throw error;
    }
  }

  /**
   * Hold one packet of this stream until its frame's outcome. Throws PublishError when the packet is not H.264 (and
   * the publisher stops: state 'failed'); a corrupt H.264 packet only skips its frame.
   */
  packet(packet: EncodedPacket): void {
    if (this.#state === 'closed') return;
    if (this.#failed) throw this.#failed;
    if (packet.codec !== 'h264') {
      this.#fail(
        new PublishError(
          `stream ${this.streamId} sent a ${packet.codec} packet: WebRTC publishing needs H.264 (re-encode the stream: StreamInfo.transcoded)`,
        ),
      );
      throw this.#failed!;
    }
    if (!this.#profileLevelId && packet.keyframe) {
      const id = profileLevelIdOfPacket(packet.data);
      if (id) {
        this.#profileLevelId = id;
        for (const w of this.#spsWaiters.splice(0)) w(id);
      }
    }
    this.#hold.addPacket(packet);
  }

  /** The frame's result is out: its packets leave (after the ones before it) with its tracks in the metadata. */
  result(result: FrameResult): void {
    if (this.#state !== 'closed' && !this.#failed) this.#hold.result(result);
  }

  /** The frame was dropped before inference (or its inference failed): its packets leave with skipped metadata. */
  dropped(
    pts: number,
    reason: string,
    frame?: { seq: number; width: number; height: number; capturedAt: number },
  ): void {
    if (this.#state !== 'closed' && !this.#failed) this.#hold.dropped(pts, reason, frame);
  }

  stats(): PublisherStats {
    const h = this.#hold.stats();
    const sorted = [...this.#heldMs].sort((a, b) => a - b);
    return {
      streamId: this.streamId,
      state: this.#state,
      ...(this.#profileLevelId ? { profileLevelId: this.#profileLevelId } : {}),
      transcoded: this.info.transcoded !== undefined,
      ...this.#stats,
      framesWithResult: h.withResult,
      framesSkipped: h.dropped + h.timedOut + h.overflow,
      framesTimedOut: h.timedOut,
      holdOverflow: h.overflow,
      heldMsP50: sorted.length ? round1(sorted[Math.floor((sorted.length - 1) / 2)]!) : 0,
      ...(this.#lastError ? { lastError: this.#lastError } : {}),
    };
  }

  /** Close the peer connection; held frames are dropped. Safe to call twice. */
  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#setState('closed');
    clearInterval(this.#timer);
    this.#hold.clear();
    for (const w of this.#spsWaiters.splice(0)) w('');
    const pc = this.#pc;
    this.#pc = undefined;
    this.#track?.stop();
    if (pc) await closePeer(pc);
  }

  #isClosed(): boolean {
    return this.#state === 'closed';
  }

  #setState(state: PublisherState): void {
    if (this.#state === state) return;
    this.#state = state;
    this.emit('state', state);
  }

  #fail(error: PublishError): void {
    if (this.#state === 'closed' || this.#state === 'failed') return;
    this.#failed = error;
    this.#lastError = error.message;
    clearInterval(this.#timer);
    this.#hold.clear();
    this.#setState('failed');
    if (this.#pc) void closePeer(this.#pc);
  }

  #waitForSps(): Promise<string> {
    if (this.#profileLevelId) return Promise.resolve(this.#profileLevelId);
    this.#setState('waiting-sps');
    const timeoutMs = this.#o.spsTimeoutMs ?? 10_000;
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new PublishError(
            `stream ${this.streamId}: no H.264 SPS within ${timeoutMs} ms (none in the extradata or a keyframe)`,
          ),
        );
      }, timeoutMs);
      this.#spsWaiters.push((id) => {
        clearTimeout(timer);
        if (id) resolve(id);
        else reject(new PublishError('publisher closed'));
      });
    });
  }

  #gathered(pc: RTCPeerConnection): Promise<void> {
    if (pc.iceGatheringState === 'complete') return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, this.#o.gatherTimeoutMs ?? 5000);
      const sub = pc.iceGatheringStateChange.subscribe((s) => {
        if (s === 'complete') done();
      });
      function done() {
        clearTimeout(timer);
        sub.unSubscribe();
        resolve();
      }
    });
  }

  #watchRtcp(sender: RTCRtpSender): void {
    sender.onRtcp.subscribe((rtcp) => {
      // PSFB (206) with FMT 1 (PLI) or 4 (FIR).
      const r = rtcp as { type?: number; feedback?: { count?: number } };
      if (r.type !== 206) return;
      const fmt = r.feedback?.count;
      if (fmt !== 1 && fmt !== 4) return;
      this.#stats.keyframeRequests++;
      this.emit('keyframe-request');
    });
  }

  /** A frame leaves the hold: its metadata first, then its RTP packets. */
  #send(frame: HeldFrame, outcome: HoldOutcome): void {
    this.#heldMs.push(performance.now() - frame.arrivedAt);
    if (this.#heldMs.length > HELD_SAMPLES) this.#heldMs.shift();
    const rtp = this.#packetizer.rtpTimestamp(frame.pts);
    // Packetize first: a corrupt packet makes the frame skipped rather than sent half.
    let nals: Uint8Array[] = [];
    try {
      for (const p of frame.packets) nals.push(...this.#builder.accessUnit(p.data));
    } catch (err) {
      nals = [];
      this.#stats.badPackets += frame.packets.length;
      this.#lastError = `bad H.264 packet: ${describeError(err)}`;
      if (Date.now() - this.#badLoggedAt > 10_000) {
        this.#badLoggedAt = Date.now();
        this.#log.warn(
          { err: describeError(err), pts: frame.pts },
          'skipping a frame with a bad H.264 packet',
        );
      }
    }
    const connected = this.#state === 'connected';
    if (connected && this.#needKeyframe && nals.length && hasIdr(nals)) this.#needKeyframe = false;
    const sendVideo = connected && !this.#needKeyframe && nals.length > 0;
    this.#sendMeta(frame, outcome, rtp);
    if (!sendVideo) {
      this.#stats.framesNotSent++;
      return;
    }
    if (this.#sendQueued > MAX_QUEUED_PACKETS) {
      // The network cannot keep up: skip until the next keyframe rather than queue without bound.
      this.#stats.framesNotSent++;
      this.#needKeyframe = true;
      return;
    }
    const sender = this.#sender!;
    for (const packet of this.#packetizer.packetize(nals, frame.pts)) {
      this.#stats.packetsSent++;
      this.#stats.bytesSent += packet.payload.length;
      this.#sendQueued++;
      this.#sendChain = this.#sendChain
        .then(() => sender.sendRtp(packet))
        .catch(() => {})
        .then(() => {
          this.#sendQueued--;
        });
    }
    this.#stats.framesSent++;
  }

  #sendMeta(frame: HeldFrame, outcome: HoldOutcome, rtp: number): void {
    const dc = this.#dc;
    if (dc?.readyState !== 'open') return; // before the channel is open metadata is just dropped
    const meta = frameMeta(frame, outcome, rtp, { trackFilter: this.#trackFilter, size: this.info });
    try {
      dc.send(JSON.stringify(meta));
      this.#stats.metaSent++;
    } catch (err) {
      this.#lastError = `meta not sent: ${describeError(err)}`;
    }
  }
}
