/** Semantic-segmentation decoder: output [batch, H, W, classes] logits (NHWC, DeepLab) -> class map + class areas. */
import type { AdapterType, ClassArea, ModelEntry, SegmentationSummary } from '@sightline/shared';
import { ModelError } from '@sightline/shared/errors';
import type { Geometry } from '../preprocess/geometry.ts';
import { checkBatchIndex, getOutput } from './common.ts';
import type { OutputMap } from './types.ts';

/** The adapters that label every pixel: what createSegmentationAdapter accepts. */
export const SEGMENTATION_ADAPTERS: readonly string[] = ['deeplab'];

/** A rectangle of class-map pixels. */
export interface MapRegion {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** One frame's segmentation: the per-pixel classes at the model's output resolution, and their areas. */
export interface SegmentationResult extends SegmentationSummary {
  /** Class id (argmax of the logits) per map pixel, row-major, `width` x `height`. */
  classMap: Uint8Array;
  width: number;
  height: number;
  /** The map pixels that hold the image; the rest is letterbox padding. `classes` counts only these. */
  region: MapRegion;
  /** The preprocessing geometry (model-input pixels <-> source pixels) the map was made under. */
  geometry: Geometry;
}

/** Decodes a per-pixel class-logit map. */
export class SegmentationAdapter {
  readonly type: AdapterType = 'deeplab';
  readonly #outputName: string;
  readonly #modelId: string;
  readonly #labels: readonly string[];

  constructor(entry: Pick<ModelEntry, 'id' | 'outputs'>, labels: readonly string[]) {
    this.#modelId = entry.id;
    this.#outputName = entry.outputs[0]!.name;
    this.#labels = labels;
  }

