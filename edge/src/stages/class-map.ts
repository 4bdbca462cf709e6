/** Class maps on the wire: run-length coding of a segmentation's per-pixel classes (shared ClassMap). */
import type { ClassMap } from '@sightline/shared';

/**
 * The `region` of a `width`-wide class map as a ClassMap: row-major runs as [classId, length] pairs. The region
 * is the part of the map that holds the image, so the grid covers the whole source frame.
 */
export function encodeClassMap(
  classMap: Uint8Array,
  width: number,
  region: { x: number; y: number; width: number; height: number },
): ClassMap {
  if (
    region.width <= 0 ||
    region.height <= 0 ||
    region.x < 0 ||
    region.y < 0 ||
    region.x + region.width > width
  ) {
    throw new RangeError(
      `Expected a region inside the ${width}-wide map but received ${JSON.stringify(region)}`,
    );
  }
  if ((region.y + region.height) * width > classMap.length) {
    throw new RangeError(
      `Expected a region inside the ${classMap.length / width}-tall map but received ${JSON.stringify(region)}`,
    );
  }
  const runs: number[] = [];
  let cls = -1;
  let length = 0;
  for (let y = region.y; y < region.y + region.height; y++) {
    const row = y * width;
    for (let x = region.x; x < region.x + region.width; x++) {
      const c = classMap[row + x]!;
      if (c === cls) length++;
      else {
        if (length) runs.push(cls, length);
        cls = c;
        length = 1;
      }
    }
  }
  if (length) runs.push(cls, length);
  return { w: region.width, h: region.height, runs };
}

/** The class map a ClassMap codes, `w` x `h` row-major. Throws RangeError when the runs do not fill it exactly. */
export function decodeClassMap(map: ClassMap): Uint8Array {
  const out = new Uint8Array(map.w * map.h);
  let at = 0;
  for (let i = 0; i + 1 < map.runs.length; i += 2) {
    const cls = map.runs[i]!;
    const length = map.runs[i + 1]!;
    if (!(length > 0) || at + length > out.length) {
      throw new RangeError(`Expected runs filling ${map.w}x${map.h} but run ${i / 2} overflows it`);
    }
    out.fill(cls, at, at + length);
    at += length;
  }
  if (at !== out.length || map.runs.length % 2 !== 0) {
    throw new RangeError(`Expected runs filling ${map.w}x${map.h} but they cover ${at} pixels`);
  }
  return out;
}
