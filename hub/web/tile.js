/**
 * One live stream: a <video> fed by a WebRTC peer (a mediasoup consumer) with a <canvas> overlay on top. Per-frame
 * metadata arrives on the `meta` data channel keyed by the frame's RTP timestamp; requestVideoFrameCallback gives
 * the RTP timestamp of the frame on screen, so each frame is drawn with its own boxes.
 */
import { esc, messageOf } from './dom.js';
import { Overlay, trackAt } from './overlay.js';
import { StageLayers } from './stage-layers.js';
import { emptyStats, frameFigures, inboundVideo, statsHtml, videoNote } from './stats.js';

/**
 * @import { DataChannelInfo, FrameMeta, FrameRecord, Layers, MetaTrack, ShownSegmentation, StreamInfo, TileStats,
 *   ViewerToHubMessage } from './types.js'
 */

/** Metadata entries kept per stream (90 s at 10 fps). */
const META_KEEP = 900;
/** Displayed frames kept per stream for the stats and tests. */
const FRAME_LOG = 3000;
/** No frame for this long (ms) while the stream is listed: watch it again. */
const STALL_MS = 4000;

/**
 * What a tile needs from the page.
 * @typedef {object} TileHost
 * @property {HTMLElement} grid Where the tile goes.
 * @property {Layers} layers The overlay's layers.
 * @property {(msg: ViewerToHubMessage) => void} send Sends a signalling message.
 * @property {() => boolean} signallingOpen Whether signalling is connected (a stalled stream is watched again).
 * @property {(info: StreamInfo, track: MetaTrack) => void} onTrackClick A click hit a drawn track.
 */

export class Tile {
  /** @type {TileHost} */
  #host;
  /** @type {StreamInfo} */
  #info;
  /** @type {RTCPeerConnection | undefined} */
  #pc;
  /**
   * RTP timestamp -> the metadata of that frame.
   * @type {Map<number, FrameMeta>}
   */
  #metas = new Map();
  /** @type {string | undefined} */
  #stateText;
  /** @type {number | undefined} */
  #watchedAt;
  /** @type {number | undefined} */
  #lastFrameAt;
  /** @type {number | undefined} */
  #lastBytes;
  #statsTimer;
  #el = document.createElement('section');
  #video;
  #canvas;
  #overlay;
  #stages;
  #note;
  #badge;
  #stage;
  #statsLine;

  /**
   * The frames displayed, oldest first (the last FRAME_LOG).
   * @type {FrameRecord[]}
   */
  frames = [];
  /** @type {TileStats} */
  stats = emptyStats();
  /**
   * The metadata last drawn (its boxes are what a click hits).
   * @type {FrameMeta | undefined}
   */
  lastDrawn;

  /**
   * @param {StreamInfo} info
   * @param {TileHost} host
   */
  constructor(info, host) {
    this.key = info.key;
    this.#info = info;
    this.#host = host;
    const el = this.#el;
    el.className = 'tile';
    el.dataset.key = info.key;
    el.innerHTML = `<h2><span>${esc(info.key)}</span> <span class="badge waiting state">waiting</span></h2>
      <div class="note"></div>
      <div class="stage"><video muted autoplay playsinline></video><canvas></canvas></div>
      <div class="legend" hidden></div><div class="stats"></div>`;
    this.#video = /** @type {HTMLVideoElement} */ (el.querySelector('video'));
    this.#canvas = /** @type {HTMLCanvasElement} */ (el.querySelector('canvas'));
    this.#note = /** @type {HTMLElement} */ (el.querySelector('.note'));
    this.#badge = /** @type {HTMLElement} */ (el.querySelector('.state'));
    this.#stage = /** @type {HTMLElement} */ (el.querySelector('.stage'));
    this.#statsLine = /** @type {HTMLElement} */ (el.querySelector('.stats'));
    this.#overlay = new Overlay(this.#canvas, host.layers);
    this.#stages = new StageLayers(el, host.layers);
    this.#canvas.addEventListener('click', (e) => this.#onClick(e));
    host.grid.append(el);
    this.update(info);
    this.#statsTimer = setInterval(() => this.#pollStats(), 1000);
    this.#video.requestVideoFrameCallback((now, md) => this.#onFrame(now, md));
  }

  /** Whether a peer connection is open or being negotiated. */
  get watching() {
    return this.#pc !== undefined;
  }

  /**
   * Takes the stream's new description (codec, size, transcoding) into the tile's note.
   * @param {StreamInfo} info
   */
  update(info) {
    this.#info = info;
    this.#note.textContent = videoNote(info.video ?? {});
  }

  /** @returns {ShownSegmentation | undefined} the segmentation drawn now, if any (for tests and curious users) */
  get segmentation() {
    return this.#stages.shown(performance.now());
  }

  /**
   * Sets the tile's state badge.
   * @param {string} text
   * @param {string} cls badge class: waiting, live, reconnecting, failed
   */
  setState(text, cls) {
    this.#badge.textContent = text;
    this.#badge.className = `badge state ${cls}`;
  }