  /** The class map of batch row `batchIndex` and each present class's share of the image, largest first. */
  decode(outputs: OutputMap, batchIndex: number, geometry: Geometry): SegmentationResult {
    const t = getOutput(outputs, this.#outputName, 4, this.#modelId);
    const [batch, height, width, classes] = t.dims as [number, number, number, number];
    const want = this.#labels.length || classes;
    if (classes !== want || classes > 256) {
      throw new ModelError(
        'MODEL_INVALID',
        `Model ${this.#modelId} output "${this.#outputName}" has dims [${t.dims.join(',')}]; expected NHWC ` +
          `[${batch},height,width,${this.#labels.length || 'classes <= 256'}] (one logit per class per pixel)`,
      );
    }
    checkBatchIndex(batchIndex, batch);
    const region = imageRegion(geometry, width, height);
    if (region.width <= 0 || region.height <= 0) {
      throw new RangeError(
        `Expected a geometry whose image overlaps the ${geometry.inputWidth}x${geometry.inputHeight} input but ` +
          `received offset (${geometry.offsetX}, ${geometry.offsetY}) and scale (${geometry.scaleX}, ${geometry.scaleY})`,
      );
    }
    const data = t.data;
    const map = new Uint8Array(width * height);
    const counts = new Float64Array(classes);
    const x1 = region.x + region.width;
    const y1 = region.y + region.height;
    let o = batchIndex * width * height * classes;
    for (let y = 0, p = 0; y < height; y++) {
      const rowIn = y >= region.y && y < y1;
      for (let x = 0; x < width; x++, p++, o += classes) {
        let best = 0;
        let bestV = data[o]!;
        for (let c = 1; c < classes; c++) {
          const v = data[o + c]!;
          if (v > bestV) {
            bestV = v;
            best = c;
          }
        }
        map[p] = best;
        if (rowIn && x >= region.x && x < x1) counts[best]!++;
      }
    }
    const total = region.width * region.height;
    const areas: ClassArea[] = [];
    counts.forEach((n, classId) => {
      if (n > 0)
        areas.push({ classId, label: this.#labels[classId] ?? `class${classId}`, fraction: n / total });
    });
    areas.sort((a, b) => b.fraction - a.fraction || a.classId - b.classId);
    return { classMap: map, width, height, region, geometry, classes: areas };
  }
}

/** A segmentation decoder for `entry` (adapter "deeplab") using `labels` (e.g. voc21) for class names. */
export function createSegmentationAdapter(
  entry: Pick<ModelEntry, 'id' | 'adapter' | 'outputs'>,
  labels: readonly string[],
): SegmentationAdapter {
  if (entry.adapter !== 'deeplab') {
    throw new ModelError(
      'MODEL_INVALID',
      `Model ${entry.id} uses adapter "${entry.adapter}", which is not a segmentation adapter (${SEGMENTATION_ADAPTERS.join(', ')})`,
    );
  }
  return new SegmentationAdapter(entry, labels);
}

/**
 * The pixels of a `mapWidth` x `mapHeight` map over the model input that hold the image: those whose centre lies
 * inside the source frame's footprint (the whole map for stretch and crop, less the padding for letterbox).
 */
export function imageRegion(g: Geometry, mapWidth: number, mapHeight: number): MapRegion {
  const [x, x1] = span(g.offsetX, g.sourceWidth * g.scaleX, g.inputWidth, mapWidth);
  const [y, y1] = span(g.offsetY, g.sourceHeight * g.scaleY, g.inputHeight, mapHeight);
  return { x, y, width: Math.max(0, x1 - x), height: Math.max(0, y1 - y) };
}

/** First and one-past-last map index whose pixel centre lies in [offset, offset + size) of the input's axis. */
function span(offset: number, size: number, inputLen: number, mapLen: number): [number, number] {
  const k = mapLen / inputLen; // map pixels per input pixel
  const lo = Math.max(0, offset) * k;
  const hi = Math.min(inputLen, offset + size) * k;
  // Centre (i + 0.5) in [lo, hi)  <=>  ceil(lo - 0.5) <= i < ceil(hi - 0.5).
  return [Math.max(0, Math.ceil(lo - 0.5)), Math.min(mapLen, Math.ceil(hi - 0.5))];
}

/**
 * The class map resampled (nearest) onto a `width` x `height` frame that stands for the source frame
 * (default: the source frame's own size), row-major. Every frame pixel gets the class of the map pixel under it.
 */
export function classMapToSource(
  result: SegmentationResult,
  width = result.geometry.sourceWidth,
  height = result.geometry.sourceHeight,
): Uint8Array {
  for (const [k, v] of [
    ['width', width],
    ['height', height],
  ] as const) {
    if (!Number.isInteger(v) || v <= 0) {
      throw new RangeError(`Expected a positive integer for ${k} but received ${v} of type ${typeof v}`);
    }
  }
  const g = result.geometry;
  const r = result.region;
  const cols = axisLookup(
    width,
    g.sourceWidth,
    g.scaleX,
    g.offsetX,
    result.width / g.inputWidth,
    r.x,
    r.width,
  );
  const rows = axisLookup(
    height,
    g.sourceHeight,
    g.scaleY,
    g.offsetY,
    result.height / g.inputHeight,
    r.y,
    r.height,
  );
  const out = new Uint8Array(width * height);
  for (let y = 0, o = 0; y < height; y++) {
    const row = rows[y]! * result.width;
    for (let x = 0; x < width; x++, o++) out[o] = result.classMap[row + cols[x]!]!;
  }
  return out;
}

/** The class id at source-frame pixel (x, y) (the map pixel under that pixel's centre, kept inside the image). */
export function classAtSource(result: SegmentationResult, x: number, y: number): number {
  const g = result.geometry;
  const r = result.region;
  const mx = toMapIndex(x + 0.5, g.scaleX, g.offsetX, result.width / g.inputWidth, r.x, r.width);
  const my = toMapIndex(y + 0.5, g.scaleY, g.offsetY, result.height / g.inputHeight, r.y, r.height);
  return result.classMap[my * result.width + mx]!;
}

function toMapIndex(src: number, scale: number, offset: number, k: number, lo: number, len: number): number {
  const i = Math.floor((src * scale + offset) * k);
  return Math.min(lo + len - 1, Math.max(lo, i));
}

/** Map index for each of `n` frame pixels along one axis of a frame `n` long that stands for `sourceLen`. */
function axisLookup(
  n: number,
  sourceLen: number,
  scale: number,
  offset: number,
  k: number,
  lo: number,
  len: number,
): Int32Array {
  const out = new Int32Array(n);
  const step = sourceLen / n;
  for (let i = 0; i < n; i++) out[i] = toMapIndex((i + 0.5) * step, scale, offset, k, lo, len);
  return out;
}
