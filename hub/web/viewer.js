// Sightline live viewer: a grid of the hub's live streams, each a <video> fed by WebRTC (mediasoup consumer)
// with a <canvas> on top. Per-frame metadata arrives on the `meta` data channel keyed by the frame's RTP
// timestamp; requestVideoFrameCallback gives the RTP timestamp of the frame on screen, so each frame is drawn
// with its own boxes. Signalling: /api/v1/media/view (docs/webrtc.md). The token comes from the URL fragment
// (#token=...) or the form, and stays in this browser's localStorage.

const TOKEN_KEY = 'sightline-token';
const META_KEEP = 900; // metadata entries kept per stream (90 s at 10 fps)
const FRAME_LOG = 3000; // displayed frames kept per stream for the stats and tests
const STALL_MS = 4000; // no frame for this long while the stream is listed: watch it again
const TRAIL_LEN = 30;
const COLOURS = [
  '#f56565',
  '#ed8936',
  '#ecc94b',
  '#48bb78',
  '#38b2ac',
  '#4299e1',
  '#667eea',
  '#9f7aea',
  '#ed64a6',
];

const layers = { boxes: true, labels: true, ids: true, trails: true, masks: true };
const tiles = new Map();
let ws;
let retryMs = 250;
let token = takeToken();

/** What tests and curious users can read: per-stream displayed frames, stats, layers. */
window.sightlineViewer = {
  layers,
  keys: () => [...tiles.keys()],
  frames: (key) => tiles.get(key)?.frames ?? [],
  stats: (key) => tiles.get(key)?.stats,
  /** The metadata last drawn on a stream (its boxes are what a click hits). */
  lastDrawn: (key) => tiles.get(key)?.lastDrawn,
  connected: () => ws?.readyState === WebSocket.OPEN,
  errors: [],
};

function takeToken() {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get('token');
  if (fromHash) {
    localStorage.setItem(TOKEN_KEY, fromHash);
    history.replaceState(null, '', location.pathname);
  }
  return localStorage.getItem(TOKEN_KEY);
}

const $ = (id) => document.getElementById(id);
const esc = (s) =>
  String(s).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c],
  );

function setConn(text, cls) {
  $('conn').textContent = text;
  $('conn').className = `badge ${cls}`;
}

function showLogin(why) {
  $('login').hidden = false;
  $('login-why').textContent = why;
}

$('login').addEventListener('submit', (e) => {
  e.preventDefault();
  token = $('token').value.trim();
  localStorage.setItem(TOKEN_KEY, token);
  $('login').hidden = true;
  retryMs = 250;
  connect();
});

for (const box of $('layers').querySelectorAll('input')) {
  box.checked = layers[box.name];
  box.addEventListener('change', () => {
    layers[box.name] = box.checked;
  });
}

// ---- signalling ----

function send(msg) {
  if (ws?.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg));
}