  /** Opens a new peer connection and asks the hub for an offer (closing any current one). */
  watch() {
    this.closePeer();
    this.setState('connecting', 'waiting');
    this.#watchedAt = performance.now();
    this.#lastFrameAt = undefined;
    this.#pc = new RTCPeerConnection();
    this.#pc.ontrack = (ev) => {
      this.#video.srcObject = ev.streams[0] ?? new MediaStream([ev.track]);
      this.#video.play().catch(() => {});
    };
    this.#pc.onconnectionstatechange = () => {
      const s = this.#pc?.connectionState;
      if (s === 'failed') this.setState('failed', 'failed');
    };
    this.#host.send({ t: 'watch', key: this.key });
  }

  /**
   * Answers the hub's offer.
   * @param {string} sdp
   * @param {DataChannelInfo | undefined} dataChannel the negotiated `meta` channel (mediasoup does not open
   *   channels with DCEP)
   */
  async onOffer(sdp, dataChannel) {
    if (!this.#pc) return;
    const pc = this.#pc;
    try {
      await pc.setRemoteDescription({ type: 'offer', sdp });
      if (dataChannel) {
        const dc = pc.createDataChannel(dataChannel.label, {
          negotiated: true,
          id: dataChannel.id,
          ordered: true,
        });
        dc.onmessage = (m) => this.#onMeta(m.data);
      }
      const answer = await pc.createAnswer();
      await pc.setLocalDescription(answer);
      const local = /** @type {RTCSessionDescription} */ (pc.localDescription);
      if (pc === this.#pc) this.#host.send({ t: 'answer', key: this.key, sdp: local.sdp });
    } catch (err) {
      this.setState(`error: ${messageOf(err)}`, 'failed');
    }
  }

  /**
   * Closes the peer connection, if any; with `why`, shows it on the badge.
   * @param {string} [why]
   */
  closePeer(why) {
    if (this.#pc) {
      this.#pc.close();
      this.#pc = undefined;
      if (why) this.setState(why, 'reconnecting');
    }
  }

  /** Closes the peer and removes the tile from the page. */
  destroy() {
    this.closePeer();
    clearInterval(this.#statsTimer);
    this.#el.remove();
  }

  /** @param {string} data a `meta` data channel message */
  #onMeta(data) {
    /** @type {FrameMeta} */
    let m;
    try {
      m = JSON.parse(data);
    } catch {
      return;
    }
    if (typeof m.rtp !== 'number') return;
    this.#metas.set(m.rtp >>> 0, m);
    if (this.#metas.size > META_KEEP) {
      const oldest = this.#metas.keys().next().value;
      if (oldest !== undefined) this.#metas.delete(oldest);
    }
  }

  /**
   * Draws the frame now on screen with the metadata of its RTP timestamp (or the last one dimmed) and logs it.
   * @param {DOMHighResTimeStamp} _now
   * @param {VideoFrameCallbackMetadata} md
   */
  #onFrame(_now, md) {
    this.#video.requestVideoFrameCallback((n, d) => this.#onFrame(n, d));
    const w = md.width;
    const h = md.height;
    if (this.#canvas.width !== w || this.#canvas.height !== h) {
      this.#canvas.width = w;
      this.#canvas.height = h;
      this.#stage.style.aspectRatio = `${w} / ${h}`;
    }
    const now = performance.now();
    this.#lastFrameAt = now;
    if (this.#stateText !== 'live') {
      this.#stateText = 'live';
      this.setState('live', 'live');
    }
    const rtp = md.rtpTimestamp === undefined ? undefined : md.rtpTimestamp >>> 0;
    const meta = rtp === undefined ? undefined : this.#metas.get(rtp);
    const displayEpoch = performance.timeOrigin + md.expectedDisplayTime;
    /** @type {FrameRecord} */
    const record = {
      rtp,
      metaRtp: meta ? meta.rtp >>> 0 : null,
      pts: meta?.pts,
      seq: meta?.seq,
      displayEpoch,
      presented: md.presentedFrames,
    };
    this.#overlay.clear(w, h);
    this.#stages.drawUnder(meta, w, h, now); // the last segmentation, under the boxes
    if (meta && !meta.skipped) {
      this.#overlay.draw(meta, w, h, 1);
      this.lastDrawn = meta;
      record.ids = meta.tracks.map((t) => t.id);
      record.latencyMs = displayEpoch - meta.t;
      this.stats.withMeta++;
    } else {
      if (this.lastDrawn) this.#overlay.draw(this.lastDrawn, w, h, 0.35); // dimmed: not this frame's boxes
      record.ids = [];
      record.skipped = !!meta?.skipped;
      if (meta) record.latencyMs = displayEpoch - meta.t;
      else this.stats.noMeta++;
    }
    this.#stages.drawOver(w, h, now);
    this.stats.frames++;
    this.frames.push(record);
    if (this.frames.length > FRAME_LOG) this.frames.splice(0, this.frames.length - FRAME_LOG);
  }

  /** Every second: refreshes the stats line, and watches again when frames stopped (a restarted hub or edge). */
  async #pollStats() {
    const s = this.stats;
    const nowMs = performance.now();
    Object.assign(s, frameFigures(this.frames, performance.timeOrigin + nowMs));
    s.dropped = this.#video.getVideoPlaybackQuality?.().droppedVideoFrames ?? 0;
    if (this.#pc) {
      try {
        this.#lastBytes = inboundVideo(s, await this.#pc.getStats(), this.#lastBytes);
      } catch {}
    }
    this.#statsLine.innerHTML = statsHtml(s);
    this.#stages.legend(nowMs);
    // The edge or the hub went away and came back without the list changing: watch again.
    const since = this.#lastFrameAt ?? this.#watchedAt ?? nowMs;
    if (this.#pc && nowMs - since > STALL_MS && this.#host.signallingOpen()) {
      this.#stateText = 'stalled';
      this.watch();
    }
  }

  /** @param {MouseEvent} e */
  #onClick(e) {
    const meta = this.lastDrawn;
    if (!meta) return;
    const hit = trackAt(this.#canvas, meta, e.clientX, e.clientY);
    if (hit) this.#host.onTrackClick(this.#info, hit);
  }
}
