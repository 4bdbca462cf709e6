/**
 * The overlay of one tile: a frame's tracks drawn on a 2D canvas (boxes, labels, track ids, trails, instance
 * masks, crop labels) in the frame's colours, and which drawn box a click hits. The frame-wide layers
 * (segmentation, frame labels) are stage-layers.js.
 */
/** @import { FrameMeta, Layers, MetaMask, MetaTrack } from './types.js' */

/** Points kept per track trail. */
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

/**
 * A track's colour (by its id).
 * @param {number} id
 * @returns {string}
 */
const colourOf = (id) => COLOURS[id % COLOURS.length] ?? '#fff';

export class Overlay {
  /** @type {CanvasRenderingContext2D} */
  #ctx;
  /** @type {Layers} */
  #layers;
  /**
   * Track id -> recent bottom-centre points, in frame pixels.
   * @type {Map<number, [number, number][]>}
   */
  #trails = new Map();

  /**
   * @param {HTMLCanvasElement} canvas
   * @param {Layers} layers Read on each draw: the checkboxes switch them.
   */
  constructor(canvas, layers) {
    const ctx = canvas.getContext('2d');
    if (!ctx) throw new Error('viewer: no 2D canvas context');
    this.#ctx = ctx;
    this.#layers = layers;
  }

  /**
   * Clears the canvas.
   * @param {number} w
   * @param {number} h
   */
  clear(w, h) {
    this.#ctx.clearRect(0, 0, w, h);
  }

  /**
   * Draws `meta` on a w x h canvas. At alpha 1 (this frame's own tracks) the trails advance; below 1 the last
   * tracks are drawn dimmed, for a frame without its own.
   * @param {FrameMeta} meta
   * @param {number} w
   * @param {number} h
   * @param {number} alpha
   */
  draw(meta, w, h, alpha) {
    const sx = w / meta.w;
    const sy = h / meta.h;
    const ctx = this.#ctx;
    const layers = this.#layers;
    ctx.globalAlpha = alpha;
    ctx.lineWidth = Math.max(2, w / 400);
    ctx.font = `${Math.max(12, Math.round(h / 40))}px system-ui, sans-serif`;
    if (alpha === 1) this.#updateTrails(meta);
    if (layers.masks && meta.masks) for (const m of meta.masks) this.#drawMask(m, sx, sy);
    for (const t of meta.tracks) {
      const colour = colourOf(t.id);
      const [x1, y1, x2, y2] = t.b;
      ctx.strokeStyle = colour;
      ctx.fillStyle = colour;
      if (layers.trails) {
        const [first, ...rest] = this.#trails.get(t.id) ?? [];
        if (first && rest.length > 0) {
          ctx.beginPath();
          ctx.moveTo(first[0] * sx, first[1] * sy);
          for (const [x, y] of rest) ctx.lineTo(x * sx, y * sy);
          ctx.stroke();
        }
      }
      if (layers.boxes) ctx.strokeRect(x1 * sx, y1 * sy, (x2 - x1) * sx, (y2 - y1) * sy);
      const text = [layers.ids ? `#${t.id}` : '', layers.labels ? `${t.l} ${Math.round(t.s * 100)}%` : '']
        .filter(Boolean)
        .join(' ');
      const th = parseInt(ctx.font, 10) + 4;
      const top = Math.max(th, y1 * sy); // the label's baseline edge: above the box, or inside at the frame's top
      if (text) {
        ctx.fillRect(x1 * sx, top - th, ctx.measureText(text).width + 6, th);
        ctx.fillStyle = '#000';
        ctx.fillText(text, x1 * sx + 3, top - 4);
      }
      // The crop's top label (stage classify): a second line under the box label.
      const k = layers.classes && Array.isArray(t.k) ? t.k[0] : undefined;
      if (k) {
        const line = `${k.l} ${Math.round(k.s * 100)}%`;
        ctx.fillStyle = 'rgba(0, 0, 0, 0.65)';
        ctx.fillRect(x1 * sx, top, ctx.measureText(line).width + 6, th);
        ctx.fillStyle = colour;
        ctx.fillText(line, x1 * sx + 3, top + th - 4);
      }
    }
    ctx.globalAlpha = 1;
  }

  /**
   * A mask: row-major run lengths over a w x h grid covering its box, zeros first; drawn as horizontal spans.
   * @param {MetaMask} m
   * @param {number} sx
   * @param {number} sy
   */
  #drawMask(m, sx, sy) {
    if (!Array.isArray(m.counts) || !m.w || !m.h || !m.box) return;
    const ctx = this.#ctx;
    const [x1, y1, x2, y2] = m.box;
    const cw = ((x2 - x1) / m.w) * sx;
    const ch = ((y2 - y1) / m.h) * sy;
    ctx.fillStyle = colourOf(m.id);
    const alpha = ctx.globalAlpha;
    ctx.globalAlpha = alpha * 0.4;
    // Each inside run as horizontal spans, one per grid row it touches.
    let i = 0;
    m.counts.forEach((run, k) => {
      for (let j = i, left = k % 2 === 1 ? run : 0; left > 0; ) {
        const col = j % m.w;
        const len = Math.min(left, m.w - col);
        ctx.fillRect(x1 * sx + col * cw, y1 * sy + Math.floor(j / m.w) * ch, len * cw + 0.5, ch + 0.5);
        j += len;
        left -= len;
      }
      i += run;
    });
    ctx.globalAlpha = alpha;
  }

  /**
   * Adds each track's bottom-centre to its trail; forgets the trails of tracks no longer there.
   * @param {FrameMeta} meta
   */
  #updateTrails(meta) {
    const seen = new Set();
    for (const t of meta.tracks) {
      seen.add(t.id);
      const trail = this.#trails.get(t.id) ?? [];
      trail.push([(t.b[0] + t.b[2]) / 2, t.b[3]]);
      if (trail.length > TRAIL_LEN) trail.shift();
      this.#trails.set(t.id, trail);
    }
    for (const id of this.#trails.keys()) if (!seen.has(id)) this.#trails.delete(id);
  }
}

/**
 * The smallest track of `meta` whose box holds the click at (clientX, clientY) on `canvas`, which shows the frame
 * with object-fit: contain.
 * @param {HTMLCanvasElement} canvas
 * @param {FrameMeta} meta
 * @param {number} clientX
 * @param {number} clientY
 * @returns {MetaTrack | undefined}
 */
export function trackAt(canvas, meta, clientX, clientY) {
  const rect = canvas.getBoundingClientRect();
  // object-fit: contain: find the drawn image inside the element box.
  const scale = Math.min(rect.width / canvas.width, rect.height / canvas.height);
  const ox = (rect.width - canvas.width * scale) / 2;
  const oy = (rect.height - canvas.height * scale) / 2;
  const x = ((clientX - rect.left - ox) / scale) * (meta.w / canvas.width);
  const y = ((clientY - rect.top - oy) / scale) * (meta.h / canvas.height);
  return meta.tracks
    .filter((t) => x >= t.b[0] && x <= t.b[2] && y >= t.b[1] && y <= t.b[3])
    .sort((a, b) => (a.b[2] - a.b[0]) * (a.b[3] - a.b[1]) - (b.b[2] - b.b[0]) * (b.b[3] - b.b[1]))[0];
}
