/** Fit a frame size inside a box, preserving aspect ratio and never upscaling. */

/** A width x height box in pixels. */
export interface Size {
  width: number;
  height: number;
}

/** Largest size with the source's aspect ratio inside `box` (no larger than the source; each side at least 1 px). */
export function fitInside(source: Size, box: Size | undefined): Size {
  if (!box) return { width: source.width, height: source.height };
  const scale = Math.min(box.width / source.width, box.height / source.height, 1);
  if (scale >= 1) return { width: source.width, height: source.height };
  return {
    width: Math.max(1, Math.min(box.width, Math.round(source.width * scale))),
    height: Math.max(1, Math.min(box.height, Math.round(source.height * scale))),
  };
}