function connect() {
  if (!token) return showLogin('A viewer token is needed (sightline hub token create --role viewer).');
  clearTimeout(connect.timer);
  ws?.close();
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/v1/media/view`;
  const socket = new WebSocket(url);
  ws = socket;
  setConn('connecting', 'reconnecting');
  socket.onopen = () => socket.send(JSON.stringify({ type: 'auth', token }));
  socket.onmessage = (ev) => {
    let msg;
    try {
      msg = JSON.parse(ev.data);
    } catch {
      return;
    }
    onSignal(msg);
  };
  socket.onclose = (ev) => {
    if (ws !== socket) return;
    for (const tile of tiles.values()) tile.closePeer('hub connection lost');
    if (ev.code === 4401 || ev.code === 4403) {
      setConn('refused', 'failed');
      showLogin(`Token refused: ${ev.reason || ev.code}`);
      return;
    }
    setConn('reconnecting', 'reconnecting');
    connect.timer = setTimeout(connect, retryMs * (0.8 + Math.random() * 0.4)); // jitter: viewers don't stampede
    retryMs = Math.min(retryMs * 2, 3000);
  };
}

function onSignal(msg) {
  switch (msg.type) {
    case 'streams':
      retryMs = 250;
      setConn('connected', 'live');
      syncTiles(msg.streams);
      return;
    case 'offer':
      tiles.get(msg.key)?.onOffer(msg.sdp, msg.dataChannel);
      return;
    case 'error':
      window.sightlineViewer.errors.push(msg);
      if (msg.key) tiles.get(msg.key)?.setState(`error: ${msg.message}`, 'failed');
      else console.warn('hub:', msg.code, msg.message);
      return;
  }
}

function syncTiles(streams) {
  const keys = new Set(streams.map((s) => s.key));
  for (const [key, tile] of tiles) {
    if (!keys.has(key)) {
      tile.destroy();
      tiles.delete(key);
    }
  }
  for (const s of streams) {
    let tile = tiles.get(s.key);
    if (!tile) {
      tile = new Tile(s);
      tiles.set(s.key, tile);
    } else tile.update(s);
    if (!tile.pc) tile.watch();
  }
  $('empty').hidden = tiles.size > 0;
}

// ---- one stream ----

class Tile {
  constructor(info) {
    this.key = info.key;
    this.info = info;
    this.metas = new Map();
    this.frames = [];
    this.trails = new Map();
    this.lastDrawn = undefined;
    this.stats = {
      fps: 0,
      kbps: 0,
      latencyP50: 0,
      latencyP95: 0,
      dropped: 0,
      frames: 0,
      withMeta: 0,
      noMeta: 0,
    };
    this.el = document.createElement('section');
    this.el.className = 'tile';
    this.el.dataset.key = info.key;
    this.el.innerHTML = `<h2><span>${esc(info.key)}</span> <span class="badge waiting state">waiting</span></h2>
      <div class="note"></div>
      <div class="stage"><video muted autoplay playsinline></video><canvas></canvas></div>
      <div class="stats"></div>`;
    this.video = this.el.querySelector('video');
    this.canvas = this.el.querySelector('canvas');
    this.ctx = this.canvas.getContext('2d');
    this.canvas.addEventListener('click', (e) => this.onClick(e));
    $('grid').append(this.el);
    this.update(info);
    this.statsTimer = setInterval(() => this.pollStats(), 1000);
    this.video.requestVideoFrameCallback((now, md) => this.onFrame(now, md));
  }

  update(info) {
    this.info = info;
    const v = info.video ?? {};
    const parts = [
      v.codec,
      v.profileLevelId && `profile-level-id ${v.profileLevelId}`,
      v.width && `${v.width}x${v.height}`,
      v.fps && `${v.fps} fps`,
    ];
    this.el.querySelector('.note').textContent = [
      parts.filter(Boolean).join(' · '),
      v.transcoded ? `transcoded: ${v.note ?? ''}` : '',
    ]
      .filter(Boolean)
      .join(' — ');
  }

  setState(text, cls) {
    const badge = this.el.querySelector('.state');
    badge.textContent = text;
    badge.className = `badge state ${cls}`;
  }

  watch() {
    this.closePeer();
    this.setState('connecting', 'waiting');
    this.watchedAt = performance.now();
    this.lastFrameAt = undefined;
    this.pc = new RTCPeerConnection();
    this.pc.ontrack = (ev) => {
      this.video.srcObject = ev.streams[0] ?? new MediaStream([ev.track]);
      this.video.play().catch(() => {});
    };
    this.pc.onconnectionstatechange = () => {
      const s = this.pc?.connectionState;
      if (s === 'failed') this.setState('failed', 'failed');
    };
    send({ type: 'watch', key: this.key });
  }

  /** dataChannel: {label, id} of the negotiated `meta` channel (mediasoup does not open channels with DCEP). */
  async onOffer(sdp, dataChannel) {
    if (!this.pc) return;
    const pc = this.pc;
    try {
      await pc.setRemoteDescription({ type: 'offer', sdp });
      if (dataChannel) {
        const dc = pc.createDataChannel(dataChannel.label, {
          negotiated: true,
          id: dataChannel.id,
          ordered: true,
        });
        dc.onmessage = (m) => this.onMeta(m.data);
      }
      const answer = await pc.createAnswer();
      await pc.setLocalDescription(answer);
      if (pc === this.pc) send({ type: 'answer', key: this.key, sdp: pc.localDescription.sdp });
    } catch (err) {
      this.setState(`error: ${err.message}`, 'failed');
    }
  }

  closePeer(why) {
    if (this.pc) {
      this.pc.close();
      this.pc = undefined;
      if (why) this.setState(why, 'reconnecting');
    }
  }

  destroy() {
    this.closePeer();
    clearInterval(this.statsTimer);
    this.el.remove();
  }

  onMeta(data) {
    let m;
    try {
      m = JSON.parse(data);
    } catch {
      return;
    }
    if (typeof m.rtp !== 'number') return;
    this.metas.set(m.rtp >>> 0, m);
    if (this.metas.size > META_KEEP) this.metas.delete(this.metas.keys().next().value);
  }

  onFrame(_now, md) {
    this.video.requestVideoFrameCallback((n, d) => this.onFrame(n, d));
    const w = md.width;
    const h = md.height;
    if (this.canvas.width !== w || this.canvas.height !== h) {
      this.canvas.width = w;
      this.canvas.height = h;
      this.el.querySelector('.stage').style.aspectRatio = `${w} / ${h}`;
    }
    this.lastFrameAt = performance.now();
    if (this.stateText !== 'live') {
      this.stateText = 'live';
      this.setState('live', 'live');
    }
    const rtp = md.rtpTimestamp === undefined ? undefined : md.rtpTimestamp >>> 0;
    const meta = rtp === undefined ? undefined : this.metas.get(rtp);
    const displayEpoch = performance.timeOrigin + md.expectedDisplayTime;
    const record = {
      rtp,
      metaRtp: meta ? meta.rtp >>> 0 : null,
      pts: meta?.pts,
      seq: meta?.seq,
      displayEpoch,
      presented: md.presentedFrames,
    };
    this.ctx.clearRect(0, 0, w, h);
    if (meta && !meta.skipped) {
      this.draw(meta, w, h, 1);
      this.lastDrawn = meta;
      record.ids = meta.tracks.map((t) => t.id);
      record.latencyMs = displayEpoch - meta.t;
      this.stats.withMeta++;
    } else {
      if (this.lastDrawn) this.draw(this.lastDrawn, w, h, 0.35); // dimmed: not this frame's boxes
      record.ids = [];
      record.skipped = !!meta?.skipped;
      if (meta) record.latencyMs = displayEpoch - meta.t;
      else this.stats.noMeta++;
    }
    this.stats.frames++;
    this.frames.push(record);
    if (this.frames.length > FRAME_LOG) this.frames.splice(0, this.frames.length - FRAME_LOG);
  }

  draw(meta, w, h, alpha) {
    const sx = w / meta.w;
    const sy = h / meta.h;
    const ctx = this.ctx;
    ctx.globalAlpha = alpha;
    ctx.lineWidth = Math.max(2, w / 400);
    ctx.font = `${Math.max(12, Math.round(h / 40))}px system-ui, sans-serif`;
    if (alpha === 1) this.updateTrails(meta);
    if (layers.masks && meta.masks) for (const m of meta.masks) this.drawMask(m, sx, sy);
    for (const t of meta.tracks) {
      const colour = COLOURS[t.id % COLOURS.length];
      const [x1, y1, x2, y2] = t.b;
      ctx.strokeStyle = colour;
      ctx.fillStyle = colour;
      if (layers.trails) {
        const trail = this.trails.get(t.id);
        if (trail && trail.length > 1) {
          ctx.beginPath();
          ctx.moveTo(trail[0][0] * sx, trail[0][1] * sy);
          for (const [x, y] of trail.slice(1)) ctx.lineTo(x * sx, y * sy);
          ctx.stroke();
        }
      }
      if (layers.boxes) ctx.strokeRect(x1 * sx, y1 * sy, (x2 - x1) * sx, (y2 - y1) * sy);
      const text = [layers.ids ? `#${t.id}` : '', layers.labels ? `${t.l} ${Math.round(t.s * 100)}%` : '']
        .filter(Boolean)
        .join(' ');
      if (text) {
        const tw = ctx.measureText(text).width + 6;
        const th = parseInt(ctx.font, 10) + 4;
        ctx.fillRect(x1 * sx, Math.max(0, y1 * sy - th), tw, th);
        ctx.fillStyle = '#000';
        ctx.fillText(text, x1 * sx + 3, Math.max(th, y1 * sy) - 4);
      }
    }
    ctx.globalAlpha = 1;
  }

  /** A mask: {id, box:[x1,y1,x2,y2], w, h, counts}: row-major run lengths over a w x h grid covering the box, zeros first. */
  drawMask(m, sx, sy) {
    if (!Array.isArray(m.counts) || !m.w || !m.h || !m.box) return;
    const [x1, y1, x2, y2] = m.box;
    const cw = ((x2 - x1) / m.w) * sx;
    const ch = ((y2 - y1) / m.h) * sy;
    this.ctx.fillStyle = COLOURS[m.id % COLOURS.length];
    const alpha = this.ctx.globalAlpha;
    this.ctx.globalAlpha = alpha * 0.4;
    // Each inside run as horizontal spans, one per grid row it touches.
    let i = 0;
    m.counts.forEach((run, k) => {
      for (let j = i, left = k % 2 === 1 ? run : 0; left > 0; ) {
        const col = j % m.w;
        const len = Math.min(left, m.w - col);
        this.ctx.fillRect(x1 * sx + col * cw, y1 * sy + Math.floor(j / m.w) * ch, len * cw + 0.5, ch + 0.5);
        j += len;
        left -= len;
      }
      i += run;
    });
    this.ctx.globalAlpha = alpha;
  }

  updateTrails(meta) {
    const seen = new Set();
    for (const t of meta.tracks) {
      seen.add(t.id);
      const trail = this.trails.get(t.id) ?? [];
      trail.push([(t.b[0] + t.b[2]) / 2, t.b[3]]);
      if (trail.length > TRAIL_LEN) trail.shift();
      this.trails.set(t.id, trail);
    }
    for (const id of this.trails.keys()) if (!seen.has(id)) this.trails.delete(id);
  }

  async pollStats() {
    const s = this.stats;
    const nowMs = performance.now();
    const recent = this.frames.filter((f) => f.displayEpoch > performance.timeOrigin + nowMs - 1000);
    s.fps = recent.length;
    const lat = this.frames
      .slice(-300)
      .map((f) => f.latencyMs)
      .filter((x) => typeof x === 'number')
      .sort((a, b) => a - b);
    s.latencyP50 = lat.length ? lat[Math.floor(lat.length * 0.5)] : 0;
    s.latencyP95 = lat.length ? lat[Math.min(lat.length - 1, Math.floor(lat.length * 0.95))] : 0;
    s.dropped = this.video.getVideoPlaybackQuality?.().droppedVideoFrames ?? 0;
    if (this.pc) {
      try {
        const report = await this.pc.getStats();
        report.forEach((r) => {
          if (r.type === 'inbound-rtp' && r.kind === 'video') {
            if (this.lastBytes !== undefined)
              s.kbps = Math.round(((r.bytesReceived - this.lastBytes) * 8) / 1000);
            this.lastBytes = r.bytesReceived;
            if (typeof r.framesDropped === 'number') s.dropped = Math.max(s.dropped, r.framesDropped);
          }
        });
      } catch {}
    }
    this.el.querySelector('.stats').innerHTML = [
      `fps ${s.fps}`,
      `${s.kbps} kbit/s`,
      `dropped ${s.dropped}`,
      `latency p50 ${s.latencyP50.toFixed(0)} ms`,
      `p95 ${s.latencyP95.toFixed(0)} ms`,
      `no meta ${s.noMeta}`,
    ]
      .map((x) => `<span>${x}</span>`)
      .join('');
    // The edge or the hub went away and came back without the list changing: watch again.
    const since = this.lastFrameAt ?? this.watchedAt ?? nowMs;
    if (this.pc && nowMs - since > STALL_MS && ws?.readyState === WebSocket.OPEN) {
      this.stateText = 'stalled';
      this.watch();
    }
  }

  onClick(e) {
    const meta = this.lastDrawn;
    if (!meta) return;
    const rect = this.canvas.getBoundingClientRect();
    // object-fit: contain: find the drawn image inside the element box.
    const scale = Math.min(rect.width / this.canvas.width, rect.height / this.canvas.height);
    const ox = (rect.width - this.canvas.width * scale) / 2;
    const oy = (rect.height - this.canvas.height * scale) / 2;
    const x = ((e.clientX - rect.left - ox) / scale) * (meta.w / this.canvas.width);
    const y = ((e.clientY - rect.top - oy) / scale) * (meta.h / this.canvas.height);
    const hit = meta.tracks
      .filter((t) => x >= t.b[0] && x <= t.b[2] && y >= t.b[1] && y <= t.b[3])
      .sort((a, b) => (a.b[2] - a.b[0]) * (a.b[3] - a.b[1]) - (b.b[2] - b.b[0]) * (b.b[3] - b.b[1]))[0];
    if (hit) showTrack(this.info, hit);
  }
}

