/**
 * The model stages' frame-wide layers of one tile: the semantic segmentation class map (the "segmentation" layer,
 * under the boxes) and the frame's labels (the "classes" layer, top-left corner). Both come on some frames only
 * (`segment.every`, `classify.every`), so the tile keeps the last of each it displayed and draws it until a newer
 * one is displayed, or for HOLD_MS without one.
 */
/** @import { FrameMeta, Layers, MetaLabel, MetaSegmentation, ShownSegmentation } from './types.js' */

/** How long (ms) a segmentation or frame labels stay drawn without a newer one. */
export const HOLD_MS = 3000;
/** Opacity of the class map's cells. */
const SEG_ALPHA = 0.45;

/**
 * A class id's colour, the same for every frame and stream: PASCAL VOC's colour map (bits of the id spread over
 * r, g, b), so DeepLab's classes get their usual colours. Class 0 (background) is never drawn.
 * @param {number} id
 * @returns {[number, number, number]}
 */
export function classColour(id) {
  let r = 0;
  let g = 0;
  let b = 0;
  for (let bit = 7, c = id; c > 0 && bit >= 0; bit--, c >>= 3) {
    r |= (c & 1) << bit;
    g |= ((c >> 1) & 1) << bit;
    b |= ((c >> 2) & 1) << bit;
  }
  return [r, g, b];
}

/**
 * A held segmentation: as received, the size of its frame, when it was first displayed, and its class map
 * rendered once at the map's own size (drawn scaled on every frame: one drawImage rather than a fillRect per span).
 * @typedef {object} HeldSegmentation
 * @property {MetaSegmentation} seg
 * @property {number} w the frame's width (pixels)
 * @property {number} h the frame's height
 * @property {number} at performance.now() when its frame was displayed
 * @property {OffscreenCanvas | undefined} image the class map, background transparent
 */

export class StageLayers {
  /** @type {CanvasRenderingContext2D} */
  #ctx;
  /** @type {HTMLElement} */
  #legend;
  /** @type {Layers} */
  #layers;
  /** @type {HeldSegmentation | undefined} */
  #seg;
  /** @type {{ cls: MetaLabel[], at: number } | undefined} */
  #cls;

  /**
   * @param {HTMLElement} tile the tile's element: its overlay `canvas` and its `.legend` line
   * @param {Layers} layers read on each draw
   */
  constructor(tile, layers) {
    const ctx = tile.querySelector('canvas')?.getContext('2d');
    const legend = tile.querySelector('.legend');
    if (!ctx || !(legend instanceof HTMLElement))
      throw new Error('viewer: a tile without its canvas or legend');
    this.#ctx = ctx;
    this.#legend = legend;
    this.#layers = layers;
  }

  /**
   * Takes the segmentation and frame labels of a frame being displayed, if it has them.
   * @param {FrameMeta} meta
   * @param {number} now performance.now()
   */
  #take(meta, now) {
    if (meta.seg && Array.isArray(meta.seg.classes)) {
      this.#seg = { seg: meta.seg, w: meta.w, h: meta.h, at: now, image: classMapImage(meta.seg) };
    }
    if (Array.isArray(meta.cls) && meta.cls.length) this.#cls = { cls: meta.cls, at: now };
  }

  /**
   * The segmentation drawn now, if any (none once HOLD_MS passed without a newer one).
   * @param {number} now performance.now()
   * @returns {HeldSegmentation | undefined}
   */
  segmentation(now) {
    return this.#seg && now - this.#seg.at <= HOLD_MS ? this.#seg : undefined;
  }

  /**
   * The segmentation drawn now as tests see it: what came, its frame's size, its age.
   * @param {number} now performance.now()
   * @returns {ShownSegmentation | undefined}
   */
  shown(now) {
    const held = this.segmentation(now);
    return held && { seg: held.seg, w: held.w, h: held.h, ageMs: now - held.at };
  }

  /**
   * The frame labels drawn now, if any.
   * @param {number} now performance.now()
   * @returns {MetaLabel[] | undefined}
   */
  frameLabels(now) {
    return this.#cls && now - this.#cls.at <= HOLD_MS ? this.#cls.cls : undefined;
  }

  /**
   * Takes the segmentation and labels of the frame displayed now (`meta`, when it has its metadata), then draws the
   * class map over the whole w x h canvas, translucent (the segmentation layer): before the boxes.
   * @param {FrameMeta | undefined} meta
   * @param {number} w
   * @param {number} h
   * @param {number} now performance.now()
   */
  drawUnder(meta, w, h, now) {
    if (meta && !meta.skipped) this.#take(meta, now);
    const image = this.#layers.segmentation ? this.segmentation(now)?.image : undefined;
    if (!image) return;
    const ctx = this.#ctx;
    ctx.save();
    ctx.globalAlpha = SEG_ALPHA;
    ctx.imageSmoothingEnabled = false; // crisp cells, and no half-transparent fringe over the background
    ctx.drawImage(image, 0, 0, w, h);
    ctx.restore();
  }

  /**
   * The frame's top labels in the top-left corner (the classes layer); drawn after the boxes.
   * @param {number} w
   * @param {number} h
   * @param {number} now
   */
  drawOver(w, h, now) {
    const cls = this.#layers.classes ? this.frameLabels(now) : undefined;
    if (!cls) return;
    const ctx = this.#ctx;
    const size = Math.max(12, Math.round(h / 40));
    ctx.save();
    ctx.font = `${size}px system-ui, sans-serif`;
    cls.forEach((c, i) => {
      const text = `${c.l} ${Math.round(c.s * 100)}%`;
      const y = 4 + i * (size + 6);
      ctx.fillStyle = 'rgba(0, 0, 0, 0.6)';
      ctx.fillRect(4, y, Math.min(w - 8, ctx.measureText(text).width + 8), size + 4);
      ctx.fillStyle = '#fff';
      ctx.fillText(text, 8, y + size, w - 16);
    });
    ctx.restore();
  }

  /**
   * The legend of the held segmentation's classes, largest first (background without a swatch), for the tile's
   * legend line; built with DOM calls (the page's CSP refuses inline style attributes).
   * @param {number} now
   */
  legend(now) {
    const el = this.#legend;
    const held = this.#layers.segmentation ? this.segmentation(now) : undefined;
    el.replaceChildren();
    el.hidden = !held;
    if (!held) return;
    for (const c of held.seg.classes.filter((x) => x.f >= 0.0005).slice(0, 8)) {
      const item = document.createElement('span');
      const swatch = document.createElement('i');
      if (c.c !== 0) swatch.style.background = `rgb(${classColour(c.c).join(' ')})`;
      item.append(swatch, `${c.l} ${(c.f * 100).toFixed(1)}%`);
      el.append(item);
    }
  }
}

/**
 * A segmentation's class map as an image of w x h pixels, one per cell, each class in its colour, background and
 * unknown ids transparent; undefined without a usable map.
 * @param {MetaSegmentation} seg
 * @returns {OffscreenCanvas | undefined}
 */
function classMapImage(seg) {
  const map = seg.map;
  if (!map || !Array.isArray(map.runs) || !(map.w > 0) || !(map.h > 0) || map.w * map.h > 1e6)
    return undefined;
  const image = new OffscreenCanvas(map.w, map.h);
  const ctx = image.getContext('2d');
  if (!ctx) return undefined;
  const data = ctx.createImageData(map.w, map.h);
  const px = new Uint32Array(data.data.buffer); // RGBA bytes: little-endian 0xAABBGGRR
  /** @type {Map<number, number>} */
  const packed = new Map();
  const cells = map.w * map.h;
  for (let i = 0, at = 0; i + 1 < map.runs.length && at < cells; i += 2) {
    const id = map.runs[i] ?? 0;
    const end = Math.min(cells, at + (map.runs[i + 1] ?? 0));
    if (id !== 0) {
      let colour = packed.get(id);
      if (colour === undefined) {
        const [r, g, b] = classColour(id);
        colour = (0xff000000 | (b << 16) | (g << 8) | r) >>> 0;
        packed.set(id, colour);
      }
      px.fill(colour, at, end);
    }
    at = end;
  }
  ctx.putImageData(data, 0, 0);
  return image;
}