// ---- track panel: thumbnail and similar tracks from the hub's search ----

async function api(path, init = {}) {
  const res = await fetch(path, {
    ...init,
    headers: { ...(init.headers ?? {}), authorization: `Bearer ${token}` },
  });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.error?.message ?? `HTTP ${res.status}`);
  return body;
}

/** A failed request, shown as an error (not as a grey note that looks like a result). */
const errorNote = (err) => `<p class="error" role="alert">${esc(err.message)}</p>`;

/** One similar track: its thumbnail, where it was seen (stream, edge), its label, when, and the similarity. */
function similarFigure(r) {
  const when = r.lastSeen && Date.parse(r.lastSeen) > 0 ? new Date(r.lastSeen).toLocaleTimeString() : '';
  const img = r.thumbnail
    ? `<img alt="track ${esc(r.trackId)} on ${esc(r.streamId)}" src="${esc(thumb(r.thumbnail))}">`
    : '<div class="no-thumb">no thumbnail</div>';
  return `<figure data-track="${esc(r.id)}">${img}<figcaption><span class="stream">${esc(r.streamId)}</span>
    <span class="muted">${esc(r.edgeId)} · #${esc(r.trackId)}${r.label ? ` ${esc(r.label)}` : ''}${when ? ` · ${esc(when)}` : ''}</span>
    <span class="score">${(r.score * 100).toFixed(0)}% similar</span></figcaption></figure>`;
}

const thumb = (url) =>
  url ? `${url}${url.includes('?') ? '&' : '?'}access_token=${encodeURIComponent(token)}` : '';

async function showTrack(info, t) {
  const panel = $('track');
  panel.hidden = false;
  $('track-title').textContent = `${info.key} #${t.id} ${t.l}`;
  const body = $('track-body');
  body.innerHTML = '<p class="muted">Loading…</p>';
  try {
    const q = new URLSearchParams({ edgeId: info.edgeId, streamId: info.streamId, limit: '500' });
    const list = await api(`/api/v1/tracks?${q}`);
    const track = (list.tracks ?? list).find((x) => x.trackId === t.id);
    if (!track) {
      body.innerHTML = '<p class="muted">Not stored yet (the edge sends tracks every half second).</p>';
      return;
    }
    body.innerHTML = `${track.thumbnail ? `<img alt="track ${t.id}" src="${esc(thumb(track.thumbnail))}">` : '<p class="muted">No thumbnail yet.</p>'}
      <p class="muted">${esc(track.label ?? t.l)} · first seen ${esc(new Date(track.firstSeen).toLocaleTimeString())} · last seen ${esc(new Date(track.lastSeen).toLocaleTimeString())}</p>
      <h3>Similar tracks</h3><div class="similar"><span class="muted">Searching…</span></div>`;
    try {
      const found = await api('/api/v1/search', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ track: track.id, k: 9 }),
      });
      body.querySelector('.similar').innerHTML = found.results.length
        ? found.results.map(similarFigure).join('')
        : '<span class="muted">No similar tracks.</span>';
    } catch (err) {
      body.querySelector('.similar').innerHTML = errorNote(err);
    }
  } catch (err) {
    body.innerHTML = errorNote(err);
  }
}

$('track-close').addEventListener('click', () => {
  $('track').hidden = true;
});

connect();
